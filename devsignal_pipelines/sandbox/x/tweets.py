"""Tweets of a sandbox world: X API v2 tweet objects with snowflake ids.

Built for speed (100,000 tweets in one to two seconds): templates are pre-built word lists,
authors are drawn from small reusable pools, and each tweet is one dict built in a single pass
in time order, so retweets and replies can point at tweets that already exist.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from datetime import UTC, datetime
from itertools import accumulate
from math import log
from typing import TypeVar

from devsignal_pipelines.sandbox.records import Organization
from devsignal_pipelines.sandbox.vocabulary import (
    COMPARISON_TEMPLATES,
    FEATURES,
    FOREIGN_TEMPLATES,
    NEAR_MISSES,
    NOISE_TEMPLATES,
    PRODUCT_SPELLINGS,
    REPLY_TEMPLATES,
    TEMPLATES,
)
from devsignal_pipelines.sandbox.x.people import XPeople
from devsignal_pipelines.sandbox.x.snowflake import RECENT_SEARCH_WINDOW_S, TWITTER_EPOCH_MS

_T = TypeVar("_T")
_AFTER_ANCHOR_MS = 86_400_000
# Share of tweets about each organization's product, in organization order; the rest is noise.
_TOPIC_SHARES = (0.42, 0.28, 0.18)
_RETWEET, _REPLY, _COMPARISON, _FOREIGN = 0.12, 0.22, 0.26, 0.30  # cumulative style shares
_INTENTS = ("question",) * 5 + ("complaint",) * 4 + ("praise",) * 5 + ("neutral",) * 6
_RECENT = 64  # retweets and replies target one of this many latest tweets on the topic


class _Writer:
    """Turns draws into tweet dicts; holds what one generation run needs to look up."""

    def __init__(
        self, rng: random.Random, organizations: list[Organization], people: XPeople
    ) -> None:
        self.rng = rng
        self.random = rng.random
        self.people = people
        self.minute_prefixes: dict[int, str] = {}
        self.org_ids = [org.id for org in organizations]
        self.others = {o: [other for other in self.org_ids if other != o] for o in self.org_ids}
        self.topic_thresholds = list(zip(accumulate(_TOPIC_SHARES), self.org_ids, strict=True))
        self.near_misses = [word for org in organizations for word in NEAR_MISSES[org.id]]
        self.tweets: list[dict] = []
        self.recent: dict[str, list[dict]] = {org_id: [] for org_id in self.org_ids}

    def pick(self, items: Sequence[_T]) -> _T:
        """``rng.choice`` at a fraction of its cost (deterministic all the same)."""
        return items[int(self.random() * len(items))]

    def write(self, millis: int) -> None:
        tweet_id = str(((millis - TWITTER_EPOCH_MS) << 22) | self.rng.getrandbits(22))
        created_at = self._created_at(millis // 1000)
        org_id = self._topic()
        if org_id is None:
            author = self.pick(self.people.developer_pool)
            text = self.pick(NOISE_TEMPLATES).format(n=self.pick(self.near_misses))
            tweet = self._tweet(tweet_id, text, author, created_at)
            self.tweets.append(tweet)
            return
        author = self._author(org_id)
        style = self.random()
        recent = self.recent[org_id]
        if style < _RETWEET and recent:
            tweet = self._retweet(tweet_id, author, created_at, self.pick(recent))
        elif style < _REPLY and recent:
            tweet = self._reply(tweet_id, author, created_at, org_id, self.pick(recent))
        else:
            tweet = self._original(tweet_id, author, created_at, org_id, style)
            recent.append(tweet)
            if len(recent) > 2 * _RECENT:
                del recent[:_RECENT]
        self.tweets.append(tweet)

    def _created_at(self, second: int) -> str:
        """X's created_at format; strftime once per minute, which dominates the cost otherwise."""
        minute, seconds = divmod(second, 60)
        prefix = self.minute_prefixes.get(minute)
        if prefix is None:
            prefix = datetime.fromtimestamp(minute * 60, UTC).strftime("%Y-%m-%dT%H:%M:")
            self.minute_prefixes[minute] = prefix
        return f"{prefix}{seconds:02d}.000Z"

    def _topic(self) -> str | None:
        draw = self.random()
        for threshold, org_id in self.topic_thresholds:
            if draw < threshold:
                return org_id
        return None

    def _author(self, org_id: str) -> str:
        """Mostly developers; some CRM contacts, a few other orgs' contacts and tricky accounts."""
        people, pick = self.people, self.pick
        draw = self.random()
        if draw < 0.30 and people.contact_pool[org_id]:
            return pick(people.contact_pool[org_id])
        if draw < 0.34:
            other = pick(self.others[org_id])
            if people.contact_pool[other]:
                return pick(people.contact_pool[other])
        if draw < 0.40 and people.tricky_pool[org_id]:
            return pick(people.tricky_pool[org_id])
        return pick(people.developer_pool)

    def _mention(self, org_id: str) -> tuple[str, str]:
        return self.pick(PRODUCT_SPELLINGS[org_id]), self.pick(FEATURES[org_id])

    def _original(
        self, tweet_id: str, author: str, created_at: str, org_id: str, style: float
    ) -> dict:
        pick = self.pick
        product, feature = self._mention(org_id)
        lang = "en"
        if style < _COMPARISON:
            other = pick(self.others[org_id])
            text = pick(COMPARISON_TEMPLATES).format(p=product, q=self._mention(other)[0])
        elif style < _FOREIGN:
            lang, template = pick(FOREIGN_TEMPLATES)
            text = template.format(p=product, f=feature)
        else:
            text = pick(TEMPLATES[pick(_INTENTS)]).format(p=product, f=feature)
        tweet = self._tweet(tweet_id, text, author, created_at, lang)
        if self.random() < 0.08:
            self._attach_link(tweet, org_id)
        return tweet

    def _retweet(self, tweet_id: str, author: str, created_at: str, original: dict) -> dict:
        """Retweets quote the original text after ``RT @user:`` and carry its retweet count."""
        username = self.people.users[original["author_id"]]["username"]
        text = f"RT @{username}: {original['text']}"
        if len(text) > 140:
            text = text[:139] + "…"
        tweet = self._tweet(tweet_id, text, author, created_at, original["lang"])
        tweet["public_metrics"] = {
            "retweet_count": original["public_metrics"]["retweet_count"],
            "reply_count": 0,
            "like_count": 0,
            "quote_count": 0,
        }
        tweet["entities"] = {"mentions": [_mention_entity(3, username, original["author_id"])]}
        tweet["referenced_tweets"] = [{"type": "retweeted", "id": original["id"]}]
        return tweet

    def _reply(
        self, tweet_id: str, author: str, created_at: str, org_id: str, parent: dict
    ) -> dict:
        username = self.people.users[parent["author_id"]]["username"]
        product, feature = self._mention(org_id)
        text = f"@{username} " + self.pick(REPLY_TEMPLATES).format(p=product, f=feature)
        tweet = self._tweet(tweet_id, text, author, created_at)
        tweet["conversation_id"] = parent["conversation_id"]
        tweet["entities"] = {"mentions": [_mention_entity(0, username, parent["author_id"])]}
        tweet["referenced_tweets"] = [{"type": "replied_to", "id": parent["id"]}]
        tweet["in_reply_to_user_id"] = parent["author_id"]
        return tweet

    def _tweet(
        self, tweet_id: str, text: str, author: str, created_at: str, lang: str = "en"
    ) -> dict:
        random = self.random
        likes = int(-4.0 * log(1.0 - random()))  # exponential, mean 4
        return {
            "id": tweet_id,
            "text": text,
            "author_id": author,
            "created_at": created_at,
            "lang": lang,
            "conversation_id": tweet_id,
            "public_metrics": {
                "retweet_count": int(likes * random() * 0.3),
                "reply_count": int(-log(1.0 - random())),
                "like_count": likes,
                "quote_count": 1 if random() < 0.05 else 0,
            },
            "edit_history_tweet_ids": [tweet_id],
        }

    def _attach_link(self, tweet: dict, org_id: str) -> None:
        rng = self.rng
        short = "https://t.co/" + "".join(
            rng.choices("abcdefghijkmnpqrstuvwxyzABCDEFGH23456789", k=10)
        )
        username = self.people.users[tweet["author_id"]]["username"]
        start = len(tweet["text"]) + 1
        tweet["text"] += " " + short
        expanded = f"https://github.com/{username}/{org_id}-demo"
        tweet["entities"] = {
            "urls": [
                {
                    "start": start,
                    "end": start + len(short),
                    "url": short,
                    "expanded_url": expanded,
                    "display_url": expanded.removeprefix("https://"),
                }
            ]
        }


