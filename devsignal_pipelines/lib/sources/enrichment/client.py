"""Clearbit-style enrichment client: company by domain, person by email.

200 found, 202 queued (ask again on a later run, never busy-wait), 404 unknown record, 422
invalid input: each is a final answer for this run and is cached by the caller. Rate limits come
as 429 with Retry-After or, as the real API sometimes does, a 400 whose `error.type` is
`rate_limit`; both are waited out and asked again. Lookups go in batches of 10 with a pause
between batches, at most 5 in flight (the vendor's concurrency limit).
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import httpx

from devsignal_pipelines.lib.sources.http import (
    CallStats,
    RetryPolicy,
    WaitBudget,
    replace_credential,
    retry_after_seconds,
    send_with_retries,
)

PATHS = {"company": ("/v2/companies/find", "domain"), "person": ("/v2/people/find", "email")}
# The vendor serves each kind from its own host; a sandbox (DEVSIGNAL_ENRICHMENT_API_URL) serves both.
VENDOR_HOSTS = {"company": "https://company.clearbit.com", "person": "https://person.clearbit.com"}
STATUS_BY_HTTP = {200: "found", 202: "queued", 404: "not_found", 422: "invalid"}


class EnrichmentError(RuntimeError):
    """The enrichment API refused a request in a way a retry will not fix."""


class EnrichmentAuthError(EnrichmentError):
    """401/403: the API key is missing, wrong or revoked."""


@dataclass(frozen=True)
class Lookup:
    kind: str  # company | person
    key: str  # normalized domain or email


@dataclass(frozen=True)
class LookupResult:
    lookup: Lookup
    status: str  # found | queued | not_found | invalid
    http_status: int
    payload: dict[str, Any] | None


def _error_type(body: Any) -> str | None:
    error = body.get("error") if isinstance(body, dict) else None
    return error.get("type") if isinstance(error, dict) else None


class EnrichmentClient:
    def __init__(
        self,
        base_url: str | None,
        key: str,
        *,
        organization_id: str,
        key_env: str,
        max_in_flight: int = 5,
        batch_size: int = 10,
        batch_pause_s: float = 0.5,
        policy: RetryPolicy | None = None,
        timeout_s: float = 30.0,
        sleep: Callable[[float], None] = time.sleep,
        on_wait: Callable[[str], None] | None = None,
    ):
        self.organization_id = organization_id
        self.key_env = key_env
        self.max_in_flight = max_in_flight
        self.batch_size = batch_size
        self.batch_pause_s = batch_pause_s
        self.policy = policy or RetryPolicy()
        self.stats = CallStats()
        # Shared by the lookup threads. Spent: WaitBudgetSpent, a RateLimitExhaustedError (the
        # run fails; answers already written stay cached and the next run asks for the rest).
        self.waits = WaitBudget(self.policy.rate_limit_wait_budget_s, log=on_wait)
        self._sleep = sleep
        self._stats_lock = threading.Lock()
        self._hosts = {kind: (base_url or host).rstrip("/") for kind, host in VENDOR_HOSTS.items()}
        self._http = httpx.Client(
            headers={"Authorization": f"Bearer {key}", "User-Agent": "devsignal-pipelines"},
            timeout=timeout_s,
            follow_redirects=False,
            limits=httpx.Limits(
                max_connections=max_in_flight, max_keepalive_connections=max_in_flight
            ),
        )

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> EnrichmentClient:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def lookup_many(
        self,
        lookups: Sequence[Lookup],
        on_batch: Callable[[list[LookupResult]], None] | None = None,
    ) -> list[LookupResult]:
        """Look everything up, `batch_size` at a time with `max_in_flight` concurrent requests."""
        results: list[LookupResult] = []
        with ThreadPoolExecutor(
            max_workers=self.max_in_flight, thread_name_prefix="enrichment"
        ) as pool:
            for start in range(0, len(lookups), self.batch_size):
                if start and self.batch_pause_s:
                    self._sleep(self.batch_pause_s)
                batch = list(pool.map(self.lookup, lookups[start : start + self.batch_size]))
                results.extend(batch)
                if on_batch:
                    on_batch(batch)
        return results

    def lookup(self, lookup: Lookup) -> LookupResult:
        path, param = PATHS[lookup.kind]
        request = self._http.build_request(
            "GET", self._hosts[lookup.kind] + path, params={param: lookup.key}
        )
        stats = CallStats()
        response, body = send_with_retries(
            self._http,
            request,
            policy=self.policy,
            stats=stats,
            rate_limit_wait=self._rate_limit_wait,
            sleep=self._sleep,
            budget=self.waits,
        )
        self._add_stats(stats)
        status = STATUS_BY_HTTP.get(response.status_code)
        if response.status_code in (401, 403):
            raise EnrichmentAuthError(
                f"the enrichment API refused the key of organization '{self.organization_id}' "
                f"(HTTP {response.status_code}, {_error_type(body) or 'no error type'}): "
                f"{replace_credential(self.key_env, 'a valid API key')}, or reconnect with: devsignal orgs connect "
                f"{self.organization_id} enrichment --key-env VAR_NAME"
            )
        if status is None and 400 <= response.status_code < 500:
            status = "invalid"  # any other refusal of this one lookup: final for the TTL, not the run's end
        if status is None:
            raise EnrichmentError(
                f"the enrichment API answered HTTP {response.status_code} ({_error_type(body)}) for "
                f"{lookup.kind} {lookup.key!r} of organization '{self.organization_id}'"
            )
        payload = body if status == "found" and isinstance(body, dict) else None
        if status == "found" and payload is None:
            status = "not_found"  # a 200 without an object is as good as unknown; cached, retried after the TTL
        return LookupResult(lookup, status, response.status_code, payload)

    def _rate_limit_wait(self, response: httpx.Response) -> float | None:
        if response.status_code == 429:
            limited = True
        elif response.status_code == 400:
            try:
                limited = _error_type(json.loads(response.content)) == "rate_limit"
            except ValueError:
                limited = False
        else:
            limited = False
        if not limited:
            return None
        wait = retry_after_seconds(response.headers.get("retry-after"), time.time())
        return 1.0 if wait is None else wait

    def _add_stats(self, stats: CallStats) -> None:
        with self._stats_lock:
            self.stats.calls += stats.calls
            self.stats.retries += stats.retries
            self.stats.rate_limit_waits += stats.rate_limit_waits
            self.stats.rate_limit_wait_s += stats.rate_limit_wait_s
            self.stats.malformed_bodies += stats.malformed_bodies
            self.stats.http_s += stats.http_s
            for code, count in stats.status_counts.items():
                self.stats.status_counts[code] = self.stats.status_counts.get(code, 0) + count
