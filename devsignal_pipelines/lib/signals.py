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


def tweet_signals(warehouse: Warehouse, organization_id: str) -> pd.DataFrame:
    sql = _TWEET_SIGNALS_SQL.format(json_object=_JSON_OBJECT[warehouse.dialect])
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
