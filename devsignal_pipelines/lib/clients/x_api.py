"""X API v2 recent-search client (the subset DevSignal uses).

Shapes follow the real API: `data[]` posts, `includes.users[]` authors (with
`expansions=author_id`), `meta.{newest_id, oldest_id, result_count, next_token}` and, on a 200,
an optional top-level `errors[]` of partial errors. Rate limits follow the
`x-rate-limit-limit/-remaining/-reset` headers (reset in epoch seconds) or `Retry-After`.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import httpx

from devsignal_pipelines.lib.clients.http import (
    CallStats,
    MalformedBodyError,
    RetryPolicy,
    send_with_retries,
)

SEARCH_PATH = "/2/tweets/search/recent"
TWEET_FIELDS = "author_id,created_at,lang,conversation_id,in_reply_to_user_id,public_metrics,entities,referenced_tweets"
USER_FIELDS = "created_at,description,entities,location,name,profile_image_url,protected,public_metrics,url,username,verified"
MAX_QUERY_LENGTH = 512


class XApiError(RuntimeError):
    """The X API refused a request in a way a retry will not fix."""


class XApiAuthError(XApiError):
    """401/403: the bearer token is missing, wrong or revoked."""


@dataclass
class RateLimitStatus:
    limit: int | None = None
    remaining: int | None = None
    reset_epoch_s: int | None = None

    def update(self, headers: httpx.Headers) -> None:
        for attr, header in (
            ("limit", "x-rate-limit-limit"),
            ("remaining", "x-rate-limit-remaining"),
            ("reset_epoch_s", "x-rate-limit-reset"),
        ):
            value = headers.get(header)
            if value is not None and value.strip().lstrip("-").isdigit():
                setattr(self, attr, int(value))


@dataclass
class SearchPage:
    """One page of search results, split into usable records and quarantined ones."""

    tweets: list[dict[str, Any]]
    users: list[dict[str, Any]]
    newest_id: str | None
    next_token: str | None
    result_count: int
    partial_errors: list[dict[str, Any]] = field(default_factory=list)
    quarantined: list[tuple[str, str]] = field(default_factory=list)  # (reason, raw JSON)


def build_query(keywords: Sequence[str]) -> str:
    """`["acmedb", "acme db"]` -> `(acmedb OR "acme db") -is:retweet`; validated for the API's limits."""
    terms = []
    for keyword in keywords:
        keyword = " ".join(keyword.split())
        if not keyword:
            continue
        if '"' in keyword or "(" in keyword or ")" in keyword:
            raise ValueError(
                f"keyword {keyword!r}: quotes and parentheses are added by DevSignal; pass plain words"
            )
        terms.append(f'"{keyword}"' if " " in keyword else keyword)
    if not terms:
        raise ValueError("no keywords to search for; pass --keywords 'product,other phrase'")
    query = f"({' OR '.join(terms)}) -is:retweet"
    if len(query) > MAX_QUERY_LENGTH:
        raise ValueError(
            f"the keywords make a {len(query)}-character query; X allows {MAX_QUERY_LENGTH}"
        )
    return query


def check_search_body(body: Any) -> None:
    """The wrapper must be usable; single bad records are quarantined later, not here."""
    if not isinstance(body, dict) or not isinstance(body.get("meta"), dict):
        raise MalformedBodyError("search response has no 'meta' object")
    if not isinstance(body["meta"].get("result_count"), int):
        raise MalformedBodyError("search response meta has no integer 'result_count'")
    for key in ("data", "errors"):
        if key in body and not isinstance(body[key], list):
            raise MalformedBodyError(f"search response '{key}' is not a list")
    if "includes" in body and not isinstance(body["includes"], dict):
        raise MalformedBodyError("search response 'includes' is not an object")


def _tweet_problem(item: Any) -> str | None:
    if not isinstance(item, dict):
        return "post is not an object"
    for key in ("id", "text", "author_id", "created_at"):
        if not isinstance(item.get(key), str) or not item[key]:
            return f"post field '{key}' missing or not a string"
    if not item["id"].isdigit() or not item["author_id"].isdigit():
        return "post id or author_id is not a numeric string"
    return None


def _user_problem(item: Any) -> str | None:
    if not isinstance(item, dict):
        return "user is not an object"
    if not isinstance(item.get("id"), str) or not item["id"].isdigit():
        return "user field 'id' missing or not a numeric string"
    return None


