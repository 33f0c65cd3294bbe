"""Read one repository's activity from GitHub, incrementally, without touching the warehouse.

Per repository (keyed by its permanent id, not its name) and resource, a saved state says how far
the reads got:
- the repository object is asked for with its ETag, saved only once its stars and forks were read
  to their end; a 304 means stars and forks are unchanged (its `stargazers_count` / `forks_count`
  would have moved), so neither is read at all;
- stargazers (with the star media type, for `starred_at`) are listed oldest first, new stars at
  the end. The state is the last non-empty page read and its ETag, the change probe: the next
  read asks that page with it. A 304 says it and every page before it are as they were, so the
  read goes on after it only when `stargazers_count` says there is more; otherwise the page is
  read again (new stars fill it; an unstar only shifts stars already read back; a listing that
  shrank below it is read from its new last page) and `next` followed; a full last page is
  followed by one probe of the page after it (empty, it does not move the state). GitHub serves
  at most 400 pages (40,000 stars): past that the listing answers 422, which is reported and the
  readable part kept;
- forks are listed newest first (they have no `since`) and read until one created before the
  saved time;
- issues and pull requests, issue comments and review comments: the first page by `updated`
  newest first, asked for with the saved ETag, is the change probe (a 304: nothing changed, one
  free request; a page that holds everything, or reaches back past the saved time, holds every
  change). Otherwise they are read oldest first from the saved time
  (`sort=updated&direction=asc&since=`), each page asked for from the newest time read so far:
  an item edited meanwhile moves behind the read instead of shifting an unread one onto a page
  already read, and edits and new comments on old issues come back.
A rate-limit stop (`ResourceRead.stopped`) keeps what was read and moves the state only as far as
is safe: stargazers to the last page read, issues and comments to the newest time read (without
the ETag, so the next run reads on from there), forks not at all (older forks may be unread).
A resource with malformed items keeps its old state, so the next run reads it again (up to
MAX_MALFORMED_RETRIES runs, then skipped so one bad record cannot block a repository).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Self

from devsignal_pipelines.lib.json_frames import dumps_column
from devsignal_pipelines.lib.sources.github.client import (
    PER_PAGE,
    STAR_MEDIA_TYPE,
    GitHubClient,
    Page,
    PageLimitReached,
    RateLimitStop,
    page_number,
)

RESOURCES = ("stargazers", "forks", "issues", "issue_comments", "review_comments")
STARGAZER_PAGE_LIMIT = 400  # GitHub serves stargazers up to page 400 at per_page=100
MAX_MALFORMED_RETRIES = 3
_LISTINGS = {  # resource -> (path under the repository, query)
    "issues": ("issues", {"state": "all"}),
    "issue_comments": ("issues/comments", {}),
    "review_comments": ("pulls/comments", {}),
}
_NEWEST_FIRST = {"sort": "updated", "direction": "desc"}
_OLDEST_FIRST = {"sort": "updated", "direction": "asc"}


class _SavedState:
    """A dataclass kept as JSON text in raw.sync_cursors; unreadable text is a fresh start."""

    def dumps(self) -> str:
        return json.dumps(self.__dict__, sort_keys=True)

    @classmethod
    def loads(cls, text: str | None) -> Self:
        if not text:
            return cls()
        try:
            return cls(**json.loads(text))
        except (ValueError, TypeError):
            return cls()


@dataclass
class ResourceState(_SavedState):
    """How far the reads of one resource of one repository got."""

    cursor: str | None = None  # ISO time of the newest item read (starred / created / updated)
    etag: str | None = None  # stargazers: of `page`; listings: of the newest-first first page
    page: int | None = None  # stargazers: the last non-empty page read
    malformed_runs: int = 0  # consecutive runs that quarantined items of this resource


@dataclass
class RepositoryState(_SavedState):
    """What the last run learned about a tracked repository."""

    repo_id: int | None = None
    full_name: str | None = None
    etag: str | None = None  # saved only once its stars and forks were read to their end


@dataclass
class ResourceRead:
    items: list[dict[str, Any]] = field(default_factory=list)
    quarantined: list[tuple[str, str]] = field(default_factory=list)
    state: ResourceState | None = None  # the state to save; None keeps the saved one
    complete: bool = False  # read to its end (or found unchanged) with nothing to fetch again
    not_modified: bool = False
    skipped: bool = False  # not asked: the repository object says it is unchanged
    page_limit_hit: bool = False
    stopped: RateLimitStop | None = None  # the rate limit cut the read short: the sync stops


def _time(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None


def _times(items: list[Any], field_name: str) -> list[datetime]:
    times = (_time(item.get(field_name)) for item in items if isinstance(item, dict))
    return [t for t in times if t is not None]


def _newest(newest: datetime | None, times: list[datetime]) -> datetime | None:
    return max([newest, *times]) if newest is not None else max(times, default=None)


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment else None


def _since(moment: datetime | None) -> dict[str, str]:
    """GitHub's `since` (whole seconds, inclusive): items updated at or after `moment`."""
    return {"since": f"{moment.astimezone(UTC):%Y-%m-%dT%H:%M:%SZ}"} if moment else {}


