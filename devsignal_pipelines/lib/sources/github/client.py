"""GitHub REST API v3 client (the subset DevSignal reads), polite and cheap by construction.

- Pages are followed through the `Link` header (`rel="next"`), never rebuilt: GitHub switches
  some next links to `/repositories/{id}/...`. `per_page` is 100, GitHub's maximum.
- Conditional requests: a saved `ETag` goes out as `If-None-Match`; a 304 has no body and, sent
  with a token, does not count against the primary rate limit. The sync uses this to ask "did
  anything change?" with one request per resource.
- Primary rate limit (`x-ratelimit-remaining`, `x-ratelimit-reset` in UTC epoch seconds, 60 an
  hour without a token, 5,000 with one): the client stops cleanly (`RateLimitStop`) before
  spending the `reserve` left for other syncs of the same token, and when GitHub says the limit
  is spent (403 / 429 with remaining 0) it waits for the reset if that is within
  `max_rate_limit_wait_s`, else stops cleanly. Secondary rate limits (403 / 429 with
  `retry-after`, or the "secondary rate limit" message without it: wait a minute) are waited
  out the same way.
- A renamed repository answers 301 with the new location: followed once, and reported, but only
  on the same origin (scheme, host and port) as the base URL: the token is never sent elsewhere.
- 5xx, timeouts and unreadable bodies are retried by the one retry helper (lib/sources/http.py).
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx

from devsignal_pipelines.lib.sources.http import (
    CallStats,
    MalformedBodyError,
    RetryPolicy,
    WaitBudget,
    credential_source,
    replace_credential,
    retry_after_seconds,
    send_with_retries,
)

DEFAULT_BASE_URL = "https://api.github.com"
PER_PAGE = 100
STAR_MEDIA_TYPE = "application/vnd.github.star+json"
JSON_MEDIA_TYPE = "application/vnd.github+json"
API_VERSION = "2022-11-28"
SECONDARY_WAIT_S = 60.0  # GitHub: without retry-after, wait at least a minute
_LINK = re.compile(r'<([^>]+)>;\s*rel="([^"]+)"')


class GitHubError(RuntimeError):
    """GitHub refused a request in a way a retry will not fix."""


class GitHubAuthError(GitHubError):
    """401, or 403 that is not a rate limit: the token is wrong, expired or lacks access."""


class NotFound(GitHubError):
    """404: the repository or user does not exist (or is private, or the account was deleted)."""


class RepositoryNotFound(NotFound):
    """404 for a repository: it does not exist, or it is private and the token cannot see it."""


class RedirectRefused(GitHubError):
    """A redirect to another origin than the base URL: not followed, so the token stays home."""


class PageLimitReached(GitHubError):
    """422 past the last page GitHub serves for a listing (stargazers stop at 400 pages)."""


class RateLimitStop(Exception):
    """Stop here and keep what is complete: the rate limit is (nearly) spent for longer than the
    configured wait; the next run continues from the saved cursors."""


@dataclass
class RateLimit:
    limit: int | None = None
    remaining: int | None = None
    used: int | None = None
    reset_epoch_s: int | None = None

    def update(self, headers: httpx.Headers) -> None:
        for attr in ("limit", "remaining", "used"):
            value = headers.get(f"x-ratelimit-{attr}")
            if value is not None and value.strip().isdigit():
                setattr(self, attr, int(value))
        reset = headers.get("x-ratelimit-reset")
        if reset is not None and reset.strip().isdigit():
            self.reset_epoch_s = int(reset)


@dataclass
class GitHubStats(CallStats):
    not_modified: int = 0  # 304s: unchanged, free with a token
    redirects_followed: int = 0
    rate: RateLimit = field(default_factory=RateLimit)
    calls_by_resource: dict[str, int] = field(default_factory=dict)

    def as_metadata(self) -> dict[str, Any]:
        return {
            **super().as_metadata(),
            "not_modified_304": self.not_modified,
            "redirects_followed": self.redirects_followed,
            "rate_limit": self.rate.limit,
            "rate_limit_remaining": self.rate.remaining,
            "rate_limit_reset_epoch_s": self.rate.reset_epoch_s,
        }


@dataclass
class Page:
    """One page of a listing: its items (None for a 304), its ETag and the Link relations."""

    url: str
    items: list[Any] | None
    etag: str | None
    links: dict[str, str]

    @property
    def not_modified(self) -> bool:
        return self.items is None


def parse_links(header: str | None) -> dict[str, str]:
    """`<url>; rel="next", <url>; rel="last"` -> {"next": url, "last": url}."""
    return {rel: url for url, rel in _LINK.findall(header or "")}


def page_number(url: str | None) -> int | None:
    if not url:
        return None
    value = httpx.URL(url).params.get("page")
    return int(value) if value and value.isdigit() else None


def _check_body(body: Any) -> None:
    if not isinstance(body, list | dict):
        raise MalformedBodyError("GitHub answered with a body that is neither a list nor an object")


class GitHubClient:
    def __init__(
        self,
        base_url: str,
        token: str | None,
        *,
        organization_id: str,
        token_env: str | None,
        reserve: int = 500,
        max_rate_limit_wait_s: float = 300.0,
        policy: RetryPolicy | None = None,
        timeout_s: float = 30.0,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.time,
        on_wait: Callable[[str], None] | None = None,
    ):
        self.organization_id = organization_id
        self.token_env = token_env
        # Without a token the whole budget is 60 an hour: keep a tenth of it, not 500.
        self.reserve = reserve if token else min(reserve, 6)
        self.max_rate_limit_wait_s = max_rate_limit_wait_s
        self.policy = policy or RetryPolicy(max_rate_limit_wait_s=max_rate_limit_wait_s)
        self.stats = GitHubStats()
        # Spent: the same clean stop as a reset too far away (complete reads kept, cursors saved).
        self.waits = WaitBudget(
            self.policy.rate_limit_wait_budget_s, log=on_wait, stop=RateLimitStop
        )
        self._sleep = sleep
        self._clock = clock
        headers = {
            "Accept": JSON_MEDIA_TYPE,
            "X-GitHub-Api-Version": API_VERSION,
            "User-Agent": "devsignal-pipelines",
        }
        if token:
            headers["Authorization"] = f"Bearer {token}"
        self._http = httpx.Client(
            base_url=base_url, headers=headers, timeout=timeout_s, follow_redirects=False
        )

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> GitHubClient:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    # --- API methods -----------------------------------------------------------------------------

    def repository(self, full_name: str, etag: str | None = None) -> tuple[Page, str]:
        """The repository object (or a 304), and the name it answers to now (after a rename)."""
        path = f"/repos/{full_name}"
        try:
            page = self.get(path, etag=etag, resource="repository", follow_rename=True)
        except RedirectRefused as refused:
            raise RedirectRefused(
                f"GitHub repository {full_name!r} of organization '{self.organization_id}' "
                f"{refused}"
            ) from None
        except NotFound:
            raise RepositoryNotFound(
                f"GitHub repository {full_name!r} of organization '{self.organization_id}' does not "
                "exist or is private"
                + (
                    f" and the token in {self.token_env} cannot see it"
                    if self.token_env
                    else " (no token is configured: pass --token-env for private repositories)"
                )
            ) from None
        name = page.items[0].get("full_name") if page.items else None
        return page, name if isinstance(name, str) else full_name

    def url(self, path: str, params: dict[str, Any] | None = None) -> str:
        """The absolute URL of `path` with `params` and GitHub's largest page size."""
        request = self._http.build_request(
            "GET", path, params={**(params or {}), "per_page": PER_PAGE}
        )
        return str(request.url)

    def pages(
        self,
        path: str,
        params: dict[str, Any] | None = None,
        *,
        etag: str | None = None,
        accept: str | None = None,
        resource: str = "listing",
    ) -> Iterator[Page]:
        """The pages of a listing, following `rel="next"`. `etag` applies to the first page: a
        304 yields one not-modified page and stops."""
        url: str | None = self.url(path, params)
        first = True
        while url:
            page = self.get(url, etag=etag if first else None, accept=accept, resource=resource)
            yield page
            if page.not_modified:
                return
            url, first = page.links.get("next"), False
            if url and _origin(httpx.URL(url)) != _origin(self._http.base_url):
                raise RedirectRefused(
                    f"the next page of {path} is at {url}, another origin than "
                    f"{_origin_text(self._http.base_url)}: not followed, so the token is not "
                    "sent there"
                )

    def get(
        self,
        url: str,
        *,
        etag: str | None = None,
        accept: str | None = None,
        resource: str = "listing",
        follow_rename: bool = False,
    ) -> Page:
        """One GET: the body as a list of items (an object becomes a one-item list)."""
        self._respect_reserve()
        headers = {}
        if etag:
            headers["If-None-Match"] = etag
        if accept:
            headers["Accept"] = accept
        request = self._http.build_request("GET", url, headers=headers)
        response, body = self._send(request, resource)
        if response.status_code in (301, 302, 307, 308) and follow_rename:
            location = response.headers.get("location")
            if not location:
                raise GitHubError(
                    f"GitHub answered {response.status_code} without a Location for {url}"
                )
            target = request.url.join(location)
            if _origin(target) != _origin(self._http.base_url):
                raise RedirectRefused(
                    f"answered {response.status_code} to {target}, another origin than "
                    f"{_origin_text(self._http.base_url)}: not followed, so the token is not "
                    "sent there"
                )
            self.stats.redirects_followed += 1
            request = self._http.build_request("GET", target, headers=headers)
            response, body = self._send(request, resource)  # followed once: never a loop
        if response.status_code == 304:
            self.stats.not_modified += 1
            return Page(str(request.url), None, response.headers.get("etag") or etag, {})
        if not response.is_success:
            self._raise_for_error(response, body, str(request.url))
        items = body if isinstance(body, list) else [body]
        return Page(
            str(request.url),
            items,
            response.headers.get("etag"),
            parse_links(response.headers.get("link")),
        )

    # --- plumbing --------------------------------------------------------------------------------

    def _send(self, request: httpx.Request, resource: str) -> tuple[httpx.Response, Any]:
        response, body = send_with_retries(
            self._http,
            request,
            policy=self.policy,
            stats=self.stats,
            rate_limit_wait=self._rate_limit_wait,
            check_body=_check_body,
            sleep=self._sleep,
            budget=self.waits,
        )
        self.stats.calls_by_resource[resource] = self.stats.calls_by_resource.get(resource, 0) + 1
        self.stats.rate.update(response.headers)
        return response, body

    def _respect_reserve(self) -> None:
        rate = self.stats.rate
        if rate.remaining is None or rate.remaining > self.reserve:
            return
        wait = (rate.reset_epoch_s or 0) - self._clock()
        if wait > self.max_rate_limit_wait_s:
            raise RateLimitStop(
                f"{rate.remaining} of {rate.limit} GitHub requests left this hour, at or below the "
                f"reserve of {self.reserve} kept for other syncs of the token; resets in {wait:.0f}s"
            )
        if wait > 0:
            self.waits.spend(
                wait, f"GitHub requests at the reserve of {self.reserve} until the hourly reset"
            )
            self.stats.rate_limit_waits += 1
            self.stats.rate_limit_wait_s += wait
            self._sleep(wait)
        rate.remaining = None  # unknown until the next answer

    def _rate_limit_wait(self, response: httpx.Response) -> float | None:
        """Seconds to wait before asking again, None when this is not a rate limit."""
        if response.status_code not in (403, 429):
            return None
        now = self._clock()
        retry_after = retry_after_seconds(response.headers.get("retry-after"), now)
        remaining = response.headers.get("x-ratelimit-remaining")
        message = _message(response)
        if retry_after is not None:
            wait = retry_after
        elif remaining is not None and remaining.strip() == "0":
            reset = response.headers.get("x-ratelimit-reset", "")
            wait = max(int(reset) - now, 0.0) + 1.0 if reset.isdigit() else SECONDARY_WAIT_S
        elif "rate limit" in message.lower():
            wait = SECONDARY_WAIT_S
        else:
            return None  # a real 403: no access
        if wait > self.max_rate_limit_wait_s:
            self.stats.rate.update(response.headers)
            raise RateLimitStop(
                f"GitHub rate limit for organization '{self.organization_id}': asked to wait "
                f"{wait:.0f}s, more than the {self.max_rate_limit_wait_s:.0f}s allowed ({message})"
            )
        return wait

    def _raise_for_error(self, response: httpx.Response, body: Any, url: str) -> None:
        message = body.get("message", "") if isinstance(body, dict) else ""
        status = response.status_code
        if status == 401 or status == 403:
            where = (
                f"the token in {credential_source(self.token_env)}"
                if self.token_env
                else "an anonymous request"
            )
            raise GitHubAuthError(
                f"GitHub refused {where} for organization '{self.organization_id}' "
                f"(HTTP {status}: {message or 'no message'}). "
                + (
                    replace_credential(
                        self.token_env, "a token with read access to the repositories"
                    )
                    + "."
                    if self.token_env
                    else "Connect a token: devsignal orgs connect ORG github --token-env VAR."
                )
            )
        if status == 404:
            raise NotFound(f"GitHub answered 404 for {httpx.URL(url).path}: {message}")
        if status == 422 and "pagination is limited" in message:
            raise PageLimitReached(message)
        raise GitHubError(
            f"GitHub answered {status} for {httpx.URL(url).path} (organization "
            f"'{self.organization_id}'): {message or response.text[:200]}"
        )


def _origin(url: httpx.URL) -> tuple[str, str, int | None]:
    return url.scheme, url.host, url.port  # httpx leaves a scheme's default port out (None)


def _origin_text(url: httpx.URL) -> str:
    return f"{url.scheme}://{url.netloc.decode()}"


def _message(response: httpx.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return response.text[:200]
    return str(body.get("message", "")) if isinstance(body, dict) else ""
