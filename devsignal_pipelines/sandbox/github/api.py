"""The GitHub REST API v3 routes of the sandbox, at the server root as on ``api.github.com``.

Endpoints (``{repo}`` = ``/repos/{owner}/{name}`` or ``/repositories/{id}``, names are
case-insensitive):

* ``GET {repo}``: the repository at the clock (counts, ``updated_at``, ``pushed_at``);
  ``permissions`` and ``temp_clone_token`` only for an authenticated caller, as on GitHub.
* ``GET {repo}/stargazers``: oldest star first. Items are simple users, or, with ``Accept:
  application/vnd.github.star+json`` (or the legacy ``application/vnd.github.v3.star+json``),
  ``{"starred_at", "user"}`` (``x-github-media-type: github.v3; param=star; format=json``). Only
  ``stargazer_page_limit`` pages (400) can be read: ``rel="last"`` points at the last one
  that can, and a later page is 422 "In order to keep the API fast for everyone, ...".
* ``GET {repo}/forks``: ``sort=newest`` (default) | ``oldest`` | ``stargazers`` | ``watchers``.
* ``GET {repo}/issues``: issues AND pull requests (these carry ``pull_request``).
  ``state=open`` (default) | ``closed`` | ``all``; ``since`` (``updated_at`` at or after);
  ``labels=a,b`` (all of them); ``creator``; ``sort=created`` (default) | ``updated`` |
  ``comments``; ``direction=desc`` (default) | ``asc``. Nobody is assigned and there are no
  milestones: ``assignee`` / ``milestone`` other than ``none`` give an empty list.
* ``GET {repo}/issues/comments`` and ``{repo}/pulls/comments``: ascending id by default (as
  documented); ``sort=created`` | ``updated`` (review comments also ``created_at``) with
  ``direction`` (default ``desc``; ignored without ``sort``); ``since`` on ``updated_at``.
* ``GET /users/{login}`` (the current login only: a renamed account's old login is 404, or
  someone else's now) and ``GET /user/{id}``: the full user.
* ``GET /rate_limit``: the caller's ``core`` quota (plus ``search`` and ``graphql``); it is
  not counted, and no fault applies to it.

Lists are paged with ``per_page`` / ``page`` and a ``Link`` header (``params``). Issues and both
comment listings link their pages on ``/repositories/{id}/...`` as GitHub does (recorded in
``paginate_issues_link.json``): follow the links, do not rebuild them. A repository's old name
answers 301 with ``Location: <host>/repositories/{id}<same suffix and query>`` (``<host>`` the
one called, or the ``redirect_base_url`` knob); a private or unknown repository, user or id
answers 404.

Order of checks per request, as a client experiences it:

1. Credentials: ``Authorization: Bearer <token>`` or ``token <token>`` (or basic auth with the
   token as password) with one of the sandbox's tokens; anything else is 401 "Bad credentials".
   No header: unauthenticated, limited per client IP.
2. Primary limit spent: 403 (or 429) with ``x-ratelimit-remaining: 0`` and the reset.
3. Secondary limit (``limits``), then the request is numbered and its fault decided (shared
   ``Faults``): a ``429`` burst fault is a secondary-limit answer.
4. The answer is computed (404, 301, 422 or the data), then the primary limit is used, except
   by a 304: an ``If-None-Match`` matching the ETag is answered 304 Not Modified with no body,
   and costs nothing when the request carried valid credentials (GitHub's documented rule).
5. Faults: 5xx, slow (the normal answer after ``slow_s``), malformed 200s. ``partial`` is X-only.

Knobs: the shared ``Faults`` (5xx, slow, malformed, 429 bursts = secondary limits, fault seed)
as on every route, and GitHub's own (``limits.GitHubSettings``: primary limits and their 403 /
429, the secondary limit, the stargazer page limit) through ``state.github.configure(...)`` or
``POST /_sandbox/github`` (``GET`` shows settings and counters, ``DELETE`` resets them). The
clock is the shared ``POST /_sandbox/clock``.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import json
import math
import time
import zlib
from collections.abc import Callable
from dataclasses import asdict, dataclass

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from devsignal_pipelines.sandbox.faults import Fault, FaultKind
from devsignal_pipelines.sandbox.github import responses as r
from devsignal_pipelines.sandbox.github.index import GitHubIndex, RepositoryIndex
from devsignal_pipelines.sandbox.github.objects import timestamp
from devsignal_pipelines.sandbox.github.params import (
    PageRequest,
    ValidationFailed,
    choice,
    link_header,
    link_rels,
    page_request,
    since,
)
from devsignal_pipelines.sandbox.ratelimit import Quota
from devsignal_pipelines.sandbox.request_log import CONTROL_PREFIX
from devsignal_pipelines.sandbox.state import SandboxState
from devsignal_pipelines.sandbox.x.responses import JSON_TYPE, encode

STATUS_PATH = f"{CONTROL_PREFIX}/github"
STAR_MEDIA_TYPES = ("application/vnd.github.star+json", "application/vnd.github.v3.star+json")
# Listings whose Link header moves to /repositories/{id}/..., as GitHub's do.
_BY_ID_LINKS = ("/issues", "/issues/comments", "/pulls/comments")
_PERMISSIONS = {"admin": False, "maintain": False, "push": False, "triage": False, "pull": True}


def github_routes(state: SandboxState) -> list[BaseRoute]:
    api = GitHubApi(state)
    resources: dict[str, Callable[[_Call, RepositoryIndex], _Answer]] = {
        "": api.repository,
        "/stargazers": api.stargazers,
        "/forks": api.forks,
        "/issues": api.issues,
        "/issues/comments": api.issue_comments,
        "/pulls/comments": api.review_comments,
    }
    routes: list[BaseRoute] = []
    for suffix, resource in resources.items():
        endpoint = api.repository_endpoint(suffix, resource)
        routes.append(Route(f"/repos/{{owner}}/{{repo}}{suffix}", endpoint, methods=["GET"]))
        routes.append(Route(f"/repositories/{{repo_id:int}}{suffix}", endpoint, methods=["GET"]))
    return [
        *routes,
        Route("/users/{login}", api.user, methods=["GET"]),
        Route("/user/{user_id:int}", api.user_by_id, methods=["GET"]),
        Route("/rate_limit", api.rate_limit, methods=["GET"]),
        Route(STATUS_PATH, api.status, methods=["GET"]),
        Route(STATUS_PATH, api.configure_from_request, methods=["POST"]),
        Route(STATUS_PATH, api.reset_from_request, methods=["DELETE"]),
    ]


@dataclass(frozen=True)
class _Call:
    """An admitted request: who it counts against, its number, fault and clock."""

    request: Request
    authenticated: bool
    key: str  # the primary and secondary limiters' key: the token, or the client address
    request_id: str
    fault: Fault
    now: str


@dataclass
class _Answer:
    body: object
    links: str | None = None
    media_type: str = r.MEDIA_TYPE


class _Problem(Exception):
    """An answer other than the data: 301, 404, 422 (with its headers, e.g. Link, Location)."""

    def __init__(self, status: int, body: dict, headers: dict[str, str] | None = None) -> None:
        super().__init__(status)
        self.status = status
        self.body = body
        self.headers = headers or {}


class GitHubApi:
    def __init__(self, state: SandboxState) -> None:
        self.state = state
        self.index = GitHubIndex(state.world)

    # --- repository resources ----------------------------------------------------------------

    def repository_endpoint(
        self, suffix: str, resource: Callable[[_Call, RepositoryIndex], _Answer]
    ) -> Callable[[Request], object]:
        async def endpoint(request: Request) -> Response:
            return await self._serve(request, lambda call: resource(call, self._repo(call, suffix)))

        return endpoint

    def repository(self, call: _Call, repo: RepositoryIndex) -> _Answer:
        item = repo.repository(call.now)
        if call.authenticated:
            item["permissions"] = dict(_PERMISSIONS)
            item["temp_clone_token"] = ""
            # GitHub's own order: permissions and temp_clone_token come before the counts.
            for key in ("organization", "network_count", "subscribers_count"):
                item[key] = item.pop(key)
        return _Answer(item)

    def stargazers(self, call: _Call, repo: RepositoryIndex) -> _Answer:
        stars = repo.stargazers(call.now)
        paging = page_request(call.request.query_params)
        limit = self.state.github.settings.stargazer_page_limit
        last = min(paging.pages(len(stars)), limit)
        if paging.page > limit:
            rels = {"prev": limit, "last": last, "first": 1}
            headers = {"link": self._link(call, call.request.url.path, rels) or ""}
            raise _Problem(*r.page_limit(), headers)
        users = self.index.simple_users
        accept = call.request.headers.get("accept", "")
        with_dates = any(media in accept.lower() for media in STAR_MEDIA_TYPES)
        page = paging.select(stars)
        if with_dates:
            body: list = [{"starred_at": at, "user": users[uid]} for at, uid in page]
        else:
            body = [users[uid] for _, uid in page]
        links = self._link(call, call.request.url.path, link_rels(paging.page, last))
        return _Answer(body, links, r.STAR_MEDIA_TYPE if with_dates else r.MEDIA_TYPE)

    def forks(self, call: _Call, repo: RepositoryIndex) -> _Answer:
        params = call.request.query_params
        sort = choice(
            params, "sort", ("newest", "oldest", "stargazers", "watchers"), "newest", "Repository"
        )
        forks = repo.forks(call.now)
        if sort == "newest":
            forks = forks[::-1]
        elif sort in ("stargazers", "watchers"):
            forks = sorted(
                forks, key=lambda f: (f["stargazers_count"], f["created_at"]), reverse=True
            )
        answer = self._page(call, forks, call.request.url.path)
        if call.authenticated:
            answer.body = [{**fork, "permissions": dict(_PERMISSIONS)} for fork in answer.body]
        return answer

    def issues(self, call: _Call, repo: RepositoryIndex) -> _Answer:
        params = call.request.query_params
        state = choice(params, "state", ("open", "closed", "all"), "open", "Issue")
        sort = choice(params, "sort", ("created", "updated", "comments"), "created", "Issue")
        direction = choice(params, "direction", ("desc", "asc"), "desc", "Issue")
        after = since(params, "Issue")
        labels = {n.strip().lower() for n in params.get("labels", "").split(",") if n.strip()}
        creator = params.get("creator", "").lower()
        unassignable = any(params.get(name, "none") != "none" for name in ("assignee", "milestone"))
        items = [
            issue
            for issue in repo.issues(call.now)
            if (state == "all" or issue["state"] == state)
            and (after is None or issue["updated_at"] >= after)
            and labels <= {label["name"].lower() for label in issue["labels"]}
            and (not creator or issue["user"]["login"].lower() == creator)
            and not unassignable
        ]
        field = {"created": "created_at", "updated": "updated_at", "comments": "comments"}[sort]
        items.sort(key=lambda issue: (issue[field], issue["number"]), reverse=direction == "desc")
        return self._page(call, items, self._by_id_path(repo, "/issues"))

    def issue_comments(self, call: _Call, repo: RepositoryIndex) -> _Answer:
        items = self._comments(call, repo.issue_comments(call.now), ("created", "updated"))
        return self._page(call, items, self._by_id_path(repo, "/issues/comments"))

    def review_comments(self, call: _Call, repo: RepositoryIndex) -> _Answer:
        sorts = ("created", "updated", "created_at")
        items = self._comments(call, repo.review_comments(call.now), sorts)
        return self._page(call, items, self._by_id_path(repo, "/pulls/comments"))

    def _comments(self, call: _Call, comments: list[dict], sorts: tuple[str, ...]) -> list[dict]:
        params = call.request.query_params
        after = since(params, "IssueComment")
        items = [c for c in comments if after is None or c["updated_at"] >= after]
        if "sort" in params:
            sort = choice(params, "sort", sorts, sorts[0], "IssueComment")
            direction = choice(params, "direction", ("desc", "asc"), "desc", "IssueComment")
            field = "updated_at" if sort == "updated" else "created_at"
            items.sort(key=lambda c: (c[field], c["id"]), reverse=direction == "desc")
        return items

    # --- users and rate limit ----------------------------------------------------------------

    async def user(self, request: Request) -> Response:
        def answer(_: _Call) -> _Answer:
            user = self.index.users_by_login.get(request.path_params["login"].lower())
            if user is None:
                raise _Problem(*r.not_found())
            return _Answer(user)

        return await self._serve(request, answer)

    async def user_by_id(self, request: Request) -> Response:
        def answer(_: _Call) -> _Answer:
            user = self.state.world.github_users.get(request.path_params["user_id"])
            if user is None:
                raise _Problem(*r.not_found())
            return _Answer(user)

        return await self._serve(request, answer)

    async def rate_limit(self, request: Request) -> Response:
        credentials = self._credentials(request)
        if isinstance(credentials, Response):
            return credentials
        authenticated, key = credentials
        quota = self.state.github.primary(authenticated).peek(key)
        core = _rate(quota)
        now = math.ceil(time.time())
        body = {
            "resources": {
                "core": core,
                "search": {"limit": 30, "used": 0, "remaining": 30, "reset": now + 60},
                "graphql": {"limit": 5000, "used": 0, "remaining": 5000, "reset": now + 3600},
            },
            "rate": core,
        }
        headers = r.rate_headers(quota) | r.common_headers(self._request_id(0))
        headers["cache-control"] = "no-cache"
        return r.json_response(200, body, headers)

    # --- the request pipeline ----------------------------------------------------------------

    async def _serve(self, request: Request, resource: Callable[[_Call], _Answer]) -> Response:
        call = self._admit(request)
        if isinstance(call, Response):
            return call
        limits = self.state.github
        limiter = limits.primary(call.authenticated)
        try:
            answer: _Answer | _Problem = resource(call)
        except _Problem as problem:
            answer = problem
        except ValidationFailed as invalid:
            answer = _Problem(*r.validation_failed(invalid.resource, invalid.field))
        if call.fault.kind is FaultKind.ERROR_5XX:
            headers = r.rate_headers(limiter.consume(call.key))
            return r.server_error(call.fault.rng, headers | r.common_headers(call.request_id))
        if isinstance(answer, _Problem):
            headers = r.rate_headers(limiter.consume(call.key)) | answer.headers
            return r.json_response(answer.status, answer.body, headers | self._common(call))
        raw = encode(answer.body)
        tag = r.etag(raw)
        headers = r.common_headers(call.request_id, answer.media_type)
        if answer.links:
            headers["link"] = answer.links
        broken = call.fault.kind is FaultKind.MALFORMED
        if not broken and r.matches(call.request.headers.get("if-none-match"), tag):
            limits.count("not_modified")
            quota = limiter.peek(call.key) if call.authenticated else limiter.consume(call.key)
            headers |= r.rate_headers(quota) | {"etag": tag}
            return Response(status_code=304, headers=headers)
        headers |= r.rate_headers(limiter.consume(call.key))
        if call.fault.kind is FaultKind.SLOW:
            await asyncio.sleep(self.state.faults.slow_s)
        if broken:
            raw = r.malformed(json.loads(raw), call.fault.rng)
            tag = r.etag(raw)
        headers |= {"etag": tag, "cache-control": "private, max-age=60, s-maxage=60"}
        return Response(raw, 200, headers, media_type=JSON_TYPE)

    def _admit(self, request: Request) -> _Call | Response:
        """Credentials, the primary and secondary limits and the fault, in GitHub's order."""
        credentials = self._credentials(request)
        if isinstance(credentials, Response):
            return credentials
        authenticated, key = credentials
        limits, settings = self.state.github, self.state.github.settings
        quota = limits.primary(authenticated).peek(key)
        if quota.remaining == 0:
            limits.count("primary_refusals")
            who = f"user ID {_user_id(key)}" if authenticated else key
            body = r.primary_exceeded(settings.primary_limit_status, who, authenticated)
            headers = r.rate_headers(quota) | r.common_headers(self._request_id(0))
            return r.json_response(settings.primary_limit_status, body, headers)
        secondary = limits.secondary
        if secondary is not None:
            window = secondary.peek(key)
            if window.remaining == 0:
                wait_s = min(settings.secondary_window_s, window.reset_epoch_s - time.time())
                return self._secondary_refusal(quota, max(1.0, wait_s))
            secondary.consume(key)
        number, fault = self.state.next_request()
        if fault.kind is FaultKind.BURST_429:
            return self._secondary_refusal(quota, self.state.faults.burst_429_reset_s)
        now = timestamp(int(self.state.now.timestamp()))
        return _Call(request, authenticated, key, self._request_id(number), fault, now)

    def _secondary_refusal(self, quota: Quota, wait_s: float) -> Response:
        limits, settings = self.state.github, self.state.github.settings
        limits.count("secondary_refusals")
        request_id = self._request_id(0)
        status = settings.secondary_limit_status
        headers = r.rate_headers(quota) | r.common_headers(request_id)
        if settings.secondary_retry_after:
            headers["retry-after"] = str(math.ceil(wait_s))
        return r.json_response(status, r.secondary_exceeded(status, request_id), headers)

    def _credentials(self, request: Request) -> tuple[bool, str] | Response:
        """(authenticated, limiter key), or the 401 for credentials that are not a token."""
        authorization = request.headers.get("authorization")
        if authorization is None:
            return False, request.client.host if request.client else "unknown"
        token = _token(authorization)
        if token is None or not self.state.accepts(token):
            address = request.client.host if request.client else "unknown"
            quota = self.state.github.primary(False).peek(address)
            headers = r.rate_headers(quota) | r.common_headers(self._request_id(0))
            return r.json_response(401, r.bad_credentials(), headers)
        return True, f"token:{token}"

    def _repo(self, call: _Call, suffix: str) -> RepositoryIndex:
        params = call.request.path_params
        if "repo_id" in params:
            repo = self.index.by_id.get(params["repo_id"])
            if repo is None:
                raise _Problem(*r.not_found())
            return repo
        name = f"{params['owner']}/{params['repo']}".lower()
        repo = self.index.by_name.get(name)
        if repo is not None:
            return repo
        moved = self.index.renamed.get(name)
        if moved is None:
            raise _Problem(*r.not_found())
        base = self.state.github.settings.redirect_base_url or _base_url(call.request)
        location = f"{base.rstrip('/')}/repositories/{moved.repo_id}{suffix}"
        if call.request.url.query:
            location += f"?{call.request.url.query}"
        raise _Problem(*r.moved(location), {"location": location})

    def _page(self, call: _Call, items: list, path: str) -> _Answer:
        paging: PageRequest = page_request(call.request.query_params)
        links = self._link(call, path, link_rels(paging.page, paging.pages(len(items))))
        return _Answer(paging.select(items), links)

    def _link(self, call: _Call, path: str, rels: dict[str, int]) -> str | None:
        query = call.request.query_params.multi_items()
        return link_header(_base_url(call.request), path, query, rels)

    @staticmethod
    def _by_id_path(repo: RepositoryIndex, suffix: str) -> str:
        assert suffix in _BY_ID_LINKS
        return f"/repositories/{repo.repo_id}{suffix}"

    def _common(self, call: _Call) -> dict[str, str]:
        return r.common_headers(call.request_id)

    @staticmethod
    def _request_id(number: int) -> str:
        return f"5AND:{number:06X}:{zlib.crc32(str(number).encode()):08X}"

    # --- control routes (not logged) ---------------------------------------------------------

    async def status(self, _: Request) -> Response:
        limits = self.state.github
        return JSONResponse(
            {"settings": asdict(limits.settings), "counters": dict(limits.counters)}
        )

    async def configure_from_request(self, request: Request) -> Response:
        """Body: any of the ``GitHubSettings`` fields, e.g. ``{"stargazer_page_limit": 3}``."""
        try:
            changes = await request.json()
            if not isinstance(changes, dict):
                raise ValueError("expected a JSON object of GitHub settings")
            settings = self.state.github.configure(**changes)
        except (ValueError, TypeError) as problem:
            return JSONResponse({"error": str(problem)}, 400)
        return JSONResponse(asdict(settings))

    async def reset_from_request(self, _: Request) -> Response:
        self.state.github.reset()
        return Response(status_code=204)


def _token(authorization: str) -> str | None:
    scheme, _, credentials = authorization.strip().partition(" ")
    credentials = credentials.strip()
    if scheme.lower() in ("bearer", "token"):
        return credentials or None
    if scheme.lower() == "basic":
        try:
            user, _, password = base64.b64decode(credentials, validate=True).decode().partition(":")
        except (binascii.Error, UnicodeDecodeError):
            return None
        return password or user or None
    return None


def _user_id(key: str) -> int:
    """A stable made-up GitHub user id for a token's owner (the 403 names it, not the token)."""
    return 1_000_000 + zlib.crc32(key.encode()) % 90_000_000


def _rate(quota: Quota) -> dict:
    return {
        "limit": quota.limit,
        "used": quota.limit - quota.remaining,
        "remaining": quota.remaining,
        "reset": quota.reset_epoch_s,
    }


def _base_url(request: Request) -> str:
    """Scheme and host the client called, e.g. ``http://127.0.0.1:8765``."""
    return str(request.base_url).rstrip("/")