def _user_problem(user: Any, what: str) -> str | None:
    if not isinstance(user, dict):
        return f"{what} is not an object"
    if not isinstance(user.get("id"), int) or not isinstance(user.get("login"), str):
        return f"{what} has no integer id and login"
    return None


def item_problem(resource: str, item: Any) -> str | None:
    """Why an item cannot be loaded, or None."""
    if not isinstance(item, dict):
        return f"{resource} item is not an object"
    if resource == "stargazers":
        if _time(item.get("starred_at")) is None:
            return "stargazer has no starred_at (was the star media type ignored?)"
        return _user_problem(item.get("user"), "stargazer user")
    if not isinstance(item.get("id"), int):
        return f"{resource} item has no integer id"
    if _time(item.get("created_at")) is None:
        return f"{resource} item has no created_at time"
    if resource == "forks":
        return _user_problem(item.get("owner"), "fork owner")
    if _time(item.get("updated_at")) is None:
        return f"{resource} item has no updated_at time"
    if resource == "issues" and not isinstance(item.get("number"), int):
        return "issue has no number"
    if item.get("user") is not None:
        return _user_problem(item["user"], f"{resource} author")
    return None


def _split(resource: str, items: list[Any], read: ResourceRead) -> None:
    for item in items:
        problem = item_problem(resource, item)
        if problem:
            read.quarantined.append((problem, dumps_column([item])[0] or "null"))
        else:
            read.items.append(item)


def _finish(read: ResourceRead, old: ResourceState, new: ResourceState) -> ResourceRead:
    """Save `new` (complete unless stopped), unless items were quarantined: then keep the old
    state to fetch them again next run, up to MAX_MALFORMED_RETRIES runs."""
    if read.quarantined and old.malformed_runs + 1 < MAX_MALFORMED_RETRIES:
        old.malformed_runs += 1
        read.state = old  # keep where we were; only the retry count moves
        return read
    new.malformed_runs = 0
    read.state = new
    read.complete = read.stopped is None
    return read


def read_stargazers(
    client: GitHubClient, full_name: str, state: ResourceState, stargazers_count: int | None
) -> ResourceRead:
    read = ResourceRead()
    path = f"/repos/{full_name}/stargazers"
    start = state.page or 1
    last, etag = state.page, state.etag

    def get(url: str, etag: str | None = None) -> Page:
        return client.get(url, etag=etag, accept=STAR_MEDIA_TYPE, resource="stargazers")

    try:
        page = get(client.url(path, {"page": start}), state.etag)
        if page.not_modified:
            # The saved page and every page before it are as they were: new stars come after.
            if stargazers_count is not None and stargazers_count <= start * PER_PAGE:
                read.state, read.not_modified, read.complete = state, True, True
                return read
            page = get(client.url(path, {"page": start + 1}))
        elif not page.items and start > 1:
            # Unstars shrank the listing below the saved page: go on from its last page.
            page = get(page.links.get("last") or client.url(path, {"page": 1}))
        while True:
            assert page.items is not None
            if page.items:
                _split("stargazers", page.items, read)
                last, etag = page_number(page.url) or last, page.etag
            url = page.links.get("next")
            if url is None and len(page.items) == PER_PAGE and last is not None:
                url = client.url(path, {"page": last + 1})  # probe: more than the Link says?
            if url is None:
                break
            page = get(url)
    except PageLimitReached:
        read.page_limit_hit = True
    except RateLimitStop as stop:
        read.stopped = stop  # the pages read are complete: the state moves to the last of them
    if stargazers_count and stargazers_count > STARGAZER_PAGE_LIMIT * PER_PAGE:
        read.page_limit_hit = True
    newest = _newest(_time(state.cursor), _times(read.items, "starred_at"))
    return _finish(read, state, ResourceState(cursor=_iso(newest), etag=etag, page=last))