def parse_search_page(body: dict[str, Any]) -> SearchPage:
    """Split a search response into valid posts/users and quarantined records."""
    check_search_body(body)
    page = SearchPage(
        tweets=[],
        users=[],
        newest_id=body["meta"].get("newest_id"),
        next_token=body["meta"].get("next_token"),
        result_count=body["meta"]["result_count"],
        partial_errors=[e for e in body.get("errors", []) if isinstance(e, dict)],
    )
    for item in body.get("data", []):
        problem = _tweet_problem(item)
        if problem:
            page.quarantined.append((problem, json.dumps(item, sort_keys=True)))
        else:
            page.tweets.append(item)
    for item in body.get("includes", {}).get("users", []) or []:
        problem = _user_problem(item)
        if problem:
            page.quarantined.append((problem, json.dumps(item, sort_keys=True)))
        else:
            page.users.append(item)
    return page


class XApiClient:
    """Recent search for one organization, with its bearer token, counters and rate-limit state."""

    def __init__(
        self,
        base_url: str,
        bearer_token: str,
        *,
        organization_id: str,
        token_env: str,
        policy: RetryPolicy | None = None,
        timeout_s: float = 30.0,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.time,
    ):
        self.organization_id = organization_id
        self.token_env = token_env
        self.policy = policy or RetryPolicy()
        self.stats = CallStats()
        self.rate_limit = RateLimitStatus()
        self._sleep = sleep
        self._clock = clock
        self._http = httpx.Client(
            base_url=base_url,
            headers={
                "Authorization": f"Bearer {bearer_token}",
                "User-Agent": "devsignal-pipelines",
            },
            timeout=timeout_s,
            follow_redirects=False,
        )

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> XApiClient:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def search_recent(
        self, query: str, since_id: str | None = None, max_results: int = 100
    ) -> Iterator[SearchPage]:
        """Yield every page of posts newer than `since_id`, newest first."""
        next_token: str | None = None
        while True:
            params: dict[str, Any] = {
                "query": query,
                "max_results": max_results,
                "expansions": "author_id",
                "tweet.fields": TWEET_FIELDS,
                "user.fields": USER_FIELDS,
            }
            if since_id:
                params["since_id"] = since_id
            if next_token:
                params["next_token"] = next_token
            page = parse_search_page(self._get(SEARCH_PATH, params))
            yield page
            if not page.next_token:
                return
            next_token = page.next_token

    def _get(self, path: str, params: dict[str, Any]) -> dict[str, Any]:
        request = self._http.build_request("GET", path, params=params)
        response, body = send_with_retries(
            self._http,
            request,
            policy=self.policy,
            stats=self.stats,
            rate_limit_wait=self._rate_limit_wait,
            check_body=check_search_body,
            sleep=self._sleep,
        )
        if response.status_code in (401, 403):
            raise XApiAuthError(
                f"X API answered HTTP {response.status_code} ({_detail(body)}) for organization "
                f"'{self.organization_id}': the bearer token in environment variable {self.token_env} is missing, "
                f"wrong or revoked. Set {self.token_env} to a valid X API bearer token and run the sync again."
            )
        if not response.is_success:
            raise XApiError(
                f"X API answered HTTP {response.status_code} for organization '{self.organization_id}': "
                f"{_detail(body)}. Check the organization's keywords (devsignal orgs list)."
            )
        return body

    def _rate_limit_wait(self, response: httpx.Response) -> float | None:
        self.rate_limit.update(response.headers)
        if response.status_code != 429:
            return None
        retry_after = response.headers.get("retry-after", "")
        if retry_after.strip().isdigit():
            return float(retry_after)
        reset = response.headers.get("x-rate-limit-reset", "")
        if reset.strip().isdigit():
            return max(int(reset) - self._clock(), 0.0) + 0.05
        return 60.0  # no hint at all: X windows are 15 minutes; try again in a minute


def _detail(body: Any) -> str:
    if isinstance(body, dict):
        if body.get("errors") and isinstance(body["errors"], list):
            messages = [
                str(e.get("message") or e.get("detail") or e)
                for e in body["errors"]
                if isinstance(e, dict)
            ]
            return "; ".join(messages) or str(body.get("title"))
        return str(body.get("detail") or body.get("title") or body)
    return "no error body"
