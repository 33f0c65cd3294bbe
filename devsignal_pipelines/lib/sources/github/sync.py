"""Sync one organization's tracked GitHub repositories into the raw.github_* tables.

Everything is read first (lib/sources/github/fetch.py, no warehouse connection held while
GitHub is asked or waited for), then written in ONE transaction with the states of the resources
read to their end: a crash leaves the previous tables and states, and the next run reads the same
window again, which the primary-key merges make harmless.

After the activity, full profiles (GET /user/{id}: the permanent id, never the login) of the
people seen that the table does not hold yet, or holds from longer ago than `profile_max_age`;
a known profile is asked for with its ETag, so an unchanged one costs a free 304. A deleted
account (404) is stored as a tombstone (type `deleted`, the login seen on its activity) and asked
for again on the same schedule.

A repository that does not exist or is private is reported and skipped; the others are synced.
A renamed one (301) is followed and reported under its new name (`renamed`); a redirect to
another host is not followed (the token would go with it) and is reported the same way.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import pandas as pd

from devsignal_pipelines.lib.json_frames import dumps_column
from devsignal_pipelines.lib.quarantine import quarantine_frame
from devsignal_pipelines.lib.sources.github.client import (
    GitHubClient,
    NotFound,
    RateLimitStop,
    RedirectRefused,
    RepositoryNotFound,
)
from devsignal_pipelines.lib.sources.github.fetch import (
    RESOURCES,
    RepositoryState,
    ResourceRead,
    ResourceState,
    authors,
    profile_problem,
    read_resource,
)
from devsignal_pipelines.lib.stores.tables import (
    RAW_GITHUB_COMMENTS,
    RAW_GITHUB_FORKS,
    RAW_GITHUB_ISSUES,
    RAW_GITHUB_REPOSITORIES,
    RAW_GITHUB_STARGAZERS,
    RAW_GITHUB_USERS,
    RAW_QUARANTINE,
)
from devsignal_pipelines.lib.stores.warehouse import Warehouse, WarehouseTransaction

SOURCE = "github"
DEFAULT_PROFILE_MAX_AGE = timedelta(days=7)
DELETED_USER_TYPE = "deleted"  # raw.github_users.type of an account GitHub answers 404 for
GATED = ("stargazers", "forks")  # unchanged when the repository object is (its counts)


def repo_cursor(requested: str) -> str:
    return f"repo:{requested.lower()}"


def resource_cursor(repo_id: int, resource: str) -> str:
    return f"{repo_id}:{resource}"


@dataclass
class RepositoryReport:
    requested: str
    full_name: str | None = None
    repo_id: int | None = None
    renamed_to: str | None = None
    error: str | None = None
    fetched: dict[str, int] = field(default_factory=dict)  # resource -> items read
    not_modified: list[str] = field(default_factory=list)  # resources unchanged (304 / skipped)
    incomplete: list[str] = field(default_factory=list)  # read again next run
    stargazer_page_limit_hit: bool = False
    stargazers_count: int | None = None


@dataclass
class GitHubSyncReport:
    organization_id: str
    repositories: list[RepositoryReport]
    new: dict[str, int] = field(default_factory=dict)  # table -> rows new
    updated: dict[str, int] = field(default_factory=dict)  # table -> rows changed
    profiles_fetched: int = 0
    profiles_unchanged: int = 0
    quarantined: int = 0
    stopped_early: str | None = None
    seconds: float = 0.0

    @property
    def renamed(self) -> dict[str, str]:
        return {r.requested: r.renamed_to for r in self.repositories if r.renamed_to}

    def as_metadata(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "repositories": ", ".join(r.full_name or r.requested for r in self.repositories),
            "repositories_failed": "; ".join(
                f"{r.requested}: {r.error}" for r in self.repositories if r.error
            ),
            "repositories_renamed": ", ".join(f"{a} -> {b}" for a, b in self.renamed.items()),
            "profiles_fetched": self.profiles_fetched,
            "profiles_unchanged_304": self.profiles_unchanged,
            "quarantined_records": self.quarantined,
            "stopped_early": self.stopped_early or "",
            "stargazer_page_limit_hit": ", ".join(
                r.full_name or r.requested for r in self.repositories if r.stargazer_page_limit_hit
            ),
            "seconds": round(self.seconds, 3),
        }
        for resource in RESOURCES:
            out[f"{resource}_fetched"] = sum(r.fetched.get(resource, 0) for r in self.repositories)
        for table, count in sorted(self.new.items()):
            out[f"{table}_new"] = count
        for table, count in sorted(self.updated.items()):
            out[f"{table}_updated"] = count
        return out


@dataclass
class _Fetched:
    repos: list[dict[str, Any]] = field(default_factory=list)  # repository objects (+ requested)
    items: dict[str, list[tuple[int, dict[str, Any]]]] = field(
        default_factory=lambda: {r: [] for r in RESOURCES}
    )  # resource -> (repo_id, item)
    states: dict[str, str] = field(default_factory=dict)  # cursor name -> new state JSON
    profiles: list[dict[str, Any]] = field(default_factory=list)
    unchanged_profiles: list[int] = field(default_factory=list)
    quarantined: list[tuple[str, str]] = field(default_factory=list)


def sync_github(
    warehouse: Warehouse,
    client: GitHubClient,
    organization_id: str,
    repositories: Sequence[str],
    *,
    profile_max_age: timedelta = DEFAULT_PROFILE_MAX_AGE,
    now: datetime | None = None,
) -> GitHubSyncReport:
    started = time.perf_counter()
    now = now or datetime.now(UTC)
    repos = list(dict.fromkeys(r.strip() for r in repositories if r.strip()))
    if not repos:
        raise ValueError(
            f"organization '{organization_id}' tracks no GitHub repositories; pass --repos 'owner/name'"
        )
    report = GitHubSyncReport(organization_id, [RepositoryReport(r) for r in repos])
    stored = _stored_states(warehouse, organization_id)
    fetched = _Fetched()
    try:
        for repo in report.repositories:
            _read_repository(client, repo, stored, fetched)
        _read_profiles(client, warehouse, organization_id, fetched, profile_max_age, now)
    except RateLimitStop as stop:
        report.stopped_early = str(stop)
    report.quarantined = len(fetched.quarantined)
    _write(warehouse, organization_id, fetched, report, pd.Timestamp(now))
    report.seconds = time.perf_counter() - started
    return report


def _stored_states(warehouse: Warehouse, organization_id: str) -> dict[str, str]:
    if not warehouse.table_exists("raw.sync_cursors"):
        return {}
    frame = warehouse.read_df(
        "SELECT cursor_name, value FROM raw.sync_cursors WHERE organization_id = :o AND source = :s",
        {"o": organization_id, "s": SOURCE},
    )
    return dict(zip(frame["cursor_name"], frame["value"], strict=True))


def _read_repository(
    client: GitHubClient, repo: RepositoryReport, stored: dict[str, str], fetched: _Fetched
) -> None:
    saved = RepositoryState.loads(stored.get(repo_cursor(repo.requested)))
    known = saved.repo_id is not None and saved.full_name is not None
    try:
        page, name = client.repository(repo.requested, etag=saved.etag if known else None)
    except (RepositoryNotFound, RedirectRefused) as exc:
        repo.error = str(exc)
        return
    unchanged = page.not_modified
    if unchanged:
        repo.repo_id, repo.full_name = saved.repo_id, saved.full_name
    else:
        assert page.items
        body = page.items[0]
        if not isinstance(body.get("id"), int):
            repo.error = "the repository object has no integer id"
            return
        repo.repo_id, repo.full_name = body["id"], name
        repo.stargazers_count = body.get("stargazers_count")
        fetched.repos.append({**body, "_requested": repo.requested})
    assert repo.repo_id is not None and repo.full_name is not None
    if repo.full_name.lower() != repo.requested.lower():
        repo.renamed_to = repo.full_name
    complete: set[str] = set()
    stopped: RateLimitStop | None = None
    for resource in RESOURCES:
        key = resource_cursor(repo.repo_id, resource)
        state = ResourceState.loads(stored.get(key))
        try:
            read = read_resource(
                client, repo.full_name, resource, state, unchanged, repo.stargazers_count
            )
        except NotFound as exc:  # deleted or made private while it was read: next run sees
            repo.error = f"GitHub repository {repo.full_name!r} went away during the sync: {exc}"
            return
        _collect(repo, resource, key, read, fetched)
        if read.complete:
            complete.add(resource)
        if read.stopped:
            stopped = read.stopped
            break
    if not unchanged:
        # The ETag gates stars and forks: saved only once both were read to their end, else a
        # 304 next run would skip what this run did not read.
        etag = page.etag if complete >= set(GATED) else None
        state = RepositoryState(repo_id=repo.repo_id, full_name=name, etag=etag).dumps()
        # Under the name asked for and, after a rename, the new one the organization tracks next.
        for asked_as in {repo.requested, name}:
            fetched.states[repo_cursor(asked_as)] = state
    if stopped:
        raise stopped


def _collect(
    repo: RepositoryReport, resource: str, key: str, read: ResourceRead, fetched: _Fetched
) -> None:
    assert repo.repo_id is not None
    repo.fetched[resource] = len(read.items)
    if read.not_modified:
        repo.not_modified.append(resource)
    repo.stargazer_page_limit_hit |= read.page_limit_hit
    fetched.items[resource].extend((repo.repo_id, item) for item in read.items)
    fetched.quarantined.extend(read.quarantined)
    if read.state is not None and not read.skipped and not read.not_modified:
        fetched.states[key] = read.state.dumps()
    if not read.complete:
        repo.incomplete.append(resource)


_ACTIVE_PEOPLE = """
SELECT user_id, login FROM raw.github_stargazers WHERE organization_id = :o
UNION SELECT owner_id, owner_login FROM raw.github_forks
    WHERE organization_id = :o AND owner_id IS NOT NULL
