"""Read one repository's activity from GitHub, incrementally, without touching the warehouse.

Per repository (keyed by its permanent id, not its name) and resource, a saved state says where
the last complete read ended:
- the repository object is asked for with its ETag; a 304 means stars and forks are unchanged
  (its `stargazers_count` / `forks_count` would have moved), so neither is read at all;
- stargazers (with the star media type, for `starred_at`) are listed oldest first, new stars at
  the end: the read restarts at the saved last page and follows `next` (an unstar only shifts
  stars already read back; a listing that shrank below the saved page is read from its new last
  page); a full last page is followed by one probe of the page after it. GitHub serves
  at most 400 pages (40,000 stars): past that the listing answers 422, which is reported and the
  readable part kept;
- forks are listed newest first and read until one created before the saved time;
- issues and pull requests, issue comments and review comments are listed by `updated` newest
  first, the first page asked for with the saved ETag (a 304: nothing changed, one free request),
  and read until an item updated before the saved time: edits and new comments on old issues come
  back.
A resource read to its end moves its state; one interrupted (rate limit) or with malformed items
keeps its old state, so the next run reads it again (malformed items are fetched again, up to
MAX_MALFORMED_RETRIES runs, then skipped so one bad record cannot block a repository).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from devsignal_pipelines.lib.json_frames import dumps_column
from devsignal_pipelines.lib.sources.github.client import (
    PER_PAGE,
    STAR_MEDIA_TYPE,
    GitHubClient,
    PageLimitReached,
    page_number,
)

RESOURCES = ("stargazers", "forks", "issues", "issue_comments", "review_comments")
STARGAZER_PAGE_LIMIT = 400  # GitHub serves stargazers up to page 400 at per_page=100
MAX_MALFORMED_RETRIES = 3
_LISTINGS = {  # resource -> (path under the repository, time field, query)
    "forks": ("forks", "created_at", {"sort": "newest"}),
    "issues": ("issues", "updated_at", {"state": "all", "sort": "updated", "direction": "desc"}),
    "issue_comments": ("issues/comments", "updated_at", {"sort": "updated", "direction": "desc"}),
    "review_comments": ("pulls/comments", "updated_at", {"sort": "updated", "direction": "desc"}),
}


@dataclass
class ResourceState:
    """Where the last complete read of one resource of one repository ended (JSON in
    raw.sync_cursors)."""

    cursor: str | None = None  # ISO time of the newest item read (starred / created / updated)
    etag: str | None = None  # of the first page of the newest-first listing
    page: int | None = None  # stargazers: the last page read
    malformed_runs: int = 0  # consecutive runs that quarantined items of this resource

    def dumps(self) -> str:
        return json.dumps(self.__dict__, sort_keys=True)

    @classmethod
    def loads(cls, text: str | None) -> ResourceState:
        if not text:
            return cls()
        try:
            return cls(**json.loads(text))
        except (ValueError, TypeError):
            return cls()


@dataclass
class RepositoryState:
    """What the last run learned about a tracked repository (JSON in raw.sync_cursors)."""

    repo_id: int | None = None
    full_name: str | None = None
    etag: str | None = None

    def dumps(self) -> str:
        return json.dumps(self.__dict__, sort_keys=True)

    @classmethod
    def loads(cls, text: str | None) -> RepositoryState:
        if not text:
            return cls()
        try:
            return cls(**json.loads(text))
        except (ValueError, TypeError):
            return cls()


@dataclass
class ResourceRead:
    items: list[dict[str, Any]] = field(default_factory=list)
    quarantined: list[tuple[str, str]] = field(default_factory=list)
    state: ResourceState | None = None  # the new state when the read is complete, else None
    not_modified: bool = False
    skipped: bool = False  # not asked: the repository object says it is unchanged
    page_limit_hit: bool = False


def _time(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None


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
    """Complete read: the new state, unless items were quarantined (then fetch them again next
    run, up to MAX_MALFORMED_RETRIES runs)."""
    if read.quarantined and old.malformed_runs + 1 < MAX_MALFORMED_RETRIES:
        old.malformed_runs += 1
        read.state = old  # keep where we were; only the retry count moves
        return read
    new.malformed_runs = 0
    read.state = new
    return read


def read_stargazers(
    client: GitHubClient, full_name: str, state: ResourceState, stargazers_count: int | None
) -> ResourceRead:
    read = ResourceRead()
    start = state.page or 1
    last_read, newest = start, _time(state.cursor)
    path = f"/repos/{full_name}/stargazers"
    try:
        url: str | None = client.url(path, {"page": start})
        while url:
            page = client.get(url, accept=STAR_MEDIA_TYPE, resource="stargazers")
            assert page.items is not None
            if not page.items and page_number(page.url) == start and start > 1:
                # Unstars shrank the listing below the saved page: go on from its last page.
                url = page.links.get("last") or client.url(path, {"page": 1})
                start = 0
                continue
            _split("stargazers", page.items, read)
            last_read = page_number(page.url) or last_read
            url = page.links.get("next")
            if url is None and len(page.items) == PER_PAGE:
                url = client.url(path, {"page": last_read + 1})  # probe: new stars land there
    except PageLimitReached:
        read.page_limit_hit = True
    if stargazers_count and stargazers_count > STARGAZER_PAGE_LIMIT * PER_PAGE:
        read.page_limit_hit = True
    for item in read.items:
        starred = _time(item["starred_at"])
        newest = starred if newest is None or (starred and starred > newest) else newest
    new = ResourceState(cursor=newest.isoformat() if newest else None, page=last_read)
    return _finish(read, state, new)


def read_newest_first(
    client: GitHubClient, full_name: str, resource: str, state: ResourceState
) -> ResourceRead:
    """A listing ordered newest first by `field`, read until an item older than the saved cursor."""
    suffix, field_name, query = _LISTINGS[resource]
    read = ResourceRead()
    cursor = _time(state.cursor)
    newest, first_etag = cursor, None
    etag = state.etag if resource != "forks" else None
    for index, page in enumerate(
        client.pages(f"/repos/{full_name}/{suffix}", query, etag=etag, resource=resource)
    ):
        if page.not_modified:
            read.not_modified = True
            read.state = state
            return read
        if index == 0:
            first_etag = page.etag
        assert page.items is not None
        _split(resource, page.items, read)
        times = [_time(item.get(field_name)) for item in page.items if isinstance(item, dict)]
        times = [t for t in times if t is not None]
        if times:
            newest = max([t for t in (newest, *times) if t is not None])
        if cursor is not None and times and min(times) < cursor:
            break  # older than what the last run read: the rest is known
    new = ResourceState(cursor=newest.isoformat() if newest else None, etag=first_etag)
    return _finish(read, state, new)


def read_resource(
    client: GitHubClient,
    full_name: str,
    resource: str,
    state: ResourceState,
    repo_unchanged: bool,
    stargazers_count: int | None,
) -> ResourceRead:
    if resource in ("stargazers", "forks") and repo_unchanged and state.cursor is not None:
        return ResourceRead(state=state, skipped=True, not_modified=True)
    if resource == "stargazers":
        return read_stargazers(client, full_name, state, stargazers_count)
    return read_newest_first(client, full_name, resource, state)


def profile_problem(profile: Any) -> str | None:
    return _user_problem(profile, "user profile")


def authors(resource: str, items: list[dict[str, Any]]) -> Iterator[int]:
    """The user ids an item brings: stargazer, fork owner, issue / comment author."""
    key: Callable[[dict[str, Any]], Any] = {
        "stargazers": lambda i: i["user"],
        "forks": lambda i: i["owner"],
    }.get(resource, lambda i: i.get("user"))
    for item in items:
        user = key(item)
        if isinstance(user, dict) and isinstance(user.get("id"), int):
            yield user["id"]
