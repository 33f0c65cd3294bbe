"""X API v2 client (the subset DevSignal uses): recent search, and posts looked up by id.

Shapes follow the real API: `data[]` posts, `includes.users[]` authors (with
`expansions=author_id`), `meta.{newest_id, oldest_id, result_count, next_token}` and, on a 200,
an optional top-level `errors[]` of partial errors. A lookup (`GET /2/tweets?ids=`, up to 100
ids) has no `meta`; an id that is not found (deleted, or never existed) is an item of `errors[]`
with `parameter: "ids"` and `resource_id`. Rate limits follow the
`x-rate-limit-limit/-remaining/-reset` headers (reset in epoch seconds) or `Retry-After`.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import httpx

from devsignal_pipelines.lib.quarantine import QuarantinedRecord
from devsignal_pipelines.lib.sources.http import (
    BodyCheck,
    CallStats,
    MalformedBodyError,
    RetryPolicy,
    WaitBudget,
    credential_source,
    replace_credential,
    retry_after_seconds,
    send_with_retries,
)

SEARCH_PATH = "/2/tweets/search/recent"
LOOKUP_PATH = "/2/tweets"
MAX_IDS_PER_LOOKUP = 100
TWEET_FIELDS = "author_id,created_at,lang,conversation_id,in_reply_to_user_id,public_metrics,entities,referenced_tweets"
USER_FIELDS = "created_at,description,entities,location,name,profile_image_url,protected,public_metrics,url,username,verified"
MAX_QUERY_LENGTH = 512
MAX_KEYWORDS = 32


class XApiError(RuntimeError):
    """The X API refused a request in a way a retry will not fix."""


class XApiAuthError(XApiError):
    """401/403: the bearer token is missing, wrong or revoked."""


class SinceIdRejectedError(XApiError):
    """400 on since_id: the cursor is older than recent search's 7-day window."""


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
    """One page of search or lookup results, split into usable records and quarantined ones."""

    tweets: list[dict[str, Any]]
    users: list[dict[str, Any]]
    newest_id: str | None
    next_token: str | None
    result_count: int
    partial_errors: list[dict[str, Any]] = field(default_factory=list)
    quarantined: list[QuarantinedRecord] = field(default_factory=list)
    not_found: list[str] = field(default_factory=list)  # lookups: ids X says do not exist


# A single word X would read as query syntax: a negation, an operator (lang:en, is:reply,
# from:x) or a boolean. (Phrases are quoted, and inside quotes X reads everything as words.)
_OPERATOR = re.compile(r"^(?:-|\w+:|(?:OR|AND)$)")


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
        if " " not in keyword and _OPERATOR.search(keyword):
            raise ValueError(
                f"keyword {keyword!r} is X search syntax (-term, name:value, OR, AND), not a word; "
                "DevSignal searches for plain words and phrases only: pass the words themselves"
            )
        terms.append(f'"{keyword}"' if " " in keyword else keyword)
    if not terms:
        raise ValueError("no keywords to search for; pass --keywords 'product,other phrase'")
    if len(terms) > MAX_KEYWORDS:
        raise ValueError(
            f"{len(terms)} keywords given; at most {MAX_KEYWORDS} are tracked per organization"
        )
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
    for key in ("newest_id", "oldest_id"):
        value = body["meta"].get(key)
        if value is not None and not (isinstance(value, str) and value.isdigit()):
            raise MalformedBodyError(f"search response meta '{key}' is not a numeric string")
    for key in ("data", "errors"):
        if key in body and not isinstance(body[key], list):
            raise MalformedBodyError(f"search response '{key}' is not a list")
    if "includes" in body and not isinstance(body["includes"], dict):
        raise MalformedBodyError("search response 'includes' is not an object")


def check_lookup_body(body: Any) -> None:
    """A lookup answer has no `meta`; `data` is absent when none of the ids was found."""
    if not isinstance(body, dict):
        raise MalformedBodyError("lookup response is not an object")
    for key in ("data", "errors"):
        if key in body and not isinstance(body[key], list):
            raise MalformedBodyError(f"lookup response '{key}' is not a list")
    if "includes" in body and not isinstance(body["includes"], dict):
        raise MalformedBodyError("lookup response 'includes' is not an object")


_ISO_TIME = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:?\d{2})$")


def _metrics_problem(item: dict[str, Any], owner: str) -> str | None:
    metrics = item.get("public_metrics")
    if metrics is None:
        return None
    if not isinstance(metrics, dict) or not all(
        v is None or (isinstance(v, int) and not isinstance(v, bool)) for v in metrics.values()
    ):
        return f"{owner} public_metrics is not an object of integers"
    return None


def _tweet_problem(item: Any) -> str | None:
    if not isinstance(item, dict):
        return "post is not an object"
    for key in ("id", "text", "author_id", "created_at"):
        if not isinstance(item.get(key), str) or not item[key]:
            return f"post field '{key}' missing or not a string"
    if not item["id"].isdigit() or not item["author_id"].isdigit():
        return "post id or author_id is not a numeric string"
    if not _ISO_TIME.match(item["created_at"]):
        return "post created_at is not an ISO 8601 time"
    return _metrics_problem(item, "post")


def _user_problem(item: Any) -> str | None:
    if not isinstance(item, dict):
        return "user is not an object"
    if not isinstance(item.get("id"), str) or not item["id"].isdigit():
        return "user field 'id' missing or not a numeric string"
    created_at = item.get("created_at")
    if created_at is not None and not (isinstance(created_at, str) and _ISO_TIME.match(created_at)):
        return "user created_at is not an ISO 8601 time"
    for key in ("username", "name", "description", "url", "location", "profile_image_url"):
        if item.get(key) is not None and not isinstance(item[key], str):
            return f"user field '{key}' is not a string"
    if item.get("entities") is not None and not isinstance(item["entities"], dict):
        return "user entities is not an object"
    return _metrics_problem(item, "user")