UNION SELECT author_id, author_login FROM raw.github_issues
    WHERE organization_id = :o AND author_id IS NOT NULL
UNION SELECT author_id, author_login FROM raw.github_comments
    WHERE organization_id = :o AND author_id IS NOT NULL
"""


def _read_profiles(
    client: GitHubClient,
    warehouse: Warehouse,
    organization_id: str,
    fetched: _Fetched,
    max_age: timedelta,
    now: datetime,
) -> None:
    """Profiles of everyone active on the repositories (this run or before: a run that stopped
    early left some unread) that are new, or older than `max_age` (asked with their ETag)."""
    active = warehouse.read_df(_ACTIVE_PEOPLE, {"o": organization_id})
    logins = dict(zip(active["user_id"].astype("int64"), active["login"], strict=True))
    for resource, pairs in fetched.items.items():
        logins.update(authors(resource, [item for _, item in pairs]))  # this run's: the newest
    seen = set(logins)
    known = warehouse.read_df(
        "SELECT user_id, fetched_at, etag FROM raw.github_users WHERE organization_id = :o",
        {"o": organization_id},
    )
    fetched_at = pd.to_datetime(known["fetched_at"], utc=True)
    etags = dict(zip(known["user_id"].astype("int64"), known["etag"], strict=True))
    fresh = set(known.loc[fetched_at >= now - max_age, "user_id"].astype("int64"))
    for user_id in sorted((seen - set(etags)) | (set(etags) - fresh)):
        etag = etags.get(user_id)
        try:
            page = client.get(
                f"/user/{user_id}", etag=etag if isinstance(etag, str) else None, resource="users"
            )
        except NotFound:  # a deleted account: a tombstone, asked for again when stale
            fetched.profiles.append(
                {"id": user_id, "login": logins.get(user_id), "type": DELETED_USER_TYPE}
            )
            continue
        if page.not_modified:
            fetched.unchanged_profiles.append(user_id)
            continue
        assert page.items is not None
        profile = page.items[0]
        problem = profile_problem(profile)
        if problem:
            fetched.quarantined.append((problem, dumps_column([profile])[0] or "null"))
            continue
        fetched.profiles.append({**profile, "_etag": page.etag})


# --- frames ---------------------------------------------------------------------------------------


def _times(values: list[Any]) -> pd.Series:
    return pd.to_datetime(pd.Series(values, dtype=object), utc=True, format="ISO8601")


def _user(item: dict[str, Any] | None, key: str) -> Any:
    return item.get(key) if isinstance(item, dict) else None


def _author_columns(items: list[dict[str, Any]]) -> dict[str, list[Any]]:
    return {
        "author_id": [_user(i.get("user"), "id") for i in items],
        "author_login": [_user(i.get("user"), "login") for i in items],
        "author_type": [_user(i.get("user"), "type") for i in items],
        "author_association": [i.get("author_association") for i in items],
    }


def repositories_frame(org: str, repos: list[dict[str, Any]], now: pd.Timestamp) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "organization_id": org,
            "repo_id": [r["id"] for r in repos],
            "full_name": [r.get("full_name") for r in repos],
            "requested_as": [r["_requested"] for r in repos],
            "private": [r.get("private") for r in repos],
            "stargazers_count": [r.get("stargazers_count") for r in repos],
            "forks_count": [r.get("forks_count") for r in repos],
            "open_issues_count": [r.get("open_issues_count") for r in repos],
            "html_url": [r.get("html_url") for r in repos],
            "payload": dumps_column(
                [{k: v for k, v in r.items() if k != "_requested"} for r in repos]
            ),
            "ingested_at": now,
            "updated_at": now,
        },
        columns=list(RAW_GITHUB_REPOSITORIES.column_names),
    )


def stargazers_frame(
    org: str, pairs: list[tuple[int, dict[str, Any]]], now: pd.Timestamp
) -> pd.DataFrame:
    items = [i for _, i in pairs]
    return pd.DataFrame(
        {
            "organization_id": org,
            "repo_id": [r for r, _ in pairs],
            "user_id": [i["user"]["id"] for i in items],
            "login": [i["user"]["login"] for i in items],
            "user_type": [i["user"].get("type") for i in items],
            "starred_at": _times([i["starred_at"] for i in items]),
            "payload": dumps_column(items),
            "ingested_at": now,
            "updated_at": now,
        },
        columns=list(RAW_GITHUB_STARGAZERS.column_names),
    )


def forks_frame(
    org: str, pairs: list[tuple[int, dict[str, Any]]], now: pd.Timestamp
) -> pd.DataFrame:
    items = [i for _, i in pairs]
    return pd.DataFrame(
        {
            "organization_id": org,
            "fork_id": [i["id"] for i in items],
            "repo_id": [r for r, _ in pairs],
            "full_name": [i.get("full_name") for i in items],
            "owner_id": [i["owner"]["id"] for i in items],
            "owner_login": [i["owner"]["login"] for i in items],
            "owner_type": [i["owner"].get("type") for i in items],
            "created_at": _times([i["created_at"] for i in items]),
            "html_url": [i.get("html_url") for i in items],
            "payload": dumps_column(items),
            "ingested_at": now,
            "updated_at": now,
        },
        columns=list(RAW_GITHUB_FORKS.column_names),
    )


def issues_frame(
    org: str, pairs: list[tuple[int, dict[str, Any]]], now: pd.Timestamp
) -> pd.DataFrame:
    items = [i for _, i in pairs]
    return pd.DataFrame(
        {
            "organization_id": org,
            "issue_id": [i["id"] for i in items],
            "repo_id": [r for r, _ in pairs],
            "number": [i["number"] for i in items],
            "is_pull_request": [
                isinstance(i.get("pull_request"), dict)
                and bool(i["pull_request"].get("url") or i["pull_request"].get("html_url"))
                for i in items
            ],
            "title": [i.get("title") for i in items],
            "state": [i.get("state") for i in items],
            **_author_columns(items),
            "labels": dumps_column(
                [
                    [
                        label.get("name")
                        for label in i.get("labels") or []
                        if isinstance(label, dict)
                    ]
                    for i in items
                ]
            ),
            "reactions": dumps_column([i.get("reactions") for i in items]),
            "comments": [i.get("comments") for i in items],
            "created_at": _times([i["created_at"] for i in items]),
            "github_updated_at": _times([i["updated_at"] for i in items]),
            "closed_at": _times([i.get("closed_at") for i in items]),
            "merged_at": _times([_user(i.get("pull_request"), "merged_at") for i in items]),
            "html_url": [i.get("html_url") for i in items],
            "payload": dumps_column(items),
            "ingested_at": now,
            "updated_at": now,
        },
        columns=list(RAW_GITHUB_ISSUES.column_names),
    )


def comments_frame(
    org: str, kind: str, pairs: list[tuple[int, dict[str, Any]]], now: pd.Timestamp
) -> pd.DataFrame:
    items = [i for _, i in pairs]
    return pd.DataFrame(
        {
            "organization_id": org,
            "kind": kind,
            "comment_id": [i["id"] for i in items],
            "repo_id": [r for r, _ in pairs],
            "issue_number": [_number_from(i) for i in items],
            **_author_columns(items),
            "reactions": dumps_column([i.get("reactions") for i in items]),
            "created_at": _times([i["created_at"] for i in items]),
            "github_updated_at": _times([i["updated_at"] for i in items]),
            "html_url": [i.get("html_url") for i in items],
            "payload": dumps_column(items),
            "ingested_at": now,
            "updated_at": now,
        },
        columns=list(RAW_GITHUB_COMMENTS.column_names),
    )


def _number_from(comment: dict[str, Any]) -> int | None:
    """The issue / pull request number: the last segment of its API URL."""
    links = comment.get("_links") if isinstance(comment.get("_links"), dict) else {}
    url = (
        comment.get("issue_url")
        or comment.get("pull_request_url")
        or _user(links.get("pull_request"), "href")  # older review comments carry only _links
        or ""
    )
    tail = url.rstrip("/").rsplit("/", 1)[-1]
    return int(tail) if tail.isdigit() else None


def users_frame(org: str, profiles: list[dict[str, Any]], now: pd.Timestamp) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "organization_id": org,
            "user_id": [p["id"] for p in profiles],
            "login": [p.get("login") for p in profiles],
            "type": [p.get("type") for p in profiles],
            "name": [p.get("name") or None for p in profiles],
            "company": [p.get("company") or None for p in profiles],
            "blog": [p.get("blog") or None for p in profiles],
            "email": [p.get("email") or None for p in profiles],
            "twitter_username": [p.get("twitter_username") or None for p in profiles],
            "location": [p.get("location") or None for p in profiles],
            "bio": [p.get("bio") or None for p in profiles],
            "html_url": [p.get("html_url") for p in profiles],
            "account_created_at": _times([p.get("created_at") for p in profiles]),
            "fetched_at": now,
            "etag": [p.get("_etag") for p in profiles],
            "payload": dumps_column(
                [
                    None
                    if p.get("type") == DELETED_USER_TYPE
                    else {k: v for k, v in p.items() if k != "_etag"}
                    for p in profiles
                ]
            ),
            "ingested_at": now,
            "updated_at": now,
        },
        columns=list(RAW_GITHUB_USERS.column_names),
    )


def _write(
    warehouse: Warehouse,
    org: str,
    fetched: _Fetched,
    report: GitHubSyncReport,
    now: pd.Timestamp,
) -> None:
    frames = {
        RAW_GITHUB_REPOSITORIES: repositories_frame(org, fetched.repos, now),
        RAW_GITHUB_STARGAZERS: stargazers_frame(org, fetched.items["stargazers"], now),
        RAW_GITHUB_FORKS: forks_frame(org, fetched.items["forks"], now),
        RAW_GITHUB_ISSUES: issues_frame(org, fetched.items["issues"], now),
        RAW_GITHUB_USERS: users_frame(org, fetched.profiles, now),
    }
    comments = pd.concat(
        [
            comments_frame(org, "issue", fetched.items["issue_comments"], now),
            comments_frame(org, "review", fetched.items["review_comments"], now),
        ],
        ignore_index=True,
    )
    with warehouse.transaction() as tx:
        for spec, frame in [*frames.items(), (RAW_GITHUB_COMMENTS, comments)]:
            if frame.empty:
                continue
            counts = tx.merge(spec, frame.drop_duplicates(list(spec.primary_key), keep="last"))
            report.new[spec.name] = report.new.get(spec.name, 0) + counts.new
            report.updated[spec.name] = report.updated.get(spec.name, 0) + counts.updated
        # Every profile asked for counts as fetched now, also one whose merge changed nothing
        # (a 304, or a deleted account's tombstone again): no refresh until it is stale.
        asked = fetched.unchanged_profiles + [p["id"] for p in fetched.profiles]
        _touch_profiles(tx, org, asked, now)
        tx.merge(RAW_QUARANTINE, quarantine_frame(org, SOURCE, fetched.quarantined, now))
        for name, value in sorted(fetched.states.items()):
            tx.set_cursor(org, SOURCE, name, value)
    report.profiles_fetched = len(fetched.profiles)
    report.profiles_unchanged = len(fetched.unchanged_profiles)


def _touch_profiles(
    tx: WarehouseTransaction, org: str, user_ids: list[int], now: pd.Timestamp
) -> None:
    """Mark profiles as fetched now (no refresh until stale)."""
    if not user_ids:
        return
    tx.stage_frame("_github_unchanged", pd.DataFrame({"user_id": user_ids}), {"user_id": "bigint"})
    tx.execute(
        "UPDATE raw.github_users SET fetched_at = :t WHERE organization_id = :o "
        "AND user_id IN (SELECT user_id FROM _github_unchanged)",
        {"t": now.to_pydatetime(), "o": org},
    )
    tx.execute("DROP TABLE _github_unchanged")
