"""The one HTTP retry helper every API client uses.

Transient failures (5xx, timeouts, connection errors, unreadable bodies) are retried a bounded
number of times with jittered exponential backoff (tenacity). Rate limits are not failures: the
client decides how long the vendor asks it to wait, and `send_with_retries` sleeps that long
(capped) and asks again for the same page, counting the wait. Every wait is logged and charged to
the client's `WaitBudget`: once a run has waited its budget, the wait that would exceed it stops
the sync instead (each client raises its own clean-stop exception), and the next run resumes.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime
from typing import Any

import httpx
from tenacity import Retrying, retry_if_exception_type, stop_after_attempt, wait_random_exponential


class TransientHTTPError(Exception):
    """A failure worth retrying: the same request may well succeed in a moment."""


class RateLimitExhaustedError(Exception):
    """The vendor kept answering 'rate limited' beyond the configured number of waits."""


class WaitBudgetSpent(RateLimitExhaustedError):
    """The run has waited out rate limits for as long as it may (RetryPolicy.rate_limit_wait_budget_s)."""


# Seconds one sync may spend waiting out rate limits, all calls together: a 15-minute X window.
DEFAULT_WAIT_BUDGET_S = 900.0


def credential_source(where: str) -> str:
    """Where a credential came from, for an error message: 'environment variable ACME_X_TOKEN',
    or the stored credential's own description ('<the token stored with --token-stdin>', as
    defs/resources.py lookup_secret names it)."""
    return f"environment variable {where}" if where.isidentifier() else where


def replace_credential(where: str, what: str) -> str:
    """How to put a valid credential where this one came from: 'Set ACME_X_TOKEN to {what}', or
    for a stored one, store it again with the flag it was stored with."""
    if where.isidentifier():
        return f"Set {where} to {what}"
    flag = "--key-stdin" if "--key-stdin" in where else "--token-stdin"
    return f"Store {what} again with `devsignal orgs connect ... {flag}`"


@dataclass(frozen=True)
class RetryPolicy:
    max_attempts: int = 5
    backoff_base_s: float = 0.5
    backoff_max_s: float = 30.0
    max_rate_limit_wait_s: float = 300.0
    max_rate_limit_waits: int = 50
    rate_limit_wait_budget_s: float = DEFAULT_WAIT_BUDGET_S


def _ignore(_message: str) -> None:
    pass


class WaitBudget:
    """The seconds one client (one sync of one organization) may spend waiting out rate limits.

    `spend` logs each wait with the budget used so far, or, when the wait would exceed what is
    left, logs that and raises `stop(message)`: the client's clean stop (RateLimitStop for
    GitHub, ThrottledError for Stack Exchange; WaitBudgetSpent by default). Thread-safe: the
    enrichment client waits in several threads.
    """

    def __init__(
        self,
        total_s: float = DEFAULT_WAIT_BUDGET_S,
        log: Callable[[str], None] | None = None,
        stop: Callable[[str], Exception] = WaitBudgetSpent,
    ):
        self.total_s = total_s
        self.spent_s = 0.0
        self.waits = 0
        self._log = log or _ignore
        self._stop = stop
        self._lock = threading.Lock()

    def spend(self, seconds: float, why: str) -> None:
        """Charge a wait of `seconds` (the caller sleeps), or raise the stop when it does not fit."""
        with self._lock:
            left = self.total_s - self.spent_s
            if seconds > left:
                message = (
                    f"{why}: asked to wait {seconds:.0f}s but only {max(left, 0):.0f}s of the run's "
                    f"{self.total_s:.0f}s rate-limit waiting budget is left ({self.waits} waits, "
                    f"{self.spent_s:.0f}s so far); stopping here, the next run resumes from the "
                    "saved cursors"
                )
                self._log(message)
                raise self._stop(message)
            self.spent_s += seconds
            self.waits += 1
            note = f"wait {self.waits}, {self.spent_s:.0f}s of the {self.total_s:.0f}s budget"
        self._log(f"{why}: waiting {seconds:.0f}s ({note})")


@dataclass
class CallStats:
    """Counters a sync reports as materialization metadata."""

    calls: int = 0
    retries: int = 0
    rate_limit_waits: int = 0
    rate_limit_wait_s: float = 0.0
    malformed_bodies: int = 0
    http_s: float = 0.0
    status_counts: dict[int, int] = field(default_factory=dict)

    def as_metadata(self) -> dict[str, Any]:
        return {
            "api_calls": self.calls,
            "api_retries": self.retries,
            "rate_limit_waits": self.rate_limit_waits,
            "rate_limit_wait_seconds": round(self.rate_limit_wait_s, 3),
            "malformed_bodies": self.malformed_bodies,
        }


def retry_after_seconds(value: str | None, now: float) -> float | None:
    """A Retry-After header in either form: delta-seconds or an HTTP date."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        return max(parsedate_to_datetime(value).timestamp() - now, 0.0)
    except (TypeError, ValueError):
        return None


