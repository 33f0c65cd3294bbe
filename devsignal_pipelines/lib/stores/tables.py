"""The warehouse tables the Python assets own, declared once.

One declaration gives the DDL for both engines, the primary key the writers upsert on, and the
column schema the Dagster UI shows. Tables built by SQL models (dbt_like_sql/) are not here.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # imported by table_schema(): the stores and the CLI do without Dagster
    import dagster as dg

# Portable column types -> engine types.
_TYPES = {
    "text": {"duckdb": "VARCHAR", "postgres": "TEXT"},
    "bigint": {"duckdb": "BIGINT", "postgres": "BIGINT"},
    "double": {"duckdb": "DOUBLE", "postgres": "DOUBLE PRECISION"},
    "boolean": {"duckdb": "BOOLEAN", "postgres": "BOOLEAN"},
    "timestamptz": {"duckdb": "TIMESTAMPTZ", "postgres": "TIMESTAMPTZ"},
    "json": {"duckdb": "JSON", "postgres": "JSONB"},
}


@dataclass(frozen=True)
class Column:
    name: str
    type: str
    description: str
    nullable: bool = True

    def __post_init__(self) -> None:
        if self.type not in _TYPES:
            raise ValueError(
                f"column {self.name}: unknown type {self.type!r}; use one of {sorted(_TYPES)}"
            )


@dataclass(frozen=True)
class TableSpec:
    schema: str
    name: str
    description: str
    columns: tuple[Column, ...]
    primary_key: tuple[str, ...]
    # Set when a row is first inserted, never overwritten by an upsert.
    insert_only: tuple[str, ...] = ()
    # Bumped only when an upsert really changes a row, so a re-run leaves rows untouched.
    touched_on_change: tuple[str, ...] = ()
    column_names: tuple[str, ...] = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "column_names", tuple(c.name for c in self.columns))
        unknown = set(self.primary_key + self.insert_only + self.touched_on_change) - set(
            self.column_names
        )
        if unknown:
            raise ValueError(f"{self.qualified_name}: unknown columns {sorted(unknown)}")

    @property
    def qualified_name(self) -> str:
        return f"{self.schema}.{self.name}"

    @property
    def json_columns(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns if c.type == "json")

    @property
    def compared_columns(self) -> tuple[str, ...]:
        """Columns whose change counts as an update."""
        skip = set(self.primary_key + self.insert_only + self.touched_on_change)
        return tuple(c for c in self.column_names if c not in skip)

    def ddl(self, dialect: str) -> str:
        cols = ",\n  ".join(
            f"{c.name} {_TYPES[c.type][dialect]}{'' if c.nullable else ' NOT NULL'}"
            for c in self.columns
        )
        return (
            f"CREATE TABLE IF NOT EXISTS {self.qualified_name} (\n  {cols},\n"
            f"  PRIMARY KEY ({', '.join(self.primary_key)})\n)"
        )

    def column_type(self, name: str, dialect: str) -> str:
        return next(_TYPES[c.type][dialect] for c in self.columns if c.name == name)

    def table_schema(self) -> dg.TableSchema:
        import dagster as dg

        return dg.TableSchema(
            columns=[
                dg.TableColumn(
                    name=c.name,
                    type=c.type,
                    description=c.description,
                    constraints=dg.TableColumnConstraints(nullable=c.nullable, unique=False),
                )
                for c in self.columns
            ]
        )


def _org() -> Column:
    return Column(
        "organization_id", "text", "Organization (tenant) slug; the partition key.", False
    )


RAW_TWEETS = TableSpec(
    schema="raw",
    name="tweets",
    description="X posts that matched an organization's tracked keywords (X API v2 recent search), classified.",
    columns=(
        _org(),
        Column("tweet_id", "text", "Permanent X post id (a string, as the API sends it).", False),
        Column("author_id", "text", "Permanent X user id of the author.", False),
        Column("text", "text", "Post text as returned by the API.", False),
        Column("created_at", "timestamptz", "When the post was published (UTC).", False),
        Column("lang", "text", "Language detected by X."),
        Column("conversation_id", "text", "Id of the conversation's first post."),
        Column("in_reply_to_user_id", "text", "User the post replies to, if a reply."),
        Column("retweet_count", "bigint", "Reposts at fetch time."),
        Column("reply_count", "bigint", "Replies at fetch time."),
        Column("like_count", "bigint", "Likes at fetch time."),
        Column("quote_count", "bigint", "Quotes at fetch time."),
        Column("matched_keywords", "json", "JSON array of the tracked keywords found in the text."),
        Column(
            "sentiment", "text", "positive | negative | neutral (VADER tuned for developer text)."
        ),
        Column("sentiment_score", "double", "Compound sentiment score in [-1, 1]."),
        Column(
            "tweet_type",
            "text",
            "question | complaint | praise | mention (precedence in docs/sentiment.md).",
        ),
        Column("url", "text", "Link to the post."),
        Column("payload", "json", "The post object exactly as the API returned it."),
        Column("ingested_at", "timestamptz", "When DevSignal first stored the post.", False),
        Column(
            "updated_at",
            "timestamptz",
            "When a sync last changed the row (metrics, classification).",
            False,
        ),
    ),
    primary_key=("organization_id", "tweet_id"),
    insert_only=("ingested_at",),
    touched_on_change=("updated_at",),
)

RAW_TWITTER_USERS = TableSpec(
    schema="raw",
    name="twitter_users",
    description="Authors of the posts in raw.tweets, from `expansions=author_id`; latest profile seen.",
    columns=(
        _org(),
        Column("user_id", "text", "Permanent X user id (never changes; the identity key).", False),
        Column("username", "text", "Handle without @ (users can change it)."),
        Column("name", "text", "Display name."),
        Column("description", "text", "Profile bio."),
        Column("profile_url", "text", "Expanded profile website URL, if any."),
        Column(
            "bio_urls", "json", "JSON array of every expanded URL in the profile (website and bio)."
        ),
        Column("location", "text", "Free-text location."),
        Column("followers_count", "bigint", "Followers at fetch time."),
        Column("following_count", "bigint", "Accounts followed at fetch time."),
        Column("tweet_count", "bigint", "Posts at fetch time."),
        Column("verified", "boolean", "Verified flag."),
        Column("protected", "boolean", "Protected account flag."),
        Column("profile_image_url", "text", "Avatar URL."),
        Column("account_created_at", "timestamptz", "When the X account was created."),
        Column("payload", "json", "The user object exactly as the API returned it."),
        Column("ingested_at", "timestamptz", "When DevSignal first stored the user.", False),
        Column("updated_at", "timestamptz", "When a sync last changed the profile.", False),
    ),
    primary_key=("organization_id", "user_id"),
    insert_only=("ingested_at",),
    touched_on_change=("updated_at",),
)

RAW_SYNC_CURSORS = TableSpec(
    schema="raw",
    name="sync_cursors",
    description="Incremental state per organization and source (e.g. X since_id), written in the same "
    "transaction as the data it covers.",
    columns=(
        _org(),
        Column("source", "text", "Connector: twitter | stackoverflow | ...", False),
        Column("cursor_name", "text", "Which cursor (since_id, activity_date, ...).", False),
        Column("value", "text", "Cursor value.", False),
        Column("updated_at", "timestamptz", "When the cursor last moved.", False),
    ),
    primary_key=("organization_id", "source", "cursor_name"),
    touched_on_change=("updated_at",),
)

RAW_SCORE_EVENT_BASELINE = TableSpec(
    schema="raw",
    name="score_event_baseline",
    description="Per account, the score and tier its customers' automations last heard of: those of "
    "the last score.changed / tier.changed event, or of its first snapshot. score.changed fires "
    "when a snapshot's score is the organization's threshold away from it (lib/webhooks/emit.py).",
    columns=(
        _org(),
        Column("company_id", "text", "The account.", False),
        Column("score", "double", "The score the last event carried."),
        Column("tier", "text", "The tier the last event carried."),
        Column("snapshot_at", "timestamptz", "The snapshot that score comes from.", False),
    ),
    primary_key=("organization_id", "company_id"),
)

RAW_QUARANTINE = TableSpec(
    schema="raw",
    name="quarantine",
    description="Malformed API records that could not be loaded, kept for inspection instead of crashing a sync.",
    columns=(
        _org(),
        Column("source", "text", "Connector that received the record.", False),
        Column(
            "record_hash", "text", "SHA-256 of the payload (dedupes repeated deliveries).", False
        ),
        Column("reason", "text", "Why the record was rejected.", False),
        Column("payload", "text", "The record as received (may be invalid JSON).", False),
        Column("quarantined_at", "timestamptz", "When it was first quarantined.", False),
        Column(
            "record_type",
            "text",
            "What the record is, for sources that fetch it again by id: post, user (twitter); "
            "question, question_answers (an answer, fetched again with its question), user "
            "(stackoverflow).",
        ),
        Column(
            "record_id",
            "text",
            "The id it is fetched again by; null when no id could be read from the payload.",
        ),
        Column(
            "attempts",
            "bigint",
            "Reads of this record that came back malformed or missing; at MAX_MALFORMED_RETRIES "
            "(3) it is no longer asked for.",
        ),
        Column(
            "resolved_at",
            "timestamptz",
            "When the record was fetched again and loaded; null while it is still quarantined.",
        ),
    ),
    primary_key=("organization_id", "source", "record_hash"),
    insert_only=("quarantined_at",),
)


def _so_owner(prefix: str = "owner_") -> tuple[Column, ...]:
    return (
        Column(
            f"{prefix}user_id",
            "bigint",
            "Stack Exchange user_id of the owner (NULL for deleted users).",
        ),
        Column(
            f"{prefix}account_id", "bigint", "Network-wide Stack Exchange account_id of the owner."
        ),
        Column(f"{prefix}display_name", "text", "Owner's display name at fetch time."),
        Column(
            f"{prefix}user_type",
            "text",
            "registered | unregistered | moderator | does_not_exist (deleted).",
        ),
    )


def _raw_bookkeeping(what: str) -> tuple[Column, ...]:
    return (
        Column("payload", "json", f"The {what} exactly as the API returned it."),
        Column("ingested_at", "timestamptz", f"When DevSignal first stored the {what}.", False),
        Column("updated_at", "timestamptz", f"When a sync last changed the {what}.", False),
    )


RAW_SO_QUESTIONS = TableSpec(
    schema="raw",
    name="so_questions",
    description="Stack Overflow questions carrying an organization's tracked tags (Stack Exchange API 2.3), "
    "re-read whenever their activity date moves (new answers, edits).",
    columns=(
        _org(),
        Column("question_id", "bigint", "Permanent question id.", False),
        Column(
            "title",
            "text",
            "Question title, HTML entities decoded (the API sends them encoded; payload keeps that).",
        ),
        Column("tags", "json", "JSON array of all the question's tags."),
        Column(
            "matched_tags", "json", "JSON array of the organization's tracked tags on the question."
        ),
        *_so_owner(),
        Column("is_answered", "boolean", "Has an accepted or upvoted answer."),
        Column("view_count", "bigint", "Views at fetch time."),
        Column("answer_count", "bigint", "Answers at fetch time."),
        Column("score", "bigint", "Votes at fetch time."),
        Column("accepted_answer_id", "bigint", "Accepted answer, if any."),
        Column("creation_date", "timestamptz", "When the question was asked.", False),
        Column(
            "last_activity_date",
            "timestamptz",
            "Last answer, edit or comment (drives the sync cursor).",
            False,
        ),
        Column("last_edit_date", "timestamptz", "Last edit, if edited."),
        Column("link", "text", "Question URL."),
        *_raw_bookkeeping("question"),
    ),
    primary_key=("organization_id", "question_id"),
    insert_only=("ingested_at",),
    touched_on_change=("updated_at",),
)

RAW_SO_ANSWERS = TableSpec(
    schema="raw",
    name="so_answers",
    description="Answers to the questions in raw.so_questions, refreshed whenever their question's activity moves.",
    columns=(
        _org(),
        Column("answer_id", "bigint", "Permanent answer id.", False),
        Column("question_id", "bigint", "The question answered.", False),
        *_so_owner(),
        Column("is_accepted", "boolean", "Accepted by the asker."),
        Column("score", "bigint", "Votes at fetch time."),
        Column("creation_date", "timestamptz", "When the answer was posted.", False),
        Column("last_activity_date", "timestamptz", "Last edit or comment.", False),
        Column("last_edit_date", "timestamptz", "Last edit, if edited."),
        Column("link", "text", "Answer URL."),
        *_raw_bookkeeping("answer"),
    ),
    primary_key=("organization_id", "answer_id"),
    insert_only=("ingested_at",),
    touched_on_change=("updated_at",),
)

RAW_SO_USERS = TableSpec(
    schema="raw",
    name="so_users",
    description="Full Stack Exchange user profiles (with website_url) of question and answer owners.",
    columns=(
        _org(),
        Column("user_id", "bigint", "Permanent Stack Overflow user id (the identity key).", False),
        Column("account_id", "bigint", "Network-wide account id (also permanent)."),
        Column("display_name", "text", "Display name (users can change it)."),
        Column("website_url", "text", "Profile website, if any."),
        Column("location", "text", "Free-text location."),
        Column("reputation", "bigint", "Reputation at fetch time."),
        Column("user_type", "text", "registered | unregistered | moderator."),
        Column("link", "text", "Profile URL."),
        Column("creation_date", "timestamptz", "When the account was created."),
        *_raw_bookkeeping("user"),
    ),
    primary_key=("organization_id", "user_id"),
    insert_only=("ingested_at",),
    touched_on_change=("updated_at",),
)

_PRODUCT_EVENT_ONLY_ONCE = (
    "type", "event", "name", "user_id", "anonymous_id", "group_id", "previous_id", "occurred_at",
    "original_timestamp", "sent_at", "received_at", "properties", "traits", "context", "via",
    "loaded_at",
)  # fmt: skip

RAW_PRODUCT_EVENTS = TableSpec(
    schema="raw",
    name="product_events",
    description="Every Segment message the organization sent (`devsignal api` /v1/track, identify, group, page, "
    "screen, alias, batch, or `devsignal import ... events`), as accepted. One row per messageId: a message sent "
    "again is not stored twice and never overwrites the first.",
    columns=(
        _org(),
        Column(
            "message_id",
            "text",
            "Segment messageId (or one derived from the message's bytes).",
            False,
        ),
        Column("type", "text", "track | identify | group | page | screen | alias", False),
        Column("event", "text", "track: the event name, e.g. 'Signed Up'."),
        Column("name", "text", "page / screen: the page name."),
        Column("user_id", "text", "The organization's own user id (userId)."),
        Column(
            "anonymous_id", "text", "anonymousId: a device or browser before the user is known."
        ),
        Column("group_id", "text", "group: the account (groupId)."),
        Column("previous_id", "text", "alias: the previous id now known as user_id."),
        Column(
            "occurred_at",
            "timestamptz",
            "When it happened: timestamp corrected for client clock skew "
            "(receivedAt - (sentAt - timestamp)), else when it was received.",
            False,
        ),
        Column("original_timestamp", "timestamptz", "timestamp as the client sent it."),
        Column("sent_at", "timestamptz", "sentAt: the client's clock when it sent the batch."),
        Column(
            "received_at",
            "timestamptz",
            "When DevSignal's API accepted it (stored durably).",
            False,
        ),
        Column("properties", "json", "track / page / screen properties, as sent."),
        Column("traits", "json", "identify / group traits, as sent."),
        Column("context", "json", "Segment context (library, page, userAgent, ip, ...), as sent."),
        Column("via", "text", "api | import", False),
        Column("loaded_at", "timestamptz", "When it was loaded into the warehouse.", False),
    ),
    primary_key=("organization_id", "message_id"),
    insert_only=_PRODUCT_EVENT_ONLY_ONCE,
)


def _github_common(what: str) -> tuple[Column, ...]:
    return (
        Column("payload", "json", f"The {what} object exactly as the API returned it."),
        Column("ingested_at", "timestamptz", f"When DevSignal first stored the {what}.", False),
        Column("updated_at", "timestamptz", "When a sync last changed the row.", False),
    )


_GITHUB_AUTHOR = (
    Column("author_id", "bigint", "Permanent GitHub user id of the author (logins can change)."),
    Column("author_login", "text", "The author's login when fetched."),
    Column("author_type", "text", "User | Bot | Organization."),
    Column(
        "author_association",
        "text",
        "OWNER | MEMBER | COLLABORATOR | CONTRIBUTOR | FIRST_TIME_CONTRIBUTOR | NONE (GitHub's).",
    ),
)

RAW_GITHUB_REPOSITORIES = TableSpec(
    schema="raw",
    name="github_repositories",
    description="The GitHub repositories an organization tracks, as last fetched (a renamed one under its new "
    "name, with the name it was asked for).",
    columns=(
        _org(),
        Column("repo_id", "bigint", "Permanent GitHub repository id.", False),
        Column("full_name", "text", "owner/name now.", False),
        Column(
            "requested_as",
            "text",
            "The owner/name the organization tracks (differs after a rename).",
        ),
        Column("private", "boolean", "Private repository."),
        Column("stargazers_count", "bigint", "Stars at fetch time."),
        Column("forks_count", "bigint", "Forks at fetch time."),
        Column("open_issues_count", "bigint", "Open issues and pull requests at fetch time."),
        Column("html_url", "text", "Link to the repository."),
        *_github_common("repository"),
    ),
    primary_key=("organization_id", "repo_id"),
    insert_only=("ingested_at",),
    touched_on_change=("updated_at",),
)

RAW_GITHUB_STARGAZERS = TableSpec(
    schema="raw",
    name="github_stargazers",
    description="Who starred each tracked repository and when (the star media type's starred_at).",
    columns=(
        _org(),
        Column("repo_id", "bigint", "Repository starred.", False),
        Column("user_id", "bigint", "Permanent GitHub user id of the stargazer.", False),
        Column("login", "text", "The stargazer's login when fetched."),
        Column("user_type", "text", "User | Bot | Organization."),
        Column("starred_at", "timestamptz", "When the star was given.", False),
        *_github_common("stargazer"),
    ),
    primary_key=("organization_id", "repo_id", "user_id"),
    insert_only=("ingested_at",),
    touched_on_change=("updated_at",),
)

RAW_GITHUB_FORKS = TableSpec(
    schema="raw",
    name="github_forks",
    description="Forks of the tracked repositories, with who owns them.",
    columns=(
        _org(),
        Column("fork_id", "bigint", "Permanent id of the fork (a repository).", False),
        Column("repo_id", "bigint", "The tracked repository it forks.", False),
        Column("full_name", "text", "owner/name of the fork."),
        Column("owner_id", "bigint", "Permanent GitHub id of the fork's owner."),
        Column("owner_login", "text", "The owner's login when fetched."),
        Column("owner_type", "text", "User | Organization | Bot."),
        Column("created_at", "timestamptz", "When the fork was made.", False),
        Column("html_url", "text", "Link to the fork."),
        *_github_common("fork"),
    ),
    primary_key=("organization_id", "fork_id"),
    insert_only=("ingested_at",),
    touched_on_change=("updated_at",),
)

RAW_GITHUB_ISSUES = TableSpec(
    schema="raw",
    name="github_issues",
    description="Issues and pull requests of the tracked repositories (GitHub lists pull requests as issues "
    "with a `pull_request` key), refreshed whenever they are updated.",
    columns=(
        _org(),
        Column("issue_id", "bigint", "Permanent GitHub id of the issue or pull request.", False),
        Column("repo_id", "bigint", "Repository.", False),
        Column("number", "bigint", "The issue / pull request number in the repository.", False),
        Column("is_pull_request", "boolean", "A pull request (else an issue).", False),
        Column("title", "text", "Title."),
        Column("state", "text", "open | closed."),
        *_GITHUB_AUTHOR,
        Column("labels", "json", "JSON array of label names."),
        Column("reactions", "json", "Reaction counts (total_count, +1, -1, laugh, ...)."),
        Column("comments", "bigint", "Comment count."),
        Column("created_at", "timestamptz", "When it was opened.", False),
        Column(
            "github_updated_at",
            "timestamptz",
            "When GitHub last updated it (the sync's cursor).",
            False,
        ),
        Column("closed_at", "timestamptz", "When it was closed."),
        Column("merged_at", "timestamptz", "Pull requests: when merged."),
        Column("html_url", "text", "Link."),
        *_github_common("issue"),
    ),
    primary_key=("organization_id", "issue_id"),
    insert_only=("ingested_at",),
    touched_on_change=("updated_at",),
)

RAW_GITHUB_COMMENTS = TableSpec(
    schema="raw",
    name="github_comments",
    description="Comments on the tracked repositories' issues and pull requests (`issue`) and pull request "
    "review comments on code (`review`).",
    columns=(
        _org(),
        Column("kind", "text", "issue | review", False),
        Column("comment_id", "bigint", "Permanent GitHub id of the comment.", False),
        Column("repo_id", "bigint", "Repository.", False),
        Column("issue_number", "bigint", "The issue or pull request it is on."),
        *_GITHUB_AUTHOR,
        Column("reactions", "json", "Reaction counts."),
        Column("created_at", "timestamptz", "When it was written.", False),
        Column("github_updated_at", "timestamptz", "When GitHub last updated it.", False),
        Column("html_url", "text", "Link."),
        *_github_common("comment"),
    ),
    primary_key=("organization_id", "kind", "comment_id"),
    insert_only=("ingested_at",),
    touched_on_change=("updated_at",),
)

RAW_GITHUB_USERS = TableSpec(
    schema="raw",
    name="github_users",
    description="Full GitHub profiles (GET /user/{id}) of everyone active on the tracked repositories, fetched "
    "once and refreshed when older than the connector's profile age.",
    columns=(
        _org(),
        Column("user_id", "bigint", "Permanent GitHub user id (the identity key).", False),
        Column("login", "text", "Login now (users can rename it)."),
        Column(
            "type",
            "text",
            "User | Bot | Organization, or deleted: GitHub answers 404 for the account (a tombstone).",
        ),
        Column("name", "text", "Display name."),
        Column("company", "text", "Profile company as typed: '@acme' names the GitHub org acme."),
        Column("blog", "text", "Profile website."),
        Column("email", "text", "Public email, if any."),
        Column("twitter_username", "text", "X handle the profile names, without @."),
        Column("location", "text", "Free-text location."),
        Column("bio", "text", "Profile bio."),
        Column("html_url", "text", "Profile link."),
        Column("account_created_at", "timestamptz", "When the GitHub account was created."),
        Column("fetched_at", "timestamptz", "When the profile was last read from the API.", False),
        Column("etag", "text", "The profile's ETag: a refresh asks with it (a 304 is free)."),
        *_github_common("user"),
    ),
    primary_key=("organization_id", "user_id"),
    insert_only=("ingested_at",),
    touched_on_change=("updated_at", "fetched_at"),
)

CORE_IDENTITY_LINKS = TableSpec(
    schema="core",
    name="identity_links",
    description="Every platform author linked to a contact (and company when known), with the method, "
    "confidence and the evidence that matched.",
    columns=(
        _org(),
        Column("platform", "text", "twitter | stackoverflow", False),
        Column("platform_user_id", "text", "Permanent platform user id.", False),
        Column("contact_id", "text", "Linked contact (control DB id).", False),
        Column("company_id", "text", "Linked company, when known."),
        Column(
            "method",
            "text",
            "platform_id | bio_domain_name | name | bio_domain | new_contact (see docs/identity.md).",
            False,
        ),
        Column("confidence", "double", "0..1; 1.0 for a known permanent id.", False),
        Column("evidence", "json", "The values that matched (ids, domains, names).", False),
        Column("linked_at", "timestamptz", "When the link was first made.", False),
    ),
    primary_key=("organization_id", "platform", "platform_user_id"),
)

RAW_ENRICHMENT_CACHE = TableSpec(
    schema="raw",
    name="enrichment_cache",
    description="Every enrichment lookup's last answer per organization: a re-run inside the TTL makes no API "
    "call; queued lookups are asked again on the next run.",
    columns=(
        _org(),
        Column(
            "kind", "text", "company (looked up by domain) | person (looked up by email).", False
        ),
        Column("lookup_key", "text", "Normalized domain or email.", False),
        Column("status", "text", "found | queued | not_found | invalid.", False),
        Column(
            "http_status",
            "bigint",
            "HTTP status of the answer (NULL when rejected before any call).",
        ),
        Column("payload", "json", "The vendor's object when found (v2 or legacy v1 shape)."),
        Column("mapped", "json", "The DevSignal fields mapped from the payload."),
        Column(
            "fetched_at",
            "timestamptz",
            "When the answer was received (or the input rejected).",
            False,
        ),
    ),
    primary_key=("organization_id", "kind", "lookup_key"),
)

_ENRICHED = (
    Column(
        "enriched_at",
        "timestamptz",
        "When the enrichment used here was fetched (NULL: not enriched).",
    ),
    Column(
        "enrichment_source",
        "text",
        "Where the enriched fields came from (e.g. clearbit_v2, clearbit_v1).",
    ),
)

CORE_COMPANIES = TableSpec(
    schema="core",
    name="companies",
    description="Companies (accounts) per organization: the CRM merged with firmographic enrichment. The CRM's "
    "name and description win when set (users' edits are kept); industry, size and web fields take the enrichment.",
    columns=(
        _org(),
        Column("company_id", "text", "Control DB company id.", False),
        Column("name", "text", "CRM name, else the enriched name."),
        Column("domain", "text", "Primary web domain, lower case."),
        Column("created_at", "timestamptz", "When the company entered the CRM.", False),
        Column(
            "plan", "text", "The plan the account is on, from the CRM or Segment `group` traits."
        ),
        Column("legal_name", "text", "Registered legal name."),
        Column("description", "text", "CRM description, else the enriched one."),
        Column("industry", "text", "Industry (GICS-style)."),
        Column("sector", "text", "Sector."),
        Column("sub_industry", "text", "Sub-industry."),
        Column(
            "employees", "bigint", "Employee count (enrichment, else the CRM / `group` traits)."
        ),
        Column("employees_range", "text", "Employee range, e.g. 51-250."),
        Column("estimated_annual_revenue", "text", "Revenue band, e.g. $10M-$50M."),
        Column("founded_year", "bigint", "Year founded."),
        Column("country", "text", "Headquarters country."),
        Column("city", "text", "Headquarters city."),
        Column("linkedin_handle", "text", "LinkedIn company handle."),
        Column("twitter_handle", "text", "X handle."),
        Column(
            "tech_stack",
            "json",
            "JSON array of technologies the company runs (what a devtool seller wants).",
        ),
        *_ENRICHED,
    ),
    primary_key=("organization_id", "company_id"),
)

CORE_CONTACTS = TableSpec(
    schema="core",
    name="contacts",
    description="Contacts per organization: CRM contacts and those created by identity resolution.",
    columns=(
        _org(),
        Column("contact_id", "text", "Control DB contact id.", False),
        Column("company_id", "text", "Company the contact works for, when known."),
        Column("full_name", "text", "Full name."),
        Column("email", "text", "Email address."),
        Column(
            "source",
            "text",
            "crm | product (a Segment identify) | twitter / stackoverflow (created from "
            "an unmatched author)",
            False,
        ),
        Column("created_at", "timestamptz", "When the contact was created.", False),
        Column("updated_at", "timestamptz", "When the contact's CRM row last changed."),
        Column("title", "text", "Job title (the CRM's or `identify`'s, else the enrichment's)."),
        Column("phone", "text", "Phone, from the CRM or `identify` traits."),
        Column("role", "text", "Job function, e.g. engineering."),
        Column("seniority", "text", "e.g. executive, manager."),
        Column("city", "text", "City."),
        Column("country", "text", "Country."),
        Column(
            "twitter",
            "text",
            "X handle (the one the CRM / `identify` names, else the enrichment's).",
        ),
        Column(
            "github",
            "text",
            "GitHub handle (the one the CRM / `identify` names, else the enrichment's).",
        ),
        Column("linkedin", "text", "LinkedIn handle."),
        Column("avatar", "text", "Avatar URL."),
        Column("employment_domain", "text", "Employer's domain per the enrichment."),
        Column(
            "employment_company_id", "text", "The organization's company with that domain, if any."
        ),
        *_ENRICHED,
    ),
    primary_key=("organization_id", "contact_id"),
)

CORE_SIGNALS = TableSpec(
    schema="core",
    name="signals",
    description="One row per developer signal from every source (X, Stack Overflow, first-party product events), "
    "resolved to contact and company.",
    columns=(
        Column("signal_id", "text", "Stable id: the source, a colon, the source's own id.", False),
        _org(),
        Column("source", "text", "twitter | stackoverflow | product (Segment track / page)", False),
        Column(
            "signal_type",
            "text",
            "twitter_mention | twitter_question | twitter_complaint | twitter_praise | github_star | docs_view | "
            "signup | api_call | feature_usage | ...",
            False,
        ),
        Column("occurred_at", "timestamptz", "When it happened (UTC).", False),
        Column("contact_id", "text", "Resolved contact."),
        Column("company_id", "text", "Resolved company (account)."),
        Column("sentiment", "text", "positive | negative | neutral for text signals."),
        Column("sentiment_score", "double", "Compound sentiment score in [-1, 1]."),
        Column("url", "text", "Link to the source item."),
        Column(
            "metadata",
            "json",
            "Source-specific details (text, username, keywords, properties, ...).",
        ),
        Column("ingested_at", "timestamptz", "When the underlying record was first stored.", False),
    ),
    primary_key=("organization_id", "signal_id"),
)

CORE_DEALS = TableSpec(
    schema="core",
    name="deals",
    description="Deals per organization, copied from the CRM (control DB) so SQL models can join them with "
    "signals and scores.",
    columns=(
        _org(),
        Column("deal_id", "text", "Control DB deal id.", False),
        Column("company_id", "text", "Company (account) the deal is with."),
        Column("name", "text", "Deal name.", False),
        Column("stage", "text", "Current pipeline stage.", False),
        Column("amount", "double", "Deal value (pipeline value), in the CRM's currency."),
        Column("currency", "text", "ISO 4217 code of the amount, when the CRM sent one."),
        Column("close_date", "timestamptz", "Expected or actual close date."),
        Column("external_id", "text", "The CRM's own id of the deal."),
        Column("created_at", "timestamptz", "When the deal was created.", False),
        Column("updated_at", "timestamptz", "When the deal last changed.", False),
        Column("stage_changes", "bigint", "How many stage changes the CRM recorded.", False),
    ),
    primary_key=("organization_id", "deal_id"),
)

ANALYTICS_ENRICHMENT_COVERAGE = TableSpec(
    schema="analytics",
    name="enrichment_coverage",
    description="Per organization and kind: how much of the CRM is enriched, when it last was, and lookups by status.",
    columns=(
        _org(),
        Column("kind", "text", "company | person", False),
        Column("records", "bigint", "Companies (or contacts) in the CRM.", False),
        Column("enriched", "bigint", "Of which enriched (a found lookup).", False),
        Column("enriched_share", "double", "enriched / records (0 when there are none).", False),
        Column("found", "bigint", "Cached lookups with status found.", False),
        Column("queued", "bigint", "... queued (asked again next run).", False),
        Column("not_found", "bigint", "... not_found.", False),
        Column("invalid", "bigint", "... invalid (rejected before the call, or 422).", False),
        Column("missing_key", "bigint", "Records without a domain / email to look up.", False),
        Column("last_enriched_at", "timestamptz", "Latest fetched_at of a found lookup."),
    ),
    primary_key=("organization_id", "kind"),
)

WAREHOUSE_TABLES: tuple[TableSpec, ...] = (
    RAW_TWEETS,
    RAW_TWITTER_USERS,
    RAW_SO_QUESTIONS,
    RAW_SO_ANSWERS,
    RAW_SO_USERS,
    RAW_PRODUCT_EVENTS,
    RAW_GITHUB_REPOSITORIES,
    RAW_GITHUB_STARGAZERS,
    RAW_GITHUB_FORKS,
    RAW_GITHUB_ISSUES,
    RAW_GITHUB_COMMENTS,
    RAW_GITHUB_USERS,
    RAW_SYNC_CURSORS,
    RAW_QUARANTINE,
    RAW_SCORE_EVENT_BASELINE,
    CORE_IDENTITY_LINKS,
    CORE_COMPANIES,
    CORE_CONTACTS,
    CORE_SIGNALS,
    CORE_DEALS,
    RAW_ENRICHMENT_CACHE,
    ANALYTICS_ENRICHMENT_COVERAGE,
)
