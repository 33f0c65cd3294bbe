"""GitHub's rate limits and the sandbox's GitHub knobs, shared by every GitHub route.

* Primary limit: ``rate_limit`` requests per ``rate_window_s`` per token (GitHub: 5,000 an
  hour), ``rate_limit_unauthenticated`` per client IP for requests without credentials (60 an
  hour). A window opens with the first request of a credential, as ``RateLimiter``'s do; its
  end is ``x-ratelimit-reset``. A spent limit is answered ``primary_limit_status`` (403, as
  GitHub mostly does; 429 is the documented alternative).
* Secondary limit: off by default. ``secondary_requests_per_window`` requests per
  ``secondary_window_s`` per credential, beyond which the answer is ``secondary_limit_status``
  (403 or 429) with "You have exceeded a secondary rate limit" and, if ``secondary_retry_after``,
  ``retry-after`` (seconds to the window's end). The shared ``429`` burst fault (``Faults``)
  gives the same answer at random, with ``retry-after`` = ``burst_429_reset_s``.
* ``stargazer_page_limit``: GitHub lists at most 400 pages of stargazers; later pages are 422.
* ``redirect_base_url``: where a renamed repository's 301 points (``Location``); by default the
  host the client called, as GitHub does. Set it to another host to see what a client does with
  a redirect off its API host (it should not send its token there).

Change knobs with ``state.github.configure(rate_limit=5, ...)`` (a test holding a
``SandboxServer``: ``server.state.github``) or ``POST /_sandbox/github`` with a JSON object of
the same names; ``GET`` it for the settings and counters, ``DELETE`` it to zero the counters
and start every window afresh. Changing a limit or a window also starts fresh windows.
Windows use the wall clock, not the world clock: clients wait on them in real time.
"""

from __future__ import annotations

import threading
from collections import Counter
from dataclasses import dataclass, fields, replace

from devsignal_pipelines.sandbox.ratelimit import RateLimiter


@dataclass(frozen=True)
class GitHubSettings:
    rate_limit: int = 5000  # per token and window
    rate_limit_unauthenticated: int = 60  # per client IP and window
    rate_window_s: float = 3600.0
    primary_limit_status: int = 403  # or 429
    secondary_requests_per_window: int | None = None  # per credential; None = no limit
    secondary_window_s: float = 60.0
    secondary_limit_status: int = 403  # or 429
    secondary_retry_after: bool = True  # send retry-after with a secondary-limit answer
    stargazer_page_limit: int = 400
    redirect_base_url: str | None = None  # 301 Locations on this base URL (default: as called)

    def __post_init__(self) -> None:
        if self.rate_limit < 1 or self.rate_limit_unauthenticated < 1 or self.rate_window_s <= 0:
            raise ValueError("rate limits must be >= 1 and rate_window_s > 0")
        if {self.primary_limit_status, self.secondary_limit_status} - {403, 429}:
            raise ValueError("primary_limit_status and secondary_limit_status are 403 or 429")
        if (
            self.secondary_requests_per_window is not None
            and self.secondary_requests_per_window < 1
        ):
            raise ValueError("secondary_requests_per_window must be >= 1 or None")
        if self.secondary_window_s <= 0 or self.stargazer_page_limit < 1:
            raise ValueError("secondary_window_s must be > 0 and stargazer_page_limit >= 1")


SETTING_NAMES = frozenset(f.name for f in fields(GitHubSettings))


class GitHubLimits:
    """The settings and the limiters built from them; ``counters`` count refusals and 304s."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.settings = GitHubSettings()
        self.counters: Counter[str] = Counter()
        self._build()

    def configure(self, **changes: object) -> GitHubSettings:
        unknown = set(changes) - SETTING_NAMES
        if unknown:
            raise ValueError(f"unknown GitHub settings {sorted(unknown)}")
        with self._lock:
            self.settings = replace(self.settings, **changes)  # type: ignore[arg-type]
            self._build()
            return self.settings

    def reset(self) -> None:
        with self._lock:
            self.counters.clear()
            self._build()

    def count(self, name: str) -> None:
        with self._lock:
            self.counters[name] += 1

    def primary(self, authenticated: bool) -> RateLimiter:
        return self._tokens if authenticated else self._addresses

    @property
    def secondary(self) -> RateLimiter | None:
        return self._secondary

    def _build(self) -> None:
        s = self.settings
        self._tokens = RateLimiter(s.rate_limit, s.rate_window_s)
        self._addresses = RateLimiter(s.rate_limit_unauthenticated, s.rate_window_s)
        self._secondary = (
            RateLimiter(s.secondary_requests_per_window, s.secondary_window_s)
            if s.secondary_requests_per_window
            else None
        )
