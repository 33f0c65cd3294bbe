"""The state every sandbox route module shares: world, clock, credentials, limits, faults, log.

Route modules (X, Stack Exchange, enrichment, GitHub) each build their own indexes from
``state.world`` but share this object, so one clock, one request counter (which drives fault
decisions) and one request log cover the whole server.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Iterable
from datetime import UTC, datetime

from devsignal_pipelines.sandbox.faults import Fault, Faults
from devsignal_pipelines.sandbox.github.limits import GitHubLimits
from devsignal_pipelines.sandbox.ratelimit import RateLimiter
from devsignal_pipelines.sandbox.request_log import LoggedRequest
from devsignal_pipelines.sandbox.stackexchange.throttle import StackExchangeLimits
from devsignal_pipelines.sandbox.world import World

_MAX_LOGGED = 100_000  # keeps a long benchmark from growing memory without bound


class SandboxState:
    def __init__(self, world: World, faults: Faults, tokens: Iterable[str]) -> None:
        self.world = world
        self.faults = faults
        self._tokens = frozenset(tokens)
        self.rate_limiter = RateLimiter(faults.rate_limit, faults.rate_window_s)
        self.stackexchange = StackExchangeLimits(faults)
        self.github = GitHubLimits()  # GitHub's rate limits and knobs (github/limits.py)
        self._now = world.anchor
        self._requests: deque[LoggedRequest] = deque(maxlen=_MAX_LOGGED)
        self._request_number = 0
        self._lock = threading.Lock()

    def __repr__(self) -> str:  # never show the tokens
        now = self._now.isoformat()
        return f"SandboxState(seed={self.world.seed}, now={now}, faults={self.faults})"

    def accepts(self, token: str) -> bool:
        return token in self._tokens

    @property
    def now(self) -> datetime:
        """The server clock: only tweets, posts and GitHub activity up to it are visible."""
        return self._now

    def set_clock(self, now: datetime) -> None:
        """Move the server clock (either way); a naive datetime is taken to be UTC."""
        self._now = now.replace(tzinfo=UTC) if now.tzinfo is None else now.astimezone(UTC)

    def next_fault(self) -> Fault:
        """Number this request and decide its fault from (fault_seed, number)."""
        return self.next_request()[1]

    def next_request(self) -> tuple[int, Fault]:
        """Number this request; its number also decides other per-request draws (backoff)."""
        with self._lock:
            self._request_number += 1
            number = self._request_number
        return number, self.faults.decide(number)

    @property
    def throttle_violations(self) -> int:
        """Stack Exchange calls refused because they ignored a ``backoff``: should stay 0."""
        return self.stackexchange.backoff_violations

    @property
    def requests(self) -> list[LoggedRequest]:
        with self._lock:
            return list(self._requests)

    def log_request(self, entry: LoggedRequest) -> None:
        with self._lock:
            self._requests.append(entry)

    def clear_requests(self) -> None:
        with self._lock:
            self._requests.clear()
