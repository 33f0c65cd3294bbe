"""Build one organization's core.signals rows from every source."""

from __future__ import annotations

import pandas as pd

from devsignal_pipelines.lib.stores.tables import CORE_SIGNALS
from devsignal_pipelines.lib.stores.warehouse import Warehouse

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


def tweet_signals(warehouse: Warehouse, organization_id: str) -> pd.DataFrame:
    sql = _TWEET_SIGNALS_SQL.format(json_object=_JSON_OBJECT[warehouse.dialect])
    return warehouse.read_df(sql, {"o": organization_id})


def stackoverflow_signals(warehouse: Warehouse, organization_id: str) -> pd.DataFrame:
    sql = _STACKOVERFLOW_SIGNALS_SQL.format(json_object=_JSON_OBJECT[warehouse.dialect])
    return warehouse.read_df(sql, {"o": organization_id})


def product_signals(product: pd.DataFrame) -> pd.DataFrame:
    """First-party events recorded in the control DB (github_star, docs_view, signup, api_call, ...)."""
    return pd.DataFrame(
        {
            "signal_id": "product:" + product["id"].astype(str),
            "organization_id": product["organization_id"],
            "source": "product",
            "signal_type": product["signal_type"],
            "occurred_at": product["occurred_at"],
            "contact_id": product["contact_id"],
            "company_id": product["company_id"],
            "sentiment": None,
            "sentiment_score": None,
            "url": None,
            "metadata": product["properties"],
            "ingested_at": product["recorded_at"],
        },
        columns=list(CORE_SIGNALS.column_names),
    )


def combine_signals(*frames: pd.DataFrame) -> pd.DataFrame:
    non_empty = [f for f in frames if not f.empty]
    if not non_empty:
        return pd.DataFrame(columns=list(CORE_SIGNALS.column_names))
    return pd.concat(non_empty, ignore_index=True).sort_values(
        ["occurred_at", "signal_id"], ignore_index=True
    )
