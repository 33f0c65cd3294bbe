"""Build one organization's core.signals rows from every source, inside the warehouse.

Each source is one SELECT over its raw tables and core.identity_links; `build_signals` replaces
the organization's rows with their UNION ALL in one INSERT ... SELECT, so no row leaves the
warehouse (a million product events are rewritten in seconds, not round-tripped through Python).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from devsignal_pipelines.lib.identity.sql import quote, url_host_sql
from devsignal_pipelines.lib.sources.events.mapping import DOCS_HOST_PREFIX, EventSettings
from devsignal_pipelines.lib.stores.tables import CORE_SIGNALS
from devsignal_pipelines.lib.stores.warehouse import WarehouseTransaction

# json_object (DuckDB) and jsonb_build_object (PostgreSQL) take the same alternating key/value list.
_JSON_OBJECT = {"duckdb": "json_object", "postgres": "jsonb_build_object"}

_TWEET_SIGNALS_SQL = """
SELECT
    'twitter:' || t.tweet_id AS signal_id,
    t.organization_id,
    'twitter' AS source,
    'twitter_' || t.tweet_type AS signal_type,
    t.created_at AS occurred_at,
    l.contact_id,
    l.company_id,
    t.sentiment,
    t.sentiment_score,
    t.url,
    {json_object}(
        'text', t.text, 'tweet_type', t.tweet_type, 'author_id', t.author_id, 'username', u.username,
        'keywords', t.matched_keywords, 'lang', t.lang, 'like_count', t.like_count,
        'retweet_count', t.retweet_count, 'reply_count', t.reply_count, 'identity_method', l.method
    ) AS metadata,
    t.ingested_at
FROM raw.tweets t
LEFT JOIN raw.twitter_users u
    ON u.organization_id = t.organization_id AND u.user_id = t.author_id
LEFT JOIN core.identity_links l
    ON l.organization_id = t.organization_id AND l.platform = 'twitter' AND l.platform_user_id = t.author_id
WHERE t.organization_id = :o
"""


# Questions and answers; the owner is linked by permanent user_id. Deleted owners (no user_id) stay
# as anonymous signals without a contact.
_STACKOVERFLOW_SIGNALS_SQL = """
SELECT
    'stackoverflow:question:' || CAST(q.question_id AS TEXT) AS signal_id,
    q.organization_id,
    'stackoverflow' AS source,
    'stackoverflow_question' AS signal_type,
    q.creation_date AS occurred_at,
    l.contact_id,
    l.company_id,
    CAST(NULL AS TEXT) AS sentiment,
    CAST(NULL AS DOUBLE PRECISION) AS sentiment_score,
    q.link AS url,
    {json_object}(
        'title', q.title, 'url', q.link, 'tags', q.tags, 'matched_tags', q.matched_tags, 'score', q.score,
        'view_count', q.view_count, 'answer_count', q.answer_count, 'is_answered', q.is_answered,
        'is_accepted', CAST(NULL AS BOOLEAN), 'question_id', q.question_id,
        'owner_display_name', q.owner_display_name, 'owner_user_type', q.owner_user_type,
        'identity_method', l.method
    ) AS metadata,
    q.ingested_at
FROM raw.so_questions q
LEFT JOIN core.identity_links l
    ON l.organization_id = q.organization_id AND l.platform = 'stackoverflow'
    AND l.platform_user_id = CAST(q.owner_user_id AS TEXT)
WHERE q.organization_id = :o
UNION ALL
SELECT
    'stackoverflow:answer:' || CAST(a.answer_id AS TEXT),
    a.organization_id,
    'stackoverflow',
    'stackoverflow_answer',
    a.creation_date,
    l.contact_id,
    l.company_id,
    CAST(NULL AS TEXT),
    CAST(NULL AS DOUBLE PRECISION),
    a.link,
    {json_object}(
        'title', q.title, 'url', a.link, 'tags', q.tags, 'matched_tags', q.matched_tags, 'score', a.score,
        'view_count', q.view_count, 'answer_count', q.answer_count, 'is_answered', q.is_answered,
        'is_accepted', a.is_accepted, 'question_id', a.question_id,
        'owner_display_name', a.owner_display_name, 'owner_user_type', a.owner_user_type,
        'identity_method', l.method
    ),
    a.ingested_at
FROM raw.so_answers a
JOIN raw.so_questions q ON q.organization_id = a.organization_id AND q.question_id = a.question_id
LEFT JOIN core.identity_links l
    ON l.organization_id = a.organization_id AND l.platform = 'stackoverflow'
    AND l.platform_user_id = CAST(a.owner_user_id AS TEXT)
