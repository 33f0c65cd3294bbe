"""Stack Exchange API 2.3 client (the subset DevSignal uses), polite by construction.

Every answer is a wrapper `{items, has_more, quota_max, quota_remaining, backoff?}`; errors are
`{error_id, error_name, error_message}`. The client
- waits out `backoff` per method before calling that method again (calling early is a
  `throttle_violation`, which the API punishes),
- paces calls (default one per second),
- stops cleanly, with `QuotaReserveReached`, before spending the last `quota_reserve` requests,
so a sync can keep what it fetched and resume from there next time.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import httpx

from devsignal_pipelines.lib.sources.http import (
    CallStats,
    MalformedBodyError,
    RetryPolicy,
    WaitBudget,
    replace_credential,
    send_with_retries,
)

MAX_IDS_PER_CALL = 100
MAX_PAGE_SIZE = 100
_IP_BAN = re.compile(r"available in (\d+) seconds")


class StackExchangeError(RuntimeError):
    """The API refused a request in a way a retry will not fix."""


class StackExchangeKeyError(StackExchangeError):
    """The app key is wrong or revoked."""


class QuotaReserveReached(Exception):
    """Stop here: the remaining daily quota is at or below the configured reserve."""


class ThrottledError(Exception):
    """The API says no more requests for a long while (IP throttled); stop and resume later."""


@dataclass
class StackExchangeStats(CallStats):
    backoff_waits: int = 0
    backoff_wait_s: float = 0.0
    pacing_wait_s: float = 0.0
    quota_max: int | None = None
    quota_remaining: int | None = None
    calls_by_method: dict[str, int] = field(default_factory=dict)

    def as_metadata(self) -> dict[str, Any]:
        return {
            **super().as_metadata(),
            "backoff_waits": self.backoff_waits,
            "backoff_wait_seconds": round(self.backoff_wait_s, 3),
            "quota_max": self.quota_max,
            "quota_remaining": self.quota_remaining,
        }


def check_wrapper(body: Any) -> None:
    if not isinstance(body, dict) or not isinstance(body.get("items"), list):
        raise MalformedBodyError("Stack Exchange response has no 'items' list")
    for key in ("quota_remaining", "quota_max"):
        if not isinstance(body.get(key), int):
            raise MalformedBodyError(f"Stack Exchange response has no integer '{key}'")
    if "backoff" in body and not isinstance(body["backoff"], int):
        raise MalformedBodyError("Stack Exchange response 'backoff' is not an integer")


@dataclass
class Page:
    items: list[dict[str, Any]]
    has_more: bool


class StackExchangeClient:
    def __init__(
        self,
        base_url: str,
        key: str | None,
        *,
        organization_id: str,
        key_env: str | None,
        site: str = "stackoverflow",
        pace_s: float = 1.0,
        quota_reserve: int = 50,
        max_throttle_wait_s: float = 300.0,
        policy: RetryPolicy | None = None,
        timeout_s: float = 30.0,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
        on_wait: Callable[[str], None] | None = None,
    ):
        self.organization_id = organization_id
        self.key_env = key_env
        self.site = site
        self.pace_s = pace_s
        self.quota_reserve = quota_reserve
        self.max_throttle_wait_s = max_throttle_wait_s
        self.policy = policy or RetryPolicy()
        self.stats = StackExchangeStats()
        # Backoffs and throttles count, pacing does not. Spent: the same clean stop as a long
        # throttle (complete questions kept, each tag's cursor moved only past what was stored).
        self.waits = WaitBudget(
            self.policy.rate_limit_wait_budget_s, log=on_wait, stop=ThrottledError
        )
        self._key = key
        self._sleep = sleep
        self._clock = clock
        self._last_call_at: float | None = None
        self._backoff_until: dict[str, float] = {}
        self._http = httpx.Client(base_url=base_url, timeout=timeout_s, follow_redirects=False)

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> StackExchangeClient:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    # --- API methods ---------------------------------------------------------------------------

    def questions_by_activity(self, tag: str, min_activity: int | None) -> Iterator[dict[str, Any]]:
        """Questions tagged `tag` with last activity >= `min_activity`, oldest activity first.

        Keyset paging on the activity date (not page numbers): a question that gets new activity
        while we page moves to the end instead of shifting the pages under us.
        """
        floor, page_number, seen = min_activity, 1, set()
        while True:
            params = {
                "tagged": tag,
                "sort": "activity",
                "order": "asc",
                "pagesize": MAX_PAGE_SIZE,
                "page": page_number,
            }
            if floor is not None:
                params["min"] = floor
            page = self._page("questions", "/2.3/questions", params)
            for item in page.items:
                question_id = item.get("question_id") if isinstance(item, dict) else None
                if question_id is None:
                    yield item  # broken: quarantined by the caller, never taken for a duplicate
                elif question_id not in seen:
                    seen.add(question_id)
                    yield item
            if not page.has_more or not page.items:
                return
            last = page.items[-1].get("last_activity_date")
            if isinstance(last, int) and last != floor:
                floor, page_number = last, 1
            else:  # a full page of one timestamp: step through it by page number
                page_number += 1

    def questions(self, question_ids: Sequence[int]) -> Iterator[dict[str, Any]]:
        """The questions with these ids (`/questions/{ids}`), 100 ids at a time."""
        for batch in _batches(question_ids):
            yield from self._all_pages(
                "questions_by_id", f"/2.3/questions/{';'.join(map(str, batch))}"
            )

    def answers(self, question_ids: Sequence[int]) -> Iterator[dict[str, Any]]:
        """All answers of the given questions, asked for 100 question ids at a time."""
        for batch in _batches(question_ids):
            yield from self._all_pages(
                "answers", f"/2.3/questions/{';'.join(map(str, batch))}/answers"
            )

    def users(self, user_ids: Sequence[int]) -> Iterator[dict[str, Any]]:
        """Full user objects (with website_url), 100 ids at a time."""
        for batch in _batches(user_ids):
            yield from self._all_pages("users", f"/2.3/users/{';'.join(map(str, batch))}")

    # --- plumbing --------------------------------------------------------------------------------

    def _all_pages(self, method: str, path: str) -> Iterator[dict[str, Any]]:
        page_number = 1
        while True:
            page = self._page(
                method, path, {"pagesize": MAX_PAGE_SIZE, "page": page_number, "sort": "creation"}
            )
            yield from page.items
            if not page.has_more or not page.items:
                return
            page_number += 1

    def _page(self, method: str, path: str, params: dict[str, Any]) -> Page:
        if (
            self.stats.quota_remaining is not None
            and self.stats.quota_remaining <= self.quota_reserve
        ):
            raise QuotaReserveReached(
                f"quota_remaining {self.stats.quota_remaining} <= reserve {self.quota_reserve}"
            )
        self._wait_turn(method)
        request = self._http.build_request(
            "GET",
            path,
            params={**params, "site": self.site, **({"key": self._key} if self._key else {})},
        )
        response, body = send_with_retries(
            self._http,
            request,
            policy=self.policy,
            stats=self.stats,
            rate_limit_wait=self._throttle_wait,
            check_body=check_wrapper,
            sleep=self._sleep,
            budget=self.waits,
        )
        self._last_call_at = self._clock()
        self.stats.calls_by_method[method] = self.stats.calls_by_method.get(method, 0) + 1
        if not response.is_success:
            self._raise_for_error(response, body)
        self.stats.quota_max = body["quota_max"]
        self.stats.quota_remaining = body["quota_remaining"]
        if body.get("backoff"):
            self._backoff_until[method] = self._clock() + body["backoff"]
        return Page(items=body["items"], has_more=bool(body.get("has_more")))

    def _wait_turn(self, method: str) -> None:
        now = self._clock()
        backoff_wait = max(self._backoff_until.get(method, 0.0) - now, 0.0)
        pace_wait = max((self._last_call_at or -1e18) + self.pace_s - now, 0.0)
        if backoff_wait > 0:
            self.waits.spend(backoff_wait, f"Stack Exchange asked for a backoff on {method}")
            self.stats.backoff_waits += 1
            self.stats.backoff_wait_s += backoff_wait
        elif pace_wait > 0:
            self.stats.pacing_wait_s += pace_wait
        wait = max(backoff_wait, pace_wait)
        if wait > 0:
            self._sleep(wait)

    def _throttle_wait(self, response: httpx.Response) -> float | None:
        """A short IP throttle is waited out like a rate limit; a long one stops the sync."""
        if response.status_code not in (400, 429):
            return None
        error = _error(response)
        if error.get("error_name") != "throttle_violation":
            return None
        seconds = _IP_BAN.search(str(error.get("error_message", "")))
        if seconds and int(seconds.group(1)) <= self.max_throttle_wait_s:
            return float(seconds.group(1))
        raise ThrottledError(f"Stack Exchange throttled the requests: {error.get('error_message')}")

    def _raise_for_error(self, response: httpx.Response, body: Any) -> None:
        error = body if isinstance(body, dict) else {}
        name, message = (
            error.get("error_name", f"HTTP {response.status_code}"),
            error.get("error_message", ""),
        )
        if name in ("access_denied", "access_token_compromised", "key_required") or (
            name == "bad_parameter" and "key" in str(message).lower()
        ):
            raise StackExchangeKeyError(
                f"Stack Exchange refused the app key of organization '{self.organization_id}' ({name}: {message}). "
                f"{replace_credential(self.key_env, 'a valid key') if self.key_env else 'Set a valid key'}, "
                "or reconnect without --key-env to use "
                "the keyless quota."
            )
        raise StackExchangeError(
            f"Stack Exchange answered {response.status_code} {name} for organization '{self.organization_id}': "
            f"{message}"
        )


def _error(response: httpx.Response) -> dict[str, Any]:
    try:
        body = json.loads(response.content)
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


def _batches(ids: Sequence[int]) -> Iterator[list[int]]:
    unique = list(dict.fromkeys(ids))
    for start in range(0, len(unique), MAX_IDS_PER_CALL):
        yield unique[start : start + MAX_IDS_PER_CALL]
