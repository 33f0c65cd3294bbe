"""Sync one organization's X mentions into raw.tweets / raw.twitter_users.

Fetch everything newer than the saved `since_id` first (no warehouse connection held while
talking HTTP or waiting out a rate limit), classify, then write posts, authors, quarantined
records and the new cursor in ONE warehouse transaction. A crash anywhere before the commit
leaves the previous tables and cursor untouched; the next run fetches the same window again and
the primary-key merge makes that harmless.

Posts quarantined as malformed by earlier runs (the cursor has moved past them) are looked up
again by id (`GET /2/tweets?ids=`, 100 a request) after the search, until they parse or
MAX_MALFORMED_RETRIES reads failed (lib/quarantine.py); what comes back goes through the same
frames as search results, and the quarantine's state is written in the same transaction.
"""

from __future__ import annotations

import re
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from devsignal_pipelines.lib.classify.texts import classify_texts
from devsignal_pipelines.lib.json_frames import dumps_column
from devsignal_pipelines.lib.quarantine import (
    QuarantinedRecord,
    RefetchCounts,
    pending_refetch,
    settle_quarantine,
)
from devsignal_pipelines.lib.sources.twitter.client import (
    SearchPage,
    SinceIdRejectedError,
    XApiClient,
    build_query,
)
from devsignal_pipelines.lib.stores.tables import RAW_TWEETS, RAW_TWITTER_USERS
from devsignal_pipelines.lib.stores.warehouse import Warehouse

SOURCE = "twitter"
CURSOR = "since_id"


class TweetColumns:
    """Posts kept as columns while paging: a 100k-post sync holds strings, not 100k nested dicts."""

    NAMES = (
        "tweet_id", "author_id", "text", "created_at", "lang", "conversation_id", "in_reply_to_user_id",
        "retweet_count", "reply_count", "like_count", "quote_count", "payload",
    )  # fmt: skip

    def __init__(self) -> None:
        self.columns: dict[str, list[Any]] = {name: [] for name in self.NAMES}

    def __len__(self) -> int:
        return len(self.columns["tweet_id"])

    def extend(self, tweets: list[dict[str, Any]]) -> None:
        c = self.columns
        for tweet in tweets:
            metrics = tweet.get("public_metrics") or {}
            c["tweet_id"].append(tweet["id"])
            c["author_id"].append(tweet["author_id"])
            c["text"].append(tweet["text"])
            c["created_at"].append(tweet["created_at"])
            c["lang"].append(tweet.get("lang"))
            c["conversation_id"].append(tweet.get("conversation_id"))
            c["in_reply_to_user_id"].append(tweet.get("in_reply_to_user_id"))
            c["retweet_count"].append(metrics.get("retweet_count"))
            c["reply_count"].append(metrics.get("reply_count"))
            c["like_count"].append(metrics.get("like_count"))
            c["quote_count"].append(metrics.get("quote_count"))
        c["payload"].extend(dumps_column(tweets))


@dataclass
class FetchedMentions:
    tweets: TweetColumns = field(default_factory=TweetColumns)
    users: dict[str, dict[str, Any]] = field(default_factory=dict)
    newest_id: str | None = None
    pages: int = 0
    partial_errors: int = 0
    quarantined: list[QuarantinedRecord] = field(default_factory=list)

    def add(self, page: SearchPage) -> None:
        """A search page: it also moves the cursor."""
        if self.pages == 0:
            self.newest_id = page.newest_id
        self.pages += 1
        self.add_records(page)

    def add_records(self, page: SearchPage) -> None:
        """Posts and authors of a search or lookup page."""
        self.tweets.extend(page.tweets)
        for user in page.users:
            self.users.setdefault(user["id"], user)
        self.partial_errors += len(page.partial_errors)
        self.quarantined.extend(page.quarantined)


