"""X's time conventions, shared by the generators and the API: snowflake ids and timestamps."""

from __future__ import annotations

from datetime import UTC, datetime

TWITTER_EPOCH_MS = 1288834974657  # snowflake ids count milliseconds from this instant
RECENT_SEARCH_WINDOW_S = 7 * 86_400  # recent search sees the last 7 days


def snowflake_second(snowflake: int) -> int:
    """The epoch second a snowflake id was minted (a tweet's created_at second)."""
    return ((snowflake >> 22) + TWITTER_EPOCH_MS) // 1000


def x_timestamp(moment: datetime) -> str:
    """X API v2 timestamps: UTC with a millisecond part that is always ``.000`` for created_at."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z")
