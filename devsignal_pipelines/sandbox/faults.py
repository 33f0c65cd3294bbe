"""Fault injection knobs for the sandbox APIs, and the deterministic decision of each fault.

A fault is a function of (``fault_seed``, request number) only, so a failing run replays
exactly. Faults never touch data or pagination state: the answer to a retried request is the
normal answer, so a client that retries correctly loses nothing.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from enum import StrEnum
from typing import Any


class FaultKind(StrEnum):
    """Stack Exchange routes use 5XX, SLOW and MALFORMED and treat the X-only kinds as NONE;
    enrichment and GitHub answer BURST_429 as their own rate-limit refusal (GitHub: a secondary
    rate limit)."""

    NONE = "none"
    BURST_429 = "burst_429"  # X only: an early 429 although the window is not spent
    ERROR_5XX = "5xx"
    SLOW = "slow"  # the normal answer, after ``slow_s`` seconds
    MALFORMED = "malformed"  # a 200 whose body is truncated JSON or has broken data items
    PARTIAL_ERRORS = "partial"  # X only: a 200 with a top-level errors[] next to the data


@dataclass(frozen=True)
class Fault:
    kind: FaultKind
    rng: random.Random  # seeded like the decision: use it for details (status, what breaks)


@dataclass(frozen=True)
class Faults:
    """All faults are off by default; the rate limit is X's recent-search app limit.

    Stack Exchange's ``backoff`` is not a fault but normal API behaviour, so it is ON by default
    (5% of successful answers, 1-2 s): every connector must honour it. The quotas are the real
    API's daily ones.
    """

    rate_limit: int = 450  # requests per window per bearer token
    rate_window_s: float = 900.0
    burst_429_rate: float = 0.0
    burst_429_reset_s: float = 1.0
    error_5xx_rate: float = 0.0
    slow_rate: float = 0.0
    slow_s: float = 0.5
    malformed_rate: float = 0.0
    partial_errors_rate: float = 0.0
    fault_seed: int = 0
    backoff_rate: float = 0.05  # share of successful Stack Exchange answers carrying `backoff`
    backoff_s: int = 2  # a backoff is 1..backoff_s whole seconds
    se_quota: int = 10_000  # Stack Exchange requests per key per day
    se_quota_anonymous: int = 300  # Stack Exchange requests per day without a key

    def __post_init__(self) -> None:
        rates = self._rates()
        if any(not 0.0 <= rate <= 1.0 for _, rate in rates):
            raise ValueError(f"fault rates must be within [0, 1]: {self}")
        if sum(rate for _, rate in rates) > 1.0 + 1e-9:
            raise ValueError(f"fault rates must sum to at most 1: {self}")
        if self.rate_limit < 1 or self.rate_window_s <= 0:
            raise ValueError("rate_limit must be >= 1 and rate_window_s > 0")
        if self.burst_429_reset_s < 0 or self.slow_s < 0:
            raise ValueError("burst_429_reset_s and slow_s must be >= 0")
        if not 0.0 <= self.backoff_rate <= 1.0 or int(self.backoff_s) != self.backoff_s:
            raise ValueError("backoff_rate must be within [0, 1] and backoff_s whole seconds")
        if self.backoff_s < 1 or self.se_quota < 1 or self.se_quota_anonymous < 1:
            raise ValueError("backoff_s, se_quota and se_quota_anonymous must be >= 1")

    def _rates(self) -> tuple[tuple[FaultKind, float], ...]:
        return (
            (FaultKind.BURST_429, self.burst_429_rate),
            (FaultKind.ERROR_5XX, self.error_5xx_rate),
            (FaultKind.MALFORMED, self.malformed_rate),
            (FaultKind.PARTIAL_ERRORS, self.partial_errors_rate),
            (FaultKind.SLOW, self.slow_rate),
        )

    def decide(self, request_number: int) -> Fault:
        """The fault (possibly NONE) of the ``request_number``-th request; at most one applies."""
        rng = random.Random(f"{self.fault_seed}:{request_number}")
        draw = rng.random()
        for kind, rate in self._rates():
            if draw < rate:
                return Fault(kind, rng)
            draw -= rate
        return Fault(FaultKind.NONE, rng)

    def backoff(self, request_number: int) -> int | None:
        """The ``backoff`` (whole seconds) a successful answer to that request carries, if any.

        Drawn apart from ``decide`` so that turning backoff on or off changes no other fault.
        """
        if self.backoff_rate <= 0.0:
            return None
        rng = random.Random(f"{self.fault_seed}:backoff:{request_number}")
        if rng.random() >= self.backoff_rate:
            return None
        return rng.randint(1, int(self.backoff_s))

    @classmethod
    def from_spec(cls, spec: str) -> Faults:
        """Parse the CLI form, e.g. ``"5xx=0.2,429=0.1:2,slow=0.05:0.5,malformed=0.05"``.

        Keys: ``5xx``, ``429`` (rate[:reset seconds]), ``slow`` (rate[:seconds]), ``malformed``,
        ``partial``, ``seed``, ``limit`` (requests[/window seconds]), and for Stack Exchange
        ``backoff`` (rate[:max seconds], e.g. ``backoff=0`` to turn it off) and ``quota``
        (per key per day[/without a key]). Empty or "none" = no faults (default backoff).
        """
        values: dict[str, Any] = {}
        for item in spec.split(","):
            item = item.strip()
            if not item or item.lower() == "none":
                continue
            key, sep, value = item.partition("=")
            if not sep:
                raise ValueError(f"fault spec item {item!r} is not key=value")
            try:
                values.update(_spec_item(key.strip().lower(), value.strip()))
            except ValueError as error:
                raise ValueError(f"bad fault spec item {item!r}: {error}") from None
        return cls(**values)


def _spec_item(key: str, value: str) -> dict[str, Any]:
    main, _, extra = value.partition(":")
    if key == "5xx":
        return {"error_5xx_rate": float(value)}
    if key == "429":
        return {"burst_429_rate": float(main)} | (
            {"burst_429_reset_s": float(extra)} if extra else {}
        )
    if key == "slow":
        return {"slow_rate": float(main)} | ({"slow_s": float(extra)} if extra else {})
    if key == "malformed":
        return {"malformed_rate": float(value)}
    if key == "partial":
        return {"partial_errors_rate": float(value)}
    if key == "seed":
        return {"fault_seed": int(value)}
    if key == "backoff":
        return {"backoff_rate": float(main)} | ({"backoff_s": int(extra)} if extra else {})
    if key == "quota":
        keyed, _, anonymous = value.partition("/")
        return {"se_quota": int(keyed)} | (
            {"se_quota_anonymous": int(anonymous)} if anonymous else {}
        )
    if key == "limit":
        requests, _, window = value.partition("/")
        return {"rate_limit": int(requests)} | ({"rate_window_s": float(window)} if window else {})
    raise ValueError(f"unknown key {key!r}")