@dataclass
class TwitterSyncReport:
    organization_id: str
    query: str
    since_id_before: str | None
    since_id_after: str | None
    pages: int
    tweets_fetched: int
    tweets_new: int
    tweets_updated: int
    users_new: int
    users_updated: int
    quarantined: int
    partial_errors: int
    since_id_expired: bool
    seconds: dict[str, float]
    refetch: RefetchCounts = field(default_factory=RefetchCounts)

    def as_metadata(self) -> dict[str, Any]:
        return {
            "query": self.query,
            "pages": self.pages,
            "tweets_fetched": self.tweets_fetched,
            "tweets_new": self.tweets_new,
            "tweets_updated": self.tweets_updated,
            "users_new": self.users_new,
            "users_updated": self.users_updated,
            "quarantined_records": self.quarantined,
            "partial_errors": self.partial_errors,
            "since_id_before": self.since_id_before or "",
            "since_id_after": self.since_id_after or "",
            "since_id_expired": self.since_id_expired,
            **self.refetch.as_metadata(),
            **{f"{phase}_seconds": round(s, 3) for phase, s in self.seconds.items()},
        }


def fetch_mentions(
    client: XApiClient, query: str, since_id: str | None, max_results: int = 100
) -> FetchedMentions:
    fetched = FetchedMentions()
    for page in client.search_recent(query, since_id=since_id, max_results=max_results):
        fetched.add(page)
    return fetched


def sync_twitter_mentions(
    warehouse: Warehouse,
    client: XApiClient,
    organization_id: str,
    keywords: Sequence[str],
    max_results: int = 100,
) -> TwitterSyncReport:
    started = time.perf_counter()
    query = build_query(keywords)
    since_id = warehouse.get_cursor(organization_id, SOURCE, CURSOR)
    refetch_ids = pending_refetch(warehouse, organization_id, SOURCE).get("post", [])
    since_id_expired = False
    try:
        fetched = fetch_mentions(client, query, since_id, max_results)
    except SinceIdRejectedError:
        # Not synced for over a week: X only serves the last 7 days. Take the whole window (the
        # merge makes the overlap harmless) and say that older posts may have been missed.
        since_id_expired = True
        fetched = fetch_mentions(client, query, None, max_results)
    for page in client.lookup_tweets(refetch_ids):
        fetched.add_records(page)
    fetched_at = time.perf_counter()

    now = pd.Timestamp.now(tz="UTC")
    tweets = tweets_frame(organization_id, fetched.tweets, fetched.users, keywords, now)
    users = users_frame(organization_id, list(fetched.users.values()), now)
    loaded = pd.concat(
        [
            pd.DataFrame({"record_type": "post", "record_id": tweets["tweet_id"]}),
            pd.DataFrame({"record_type": "user", "record_id": users["user_id"]}),
        ],
        ignore_index=True,
    )
    classified_at = time.perf_counter()

    with warehouse.transaction() as tx:
        tweet_counts = tx.merge(RAW_TWEETS, tweets)
        user_counts = tx.merge(RAW_TWITTER_USERS, users)
        refetch = settle_quarantine(
            tx,
            organization_id,
            SOURCE,
            fetched.quarantined,
            asked=[("post", tweet_id) for tweet_id in refetch_ids],
            loaded=loaded,
            refetchable={"post"},
            now=now,
        )
        # Read again inside the transaction: an overlapping run may have moved it meanwhile, and
        # the cursor only ever moves forward.
        current = tx.get_cursor(organization_id, SOURCE, CURSOR)
        new_cursor = _max_id(current, fetched.newest_id)
        if new_cursor and new_cursor != current:
            tx.set_cursor(organization_id, SOURCE, CURSOR, new_cursor)
    written_at = time.perf_counter()

    return TwitterSyncReport(
        organization_id=organization_id,
        query=query,
        since_id_before=since_id,
        since_id_after=new_cursor,
        pages=fetched.pages,
        tweets_fetched=len(fetched.tweets),
        tweets_new=tweet_counts.new,
        tweets_updated=tweet_counts.updated,
        users_new=user_counts.new,
        users_updated=user_counts.updated,
        quarantined=len(fetched.quarantined),
        partial_errors=fetched.partial_errors,
        since_id_expired=since_id_expired,
        refetch=refetch,
        seconds={
            "http": client.stats.http_s,
            "fetch": fetched_at - started,
            "classify": classified_at - fetched_at,
            "write": written_at - classified_at,
            "total": written_at - started,
        },
    )


def _max_id(a: str | None, b: str | None) -> str | None:
    ids = [int(x) for x in (a, b) if x]
    return str(max(ids)) if ids else None