WHERE a.organization_id = :o
"""


# GitHub: stars, forks, issues and pull requests, comments, by someone outside the organization:
# not a bot (type Bot, or a login ending in [bot]), not one of its members (the logins the
# connector lists, and anyone GitHub calls OWNER or MEMBER of the repositories).
_GITHUB_SIGNALS_SQL = """
WITH insiders AS (
    SELECT author_id AS user_id FROM raw.github_issues
    WHERE organization_id = :o AND author_association IN ('OWNER', 'MEMBER')
    UNION
    SELECT author_id FROM raw.github_comments
    WHERE organization_id = :o AND author_association IN ('OWNER', 'MEMBER')
),
activity AS (
    SELECT 'github:star:' || CAST(s.repo_id AS TEXT) || ':' || CAST(s.user_id AS TEXT) AS signal_id,
           s.organization_id, 'github_star' AS signal_type, s.starred_at AS occurred_at,
           s.repo_id, s.user_id, s.login, s.user_type, r.html_url || '/stargazers' AS url,
           CAST(NULL AS TEXT) AS title, CAST(NULL AS TEXT) AS state, CAST(NULL AS BIGINT) AS number,
           CAST(NULL AS TEXT) AS kind, s.ingested_at
    FROM raw.github_stargazers s
    JOIN raw.github_repositories r ON r.organization_id = s.organization_id AND r.repo_id = s.repo_id
    WHERE s.organization_id = :o
    UNION ALL
    SELECT 'github:fork:' || CAST(f.fork_id AS TEXT), f.organization_id, 'github_fork', f.created_at,
           f.repo_id, f.owner_id, f.owner_login, f.owner_type, f.html_url, f.full_name,
           CAST(NULL AS TEXT), CAST(NULL AS BIGINT), CAST(NULL AS TEXT), f.ingested_at
    FROM raw.github_forks f WHERE f.organization_id = :o
    UNION ALL
    SELECT 'github:issue:' || CAST(i.issue_id AS TEXT), i.organization_id,
           CASE WHEN i.is_pull_request THEN 'github_pull_request' ELSE 'github_issue' END,
           i.created_at, i.repo_id, i.author_id, i.author_login, i.author_type, i.html_url, i.title,
           i.state, i.number, CAST(NULL AS TEXT), i.ingested_at
    FROM raw.github_issues i WHERE i.organization_id = :o
    UNION ALL
    SELECT 'github:comment:' || c.kind || ':' || CAST(c.comment_id AS TEXT), c.organization_id,
           'github_comment', c.created_at, c.repo_id, c.author_id, c.author_login, c.author_type,
           c.html_url, CAST(NULL AS TEXT), CAST(NULL AS TEXT), c.issue_number, c.kind, c.ingested_at
    FROM raw.github_comments c WHERE c.organization_id = :o
)
SELECT
    a.signal_id,
    a.organization_id,
    'github' AS source,
    a.signal_type,
    a.occurred_at,
    k.contact_id,
    k.company_id,
    CAST(NULL AS TEXT) AS sentiment,
    CAST(NULL AS DOUBLE PRECISION) AS sentiment_score,
    a.url,
    {json_object}(
        'repository', r.full_name, 'login', a.login, 'user_id', a.user_id, 'title', a.title,
        'state', a.state, 'number', a.number, 'kind', a.kind, 'url', a.url,
        'identity_method', k.method
    ) AS metadata,
    a.ingested_at
FROM activity a
JOIN raw.github_repositories r ON r.organization_id = a.organization_id AND r.repo_id = a.repo_id
LEFT JOIN core.identity_links k
    ON k.organization_id = a.organization_id AND k.platform = 'github'
    AND k.platform_user_id = CAST(a.user_id AS TEXT)
WHERE a.user_id IS NOT NULL
  AND NOT (a.user_type = 'Bot' OR a.login LIKE '%[bot]')
  AND a.user_id NOT IN (SELECT user_id FROM insiders WHERE user_id IS NOT NULL)
  AND lower(a.login) NOT IN ({members})