def _mention_entity(start: int, username: str, user_id: str) -> dict:
    return {"start": start, "end": start + 1 + len(username), "username": username, "id": user_id}


def generate_tweets(
    rng: random.Random,
    organizations: list[Organization],
    people: XPeople,
    anchor: datetime,
    before: int,
    after: int,
) -> list[dict]:
    """``before`` tweets in the 7 days up to ``anchor`` and ``after`` in the day after it.

    Returned newest first (by id, which increases with created_at).
    """
    writer = _Writer(rng, organizations, people)
    for millis in _timestamps(rng, anchor, before, after):
        writer.write(millis)
    writer.tweets.reverse()
    return writer.tweets


def _timestamps(rng: random.Random, anchor: datetime, before: int, after: int) -> list[int]:
    """Strictly increasing epoch milliseconds, so ids are unique and ordered like created_at.

    Tweets "before" fall within (anchor - 7 days + 1 minute, anchor], i.e. their created_at second
    is at or before the anchor; tweets "after" are at least one second after it.
    """
    anchor_ms = int(anchor.timestamp() * 1000)
    random, span, later = (
        rng.random,
        RECENT_SEARCH_WINDOW_S * 1000 - 60_000,
        _AFTER_ANCHOR_MS - 1000,
    )
    stamps = [anchor_ms - int(random() * span) for _ in range(before)]
    stamps += [anchor_ms + 1000 + int(random() * later) for _ in range(after)]
    stamps.sort()
    for position in range(1, len(stamps)):
        if stamps[position] <= stamps[position - 1]:
            stamps[position] = stamps[position - 1] + 1
    return stamps
