"""Fixed-window rate limiting per credential, the way X counts requests per app token.

The first request with a token opens a window of ``window_s`` seconds; ``limit`` requests fit in
it; when it has passed the next request opens a new one. Windows use the wall clock (not the
sandbox's world clock) because clients wait on them in real time.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class Quota:
    limit: int
    remaining: int
    reset_epoch_s: int  # when the window ends, rounded up to a whole epoch second


class RateLimiter:
    def __init__(self, limit: int, window_s: float, clock: Callable[[], float] = time.time) -> None:
        self.limit = limit
        self.window_s = window_s
        self._clock = clock
        self._windows: dict[str, tuple[float, int]] = {}  # key -> (window end, requests used)
        self._lock = threading.Lock()

    def peek(self, key: str) -> Quota:
        """The quota ``key`` has now, without using any of it."""
        with self._lock:
            return self._quota(*self._current(key))

    def consume(self, key: str) -> Quota:
        """Count one request for ``key``; call only after ``peek`` showed some remaining."""
        with self._lock:
            ends, used = self._current(key)
            self._windows[key] = (ends, used + 1)
            return self._quota(ends, used + 1)

    def _current(self, key: str) -> tuple[float, int]:
        now = self._clock()
        window = self._windows.get(key)
        if window is None or now >= window[0]:
            return now + self.window_s, 0
        return window

    def _quota(self, ends: float, used: int) -> Quota:
        return Quota(self.limit, max(0, self.limit - used), math.ceil(ends))