def _numeric(value: Any) -> str | None:
    return value if isinstance(value, str) and value.isascii() and value.isdigit() else None


def post_record_id(item: Any) -> str | None:
    """The id a broken post can be looked up by: its `id`, else the last of its
    `edit_history_tweet_ids` (a default field, oldest version first: the last is the version
    returned). None when neither is readable."""
    if not isinstance(item, dict):
        return None
    history = item.get("edit_history_tweet_ids")
    latest = history[-1] if isinstance(history, list) and history else None
    return _numeric(item.get("id")) or _numeric(latest)


def _split_records(body: dict[str, Any], page: SearchPage) -> SearchPage:
    for item in body.get("data", []):
        problem = _tweet_problem(item)
        if problem:
            raw = json.dumps(item, sort_keys=True)
            page.quarantined.append(QuarantinedRecord(problem, raw, "post", post_record_id(item)))
        else:
            page.tweets.append(item)
    for item in body.get("includes", {}).get("users", []) or []:
        problem = _user_problem(item)
        if problem:
            user_id = _numeric(item.get("id")) if isinstance(item, dict) else None
            raw = json.dumps(item, sort_keys=True)
            page.quarantined.append(QuarantinedRecord(problem, raw, "user", user_id))
        else:
            page.users.append(item)
    return page


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
    return _split_records(body, page)


def parse_lookup_page(body: dict[str, Any]) -> SearchPage:
    """Split a `GET /2/tweets?ids=` response like a search page; not-found ids apart."""
    check_lookup_body(body)
    errors = [e for e in body.get("errors", []) if isinstance(e, dict)]
    missing = [e for e in errors if e.get("parameter") == "ids" and _numeric(e.get("resource_id"))]
    page = SearchPage(
        tweets=[],
        users=[],
        newest_id=None,
        next_token=None,
        result_count=len(body.get("data", [])),
        partial_errors=[e for e in errors if e not in missing],
        not_found=[e["resource_id"] for e in missing],
    )
    return _split_records(body, page)


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
        on_wait: Callable[[str], None] | None = None,
    ):
        self.organization_id = organization_id
        self.token_env = token_env
        self.policy = policy or RetryPolicy()
        self.stats = CallStats()
        # Spent: WaitBudgetSpent, a RateLimitExhaustedError (the run fails, since_id kept).
        self.waits = WaitBudget(self.policy.rate_limit_wait_budget_s, log=on_wait)
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
            page = parse_search_page(self._get(SEARCH_PATH, params, check_search_body))
            yield page
            if not page.next_token:
                return
            next_token = page.next_token

    def lookup_tweets(self, ids: Sequence[str]) -> Iterator[SearchPage]:
        """The posts with these ids (and their authors), 100 ids a request."""
        unique = list(dict.fromkeys(ids))
        for start in range(0, len(unique), MAX_IDS_PER_LOOKUP):
            params = {
                "ids": ",".join(unique[start : start + MAX_IDS_PER_LOOKUP]),
                "expansions": "author_id",
                "tweet.fields": TWEET_FIELDS,
                "user.fields": USER_FIELDS,
            }
            yield parse_lookup_page(self._get(LOOKUP_PATH, params, check_lookup_body))

    def _get(self, path: str, params: dict[str, Any], check_body: BodyCheck) -> dict[str, Any]:
        request = self._http.build_request("GET", path, params=params)
        response, body = send_with_retries(
            self._http,
            request,
            policy=self.policy,
            stats=self.stats,
            rate_limit_wait=self._rate_limit_wait,
            check_body=check_body,
            sleep=self._sleep,
            budget=self.waits,
        )
        if response.status_code in (401, 403):
            raise XApiAuthError(
                f"X API answered HTTP {response.status_code} ({_detail(body)}) for organization "
                f"'{self.organization_id}': the bearer token in {credential_source(self.token_env)} is "
                f"missing, wrong or revoked. "
                f"{replace_credential(self.token_env, 'a valid X API bearer token')} "
                "and run the sync again."
            )
        if response.status_code == 400 and "since_id" in _rejected_parameters(body):
            raise SinceIdRejectedError(
                f"X API refused since_id {params.get('since_id')}: {_detail(body)}"
            )
        if not response.is_success:
            what = "the search" if path == SEARCH_PATH else f"GET {path}"
            raise XApiError(
                f"X API refused {what} for organization '{self.organization_id}' with HTTP "
                f"{response.status_code}: {_detail(body)}. Query parameters: "
                f"{ {k: v for k, v in params.items() if k in ('query', 'since_id', 'max_results', 'ids')} }"
            )
        return body

    def _rate_limit_wait(self, response: httpx.Response) -> float | None:
        self.rate_limit.update(response.headers)
        if response.status_code != 429:
            return None
        retry_after = retry_after_seconds(response.headers.get("retry-after"), self._clock())
        if retry_after is not None:
            return retry_after
        reset = response.headers.get("x-rate-limit-reset", "")
        if reset.strip().isdigit():
            return max(int(reset) - self._clock(), 0.0) + 0.05
        return 60.0  # no hint at all: X windows are 15 minutes; try again in a minute


def _rejected_parameters(body: Any) -> set[str]:
    if not isinstance(body, dict) or not isinstance(body.get("errors"), list):
        return set()
    return {
        name for e in body["errors"] if isinstance(e, dict) and isinstance(e.get("parameters"), dict)
        for name in e["parameters"]
    }  # fmt: skip


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