def read_forks(client: GitHubClient, full_name: str, state: ResourceState) -> ResourceRead:
    """Newest first, until a fork created before the saved time."""
    read = ResourceRead()
    cursor = _time(state.cursor)
    newest = cursor
    try:
        for page in client.pages(f"/repos/{full_name}/forks", {"sort": "newest"}, resource="forks"):
            assert page.items is not None
            _split("forks", page.items, read)
            times = _times(page.items, "created_at")
            newest = _newest(newest, times)
            if cursor is not None and times and min(times) < cursor:
                break  # older than what the last run read: the rest is known
    except RateLimitStop as stop:
        read.stopped, newest = stop, cursor  # older forks than those read may be unread
    return _finish(read, state, ResourceState(cursor=_iso(newest)))


def read_updated(
    client: GitHubClient, full_name: str, resource: str, state: ResourceState
) -> ResourceRead:
    """Issues or comments changed since the saved time (see the module's docstring)."""
    suffix, query = _LISTINGS[resource]
    path = f"/repos/{full_name}/{suffix}"
    read = ResourceRead()
    cursor = _time(state.cursor)
    newest, etag = cursor, None
    try:
        probe = client.get(
            client.url(path, {**query, **_NEWEST_FIRST}), etag=state.etag, resource=resource
        )
        if probe.not_modified:
            read.state, read.not_modified, read.complete = state, True, True
            return read
        assert probe.items is not None
        etag, times = probe.etag, _times(probe.items, "updated_at")
        if "next" not in probe.links or (cursor is not None and times and min(times) < cursor):
            _split(resource, probe.items, read)  # every change since the saved time is here
            newest = _newest(newest, times)
        else:
            url: str | None = client.url(path, {**query, **_OLDEST_FIRST, **_since(cursor)})
            while url:
                page = client.get(url, resource=resource)
                assert page.items is not None
                _split(resource, page.items, read)
                since, newest = newest, _newest(newest, _times(page.items, "updated_at"))
                url = page.links.get("next")
                if url and newest is not None and (since is None or newest > since):
                    # On from the newest time read rather than the next page: an item edited
                    # meanwhile moves behind us instead of shifting an unread one onto this page.
                    url = client.url(path, {**query, **_OLDEST_FIRST, **_since(newest)})
    except RateLimitStop as stop:
        read.stopped, etag = stop, None  # no ETag: the next run reads on from `newest`
        if not read.items and not read.quarantined:
            return read  # nothing read: the saved state stands
    return _finish(read, state, ResourceState(cursor=_iso(newest), etag=etag))


def read_resource(
    client: GitHubClient,
    full_name: str,
    resource: str,
    state: ResourceState,
    repo_unchanged: bool,
    stargazers_count: int | None,
) -> ResourceRead:
    if resource in ("stargazers", "forks") and repo_unchanged:
        # The repository's ETag is saved only after both were read to their end (an empty
        # listing included), and a new star or fork would have changed it.
        return ResourceRead(state=state, complete=True, skipped=True, not_modified=True)
    if resource == "stargazers":
        return read_stargazers(client, full_name, state, stargazers_count)
    if resource == "forks":
        return read_forks(client, full_name, state)
    return read_updated(client, full_name, resource, state)


def profile_problem(profile: Any) -> str | None:
    return _user_problem(profile, "user profile")


def authors(resource: str, items: list[dict[str, Any]]) -> Iterator[tuple[int, Any]]:
    """(user id, login) of the people items bring: stargazer, fork owner, issue / comment
    author."""
    key: Callable[[dict[str, Any]], Any] = {
        "stargazers": lambda i: i["user"],
        "forks": lambda i: i["owner"],
    }.get(resource, lambda i: i.get("user"))
    for item in items:
        user = key(item)
        if isinstance(user, dict) and isinstance(user.get("id"), int):
            yield user["id"], user.get("login")