def keyword_pattern(keyword: str) -> str:
    """Whole-word, case-insensitive, whitespace-tolerant match of a keyword or phrase."""
    words = [re.escape(w) for w in keyword.split()]
    return r"(?i)(?<![\w])" + r"\s+".join(words) + r"(?![\w])"


def matched_keywords(texts: pd.Series, keywords: Sequence[str]) -> pd.Series:
    """JSON array of the keywords found in each text, computed per keyword, not per row."""
    keywords = [k for k in keywords if k.strip()]
    mask = np.zeros(len(texts), dtype=np.int64)
    for bit, keyword in enumerate(keywords):
        mask |= (
            texts.str.contains(keyword_pattern(keyword), regex=True)
            .to_numpy(dtype=bool)
            .astype(np.int64)
            << bit
        )
    combos = {
        m: dumps_column([[k for b, k in enumerate(keywords) if m >> b & 1]])[0]
        for m in np.unique(mask)
    }
    return pd.Series(mask, index=texts.index).map(combos)


def tweets_frame(
    organization_id: str,
    tweets: TweetColumns,
    users: dict[str, dict[str, Any]],
    keywords: Sequence[str],
    now: pd.Timestamp,
) -> pd.DataFrame:
    if not len(tweets):
        return pd.DataFrame(columns=list(RAW_TWEETS.column_names))
    frame = pd.DataFrame(tweets.columns)
    frame.insert(0, "organization_id", organization_id)
    frame["created_at"] = pd.to_datetime(frame["created_at"], utc=True, format="ISO8601")
    frame = frame.drop_duplicates("tweet_id", keep="first").reset_index(drop=True)
    classes = classify_texts(frame["text"].tolist())
    frame["sentiment"] = classes["sentiment"].to_numpy()
    frame["sentiment_score"] = classes["sentiment_score"].to_numpy()
    frame["tweet_type"] = classes["tweet_type"].to_numpy()
    frame["matched_keywords"] = matched_keywords(frame["text"], keywords)
    usernames = pd.Series({uid: u.get("username") for uid, u in users.items()}, dtype=object)
    handle = frame["author_id"].map(usernames).fillna("i/web")
    frame["url"] = "https://x.com/" + handle + "/status/" + frame["tweet_id"]
    frame["ingested_at"] = now
    frame["updated_at"] = now
    return frame


def _expanded_urls(user: dict[str, Any]) -> list[str]:
    entities = user.get("entities") or {}
    urls = []
    for section in ("url", "description"):
        for item in (entities.get(section) or {}).get("urls") or []:
            if isinstance(item, dict) and item.get("expanded_url"):
                urls.append(item["expanded_url"])
    return urls


def users_frame(
    organization_id: str, users: list[dict[str, Any]], now: pd.Timestamp
) -> pd.DataFrame:
    if not users:
        return pd.DataFrame(columns=list(RAW_TWITTER_USERS.column_names))
    metrics = [u.get("public_metrics") or {} for u in users]
    bio_urls = [_expanded_urls(u) for u in users]
    profile_urls = []
    for user in users:
        website = ((user.get("entities") or {}).get("url") or {}).get("urls") or []
        profile_urls.append(
            website[0].get("expanded_url") if website else (user.get("url") or None)
        )
    return pd.DataFrame(
        {
            "organization_id": organization_id,
            "user_id": [u["id"] for u in users],
            "username": [u.get("username") for u in users],
            "name": [u.get("name") for u in users],
            "description": [u.get("description") for u in users],
            "profile_url": profile_urls,
            "bio_urls": dumps_column(bio_urls),
            "location": [u.get("location") for u in users],
            "followers_count": [m.get("followers_count") for m in metrics],
            "following_count": [m.get("following_count") for m in metrics],
            "tweet_count": [m.get("tweet_count") for m in metrics],
            "verified": [u.get("verified") for u in users],
            "protected": [u.get("protected") for u in users],
            "profile_image_url": [u.get("profile_image_url") for u in users],
            "account_created_at": pd.to_datetime(
                [u.get("created_at") for u in users], utc=True, format="ISO8601"
            ),
            "payload": dumps_column(users),
            "ingested_at": now,
            "updated_at": now,
        }
    )