# Given a response, return seconds to wait before asking again, or None when it is not rate limited.
RateLimitRule = Callable[[httpx.Response], float | None]
# Raise MalformedBodyError when a parsed 2xx body is not what the API promises.
BodyCheck = Callable[[Any], None]


class MalformedBodyError(TransientHTTPError):
    """A 2xx body that parsed but is not shaped as the API documents; asked again, then reported."""


def send_with_retries(
    client: httpx.Client,
    request: httpx.Request,
    *,
    policy: RetryPolicy,
    stats: CallStats,
    rate_limit_wait: RateLimitRule,
    check_body: BodyCheck | None = None,
    sleep: Callable[[float], None] = time.sleep,
    budget: WaitBudget | None = None,
) -> tuple[httpx.Response, Any]:
    """Send `request` until it gives a usable answer; return the response and its parsed JSON body.

    4xx answers other than rate limits are returned to the caller, which knows what they mean.
    Rate-limit waits are charged to `budget` (default: one of `policy.rate_limit_wait_budget_s`
    for this request alone).
    """
    budget = budget or WaitBudget(policy.rate_limit_wait_budget_s)
    rate_limit_waits = 0
    while True:
        response, body = _send_transient_safe(client, request, policy, stats, check_body, sleep)
        wait_s = rate_limit_wait(response)
        if wait_s is None:
            return response, body
        rate_limit_waits += 1
        if rate_limit_waits > policy.max_rate_limit_waits:
            raise RateLimitExhaustedError(
                f"{request.url.host} still rate-limits after {policy.max_rate_limit_waits} waits"
            )
        wait_s = min(max(wait_s, 0.0), policy.max_rate_limit_wait_s)
        budget.spend(wait_s, f"{request.url.host} rate-limited {request.url.path}")
        stats.rate_limit_waits += 1
        stats.rate_limit_wait_s += wait_s
        sleep(wait_s)


def _send_transient_safe(
    client: httpx.Client,
    request: httpx.Request,
    policy: RetryPolicy,
    stats: CallStats,
    check_body: BodyCheck | None,
    sleep: Callable[[float], None],
) -> tuple[httpx.Response, Any]:
    def before_retry(_state: Any) -> None:
        stats.retries += 1

    retrying = Retrying(
        retry=retry_if_exception_type(TransientHTTPError),
        stop=stop_after_attempt(policy.max_attempts),
        wait=wait_random_exponential(multiplier=policy.backoff_base_s, max=policy.backoff_max_s),
        sleep=sleep,
        before_sleep=before_retry,
        reraise=True,
    )
    for attempt in retrying:
        with attempt:
            response, body = _send_once(client, request, stats)
            if check_body is not None and response.is_success:
                try:
                    check_body(body)
                except MalformedBodyError:
                    stats.malformed_bodies += 1
                    raise
            return response, body
    raise AssertionError("unreachable: tenacity reraises")  # pragma: no cover


def _send_once(
    client: httpx.Client, request: httpx.Request, stats: CallStats
) -> tuple[httpx.Response, Any]:
    stats.calls += 1
    started = time.perf_counter()
    try:
        response = client.send(request)
    except (httpx.TimeoutException, httpx.NetworkError, httpx.RemoteProtocolError) as exc:
        raise TransientHTTPError(f"{type(exc).__name__} talking to {request.url.host}") from exc
    finally:
        stats.http_s += time.perf_counter() - started
    stats.status_counts[response.status_code] = stats.status_counts.get(response.status_code, 0) + 1
    if response.status_code >= 500:
        raise TransientHTTPError(
            f"HTTP {response.status_code} from {request.url.host}{request.url.path}"
        )
    try:
        body = json.loads(response.content) if response.content else None
    except ValueError as exc:
        if not response.is_success:
            # An error page that is not JSON still carries its status (429, 401, ...): let the
            # caller act on that instead of retrying a "malformed body".
            return response, None
        stats.malformed_bodies += 1
        # A truncated or garbled body is a transport problem: the same request is asked again.
        raise TransientHTTPError(
            f"unreadable JSON body from {request.url.host}{request.url.path} (HTTP {response.status_code})"
        ) from exc
    return response, body
