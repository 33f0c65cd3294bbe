"""Search over a world's tweets without scanning them all on every request.

Tweets are kept newest first. A query is matched against every tweet once and the matching
positions are cached per query string; after that a request is a few bisects (clock, 7-day
window, since_id, until_id, pagination cursor) on sorted lists.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections import OrderedDict
from dataclasses import dataclass

from devsignal_pipelines.sandbox.x.query import (
    TweetFeatures,
    compile_query,
    padded_tokens,
    tweet_features,
)
from devsignal_pipelines.sandbox.x.snowflake import RECENT_SEARCH_WINDOW_S, snowflake_second

_CACHED_QUERIES = 256


@dataclass(frozen=True)
class IdBounds:
    """Which ids a request may see: ``lower < id < upper`` (either may be None) and visible."""

    now_second: int
    lower: int | None = None  # since_id
    upper: int | None = None  # until_id, or the pagination cursor, whichever is smaller


class TweetIndex:
    def __init__(self, tweets: list[dict], users: dict[str, dict]) -> None:
        self.tweets = tweets
        # Negated so that the newest-first lists are ascending, as bisect needs.
        self._negated_ids = [-int(tweet["id"]) for tweet in tweets]
        self._negated_seconds = [-snowflake_second(-negated) for negated in self._negated_ids]
        self._features = self._all_features(tweets, users)
        self._matches: OrderedDict[str, list[int]] = OrderedDict()

    @staticmethod
    def _all_features(tweets: list[dict], users: dict[str, dict]) -> list[TweetFeatures]:
        """Tokenize each distinct text once: generated worlds repeat texts a lot."""
        padded: dict[str, str] = {}
        features = []
        for tweet in tweets:
            text = tweet["text"]
            tokens = padded.get(text)
            if tokens is None:
                tokens = padded[text] = padded_tokens(text)
            features.append(tweet_features(tweet, tokens, users[tweet["author_id"]]["username"]))
        return features

    def matching_positions(self, query: str) -> list[int]:
        """Positions (ascending = newest first) of tweets matching ``query``; raises QueryError."""
        positions = self._matches.get(query)
        if positions is None:
            predicate = compile_query(query)
            positions = [i for i, features in enumerate(self._features) if predicate(features)]
            self._matches[query] = positions
            if len(self._matches) > _CACHED_QUERIES:
                self._matches.popitem(last=False)
        else:
            self._matches.move_to_end(query)
        return positions

    def search(self, query: str, bounds: IdBounds, limit: int) -> tuple[list[dict], bool]:
        """Up to ``limit`` matches within ``bounds``, newest first, and whether more exist."""
        positions = self.matching_positions(query)
        first, stop = self._position_range(bounds)
        start = bisect_left(positions, first)
        end = bisect_left(positions, stop, lo=start)
        page = positions[start : min(end, start + limit)]
        return [self.tweets[i] for i in page], start + limit < end

    def _position_range(self, bounds: IdBounds) -> tuple[int, int]:
        """[first, stop) over all tweets: created by now, within 7 days, inside the id bounds."""
        first = bisect_left(self._negated_seconds, -bounds.now_second)
        stop = bisect_right(self._negated_seconds, -(bounds.now_second - RECENT_SEARCH_WINDOW_S))
        if bounds.upper is not None:
            first = max(first, bisect_right(self._negated_ids, -bounds.upper))
        if bounds.lower is not None:
            stop = min(stop, bisect_left(self._negated_ids, -bounds.lower))
        return first, max(first, stop)