"""


# Segment track / page messages (mapping.py decides which, and their signal_type). The person is the
# userId, or for an anonymous message the user its anonymousId was first seen with (an identify or
# track carrying both, or an alias); anonymous messages of a device never identified stay signals
# without a contact.
_PRODUCT_SIGNALS_SQL = """
WITH aliases AS (
    SELECT DISTINCT ON (anonymous_id) anonymous_id, user_id
    FROM (
        SELECT anonymous_id, user_id, occurred_at, message_id FROM raw.product_events
        WHERE organization_id = :o AND anonymous_id IS NOT NULL AND user_id IS NOT NULL
        UNION ALL
        SELECT previous_id, user_id, occurred_at, message_id FROM raw.product_events
        WHERE organization_id = :o AND type = 'alias' AND previous_id IS NOT NULL AND user_id IS NOT NULL
    ) a
    ORDER BY anonymous_id, occurred_at, message_id
),
mapping (event_key, signal_type) AS (VALUES {mapping}),
located AS (
    SELECT e.*, COALESCE(e.user_id, a.user_id) AS person,
           COALESCE(e.properties ->> 'url', e.context -> 'page' ->> 'url') AS page_url
    FROM raw.product_events e
    LEFT JOIN aliases a ON e.user_id IS NULL AND a.anonymous_id = e.anonymous_id
    WHERE e.organization_id = :o AND e.type IN ('track', 'page')
),
typed AS (
    SELECT l.*,
        CASE WHEN l.type = 'track' THEN COALESCE(m.signal_type, {snake_case})
             WHEN {is_docs} THEN 'docs_view' END AS signal_type
    FROM (SELECT *, {host} AS page_host,
                 COALESCE(properties ->> 'path', context -> 'page' ->> 'path',
                          regexp_replace(page_url, '^[a-zA-Z][a-zA-Z0-9+.-]*://[^/?#]*', '')) AS page_path
          FROM located) l
    LEFT JOIN mapping m ON l.type = 'track' AND m.event_key = {event_key}
)
SELECT
    'product:' || t.message_id AS signal_id,
    t.organization_id,
    'product' AS source,
    t.signal_type,
    t.occurred_at,
    k.contact_id,
    k.company_id,
    CAST(NULL AS TEXT) AS sentiment,
    CAST(NULL AS DOUBLE PRECISION) AS sentiment_score,
    t.page_url AS url,
    {json_object}(
        'type', t.type, 'event', t.event, 'name', t.name, 'user_id', t.person,
        'anonymous_id', t.anonymous_id, 'properties', t.properties, 'identity_method', k.method
    ) AS metadata,
    t.received_at AS ingested_at
FROM typed t
LEFT JOIN core.identity_links k
    ON k.organization_id = t.organization_id AND k.platform = 'product' AND k.platform_user_id = t.person
WHERE t.signal_type IS NOT NULL AND t.signal_type <> ''
"""


def _event_key_sql(column: str) -> str:
    """mapping.event_key in SQL: lower case, runs of anything but letters and digits as one space."""
    return f"trim(regexp_replace(lower({column}), '[^a-z0-9]+', ' ', 'g'))"


def product_signals_sql(dialect: str, settings: EventSettings) -> str:
    """The organization's Segment track / page messages that are signals (see events/mapping.py)."""
    mapping = ", ".join(
        f"({quote(key)}, {quote(value)})" for key, value in sorted(settings.signal_types().items())
    )
    snake_case = (
        "regexp_replace(regexp_replace(lower(l.event), '[^a-z0-9]+', '_', 'g'), '^_+|_+$', '', 'g')"
    )
    docs_host = (
        f"l.page_host IN ({', '.join(quote(h) for h in settings.docs_hosts)})"
        if settings.docs_hosts
        else f"l.page_host LIKE {quote(DOCS_HOST_PREFIX + '%')}"
    )
    docs_path = " OR ".join(
        f"l.page_path = {quote(p.rstrip('/') or '/')} OR l.page_path LIKE {quote(p.rstrip('/') + '/%')}"
        for p in settings.docs_paths
    )
    return _PRODUCT_SIGNALS_SQL.format(
        mapping=mapping,
        snake_case=snake_case,
        is_docs=f"({docs_host}{' OR ' + docs_path if docs_path else ''})",
        host=url_host_sql("page_url"),
        event_key=_event_key_sql("l.event"),
        json_object=_JSON_OBJECT[dialect],
    )


@dataclass(frozen=True)
class SignalSettings:
    """What the organization's connectors say about turning its raw data into signals."""

    events: EventSettings = field(default_factory=EventSettings)
    github_members: tuple[str, ...] = ()  # logins of the organization's own people


def github_signals_sql(dialect: str, members: tuple[str, ...]) -> str:
    logins = ", ".join(quote(login.lower()) for login in members) or "''"
    return _GITHUB_SIGNALS_SQL.format(json_object=_JSON_OBJECT[dialect], members=logins)


def signals_sql(dialect: str, settings: SignalSettings) -> str:
    """Every source's signals of organization `:o`, in core.signals' column order."""
    parts = [
        _TWEET_SIGNALS_SQL.format(json_object=_JSON_OBJECT[dialect]),
        _STACKOVERFLOW_SIGNALS_SQL.format(json_object=_JSON_OBJECT[dialect]),
        github_signals_sql(dialect, settings.github_members),
        product_signals_sql(dialect, settings.events),
    ]
    return "\nUNION ALL\n".join(f"SELECT * FROM ({part}) s" for part in parts)


def build_signals(tx: WarehouseTransaction, organization_id: str, settings: SignalSettings) -> int:
    """Replace the organization's core.signals rows; returns how many it has now."""
    columns = ", ".join(CORE_SIGNALS.column_names)
    tx.execute("DELETE FROM core.signals WHERE organization_id = :o", {"o": organization_id})
    tx.execute(
        f"INSERT INTO core.signals ({columns}) SELECT {columns} "
        f"FROM ({signals_sql(tx.dialect, settings)}) a",
        {"o": organization_id},
    )
    return int(
        tx.fetch_df(
            "SELECT count(*) AS n FROM core.signals WHERE organization_id = :o",
            {"o": organization_id},
        ).iat[0, 0]
    )
