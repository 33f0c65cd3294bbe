"""Stack Exchange throttling: the daily quota per key and ``backoff`` per method and key.

* Quota: ``se_quota`` requests a day per application key (10,000 on the real API), and
  ``se_quota_anonymous`` for all requests without a key together (300; per IP on the real API,
  and the sandbox has one caller). A day is a fixed wall-clock window opened by the first
  request, like ``RateLimiter``'s windows.
* Backoff: when an answer carried ``backoff: N``, the same method (route template, e.g.
  ``/questions/{ids}/answers``) with the same key may not be called for N seconds. Calling it
  anyway is refused and counted: tests assert that a connector never violates a backoff.

Wall-clock time, not the world clock: clients wait on these in real time.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from devsignal_pipelines.sandbox.faults import Faults
from devsignal_pipelines.sandbox.ratelimit import RateLimiter

QUOTA_WINDOW_S = 86_400.0


class StackExchangeLimits:
    def __init__(self, faults: Faults, clock: Callable[[], float] = time.monotonic) -> None:
        self.keyed = RateLimiter(faults.se_quota, QUOTA_WINDOW_S)
        self.anonymous = RateLimiter(faults.se_quota_anonymous, QUOTA_WINDOW_S)
        self._clock = clock
        self._backoff_until: dict[tuple[str, str], float] = {}
        self._lock = threading.Lock()
        self.backoff_violations = 0
        self.quota_refusals = 0

    def quota_for(self, key: str | None) -> tuple[RateLimiter, str]:
        """The limiter and limiter key of a request with ``key`` (None = no key)."""
        return (self.keyed, key) if key is not None else (self.anonymous, "")

    def violates_backoff(self, key: str | None, method: str) -> bool:
        """True (and counted) if ``method`` is called before a backoff on it has expired."""
        with self._lock:
            until = self._backoff_until.get((key or "", method))
            if until is None or self._clock() >= until:
                return False
            self.backoff_violations += 1
            return True

    def impose_backoff(self, key: str | None, method: str, seconds: int) -> None:
        with self._lock:
            self._backoff_until[(key or "", method)] = self._clock() + seconds

    def count_quota_refusal(self) -> None:
        with self._lock:
            self.quota_refusals += 1
