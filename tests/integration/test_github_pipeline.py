"""GitHub end to end: the sandbox's GitHub API over HTTP -> Dagster runs -> DuckDB / PostgreSQL.

The tests at the end call `sync_github` directly (the sandbox over HTTP, a DuckDB file, no
Dagster run): rate-limit stops, resumption and the states between runs, quickly."""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path

import pandas as pd
import pytest
import sqlalchemy as sa

from devsignal_pipelines.demo.summary import identity_scores
from devsignal_pipelines.lib.sources.github.client import GitHubClient, RedirectRefused
from devsignal_pipelines.lib.sources.github.fetch import ResourceState
from devsignal_pipelines.lib.sources.github.sync import resource_cursor, sync_github
from devsignal_pipelines.lib.sources.http import RetryPolicy
from devsignal_pipelines.lib.stores import control as c
from devsignal_pipelines.lib.stores.warehouse import Warehouse
from devsignal_pipelines.sandbox.faults import Faults
from devsignal_pipelines.sandbox.server import SandboxServer
from devsignal_pipelines.sandbox.world import World, generate_world
from tests.integration.conftest import ANCHOR, TOKEN, TOKEN_ENV

DUCKDB_ONLY = pytest.mark.parametrize("stores", ["duckdb"], indirect=True)
ORG = "acme"


def _visible(world, name: str, key: str, items: list[dict]) -> list[dict]:
    now = world.anchor.isoformat().replace("+00:00", "Z")
    return [item for item in items if item[key] <= now]


def _expected(world, org: str) -> dict[str, set]:
    """What GitHub shows at the anchor for the organization's readable repositories."""
    names = [
        world.github_renamed.get(r, r)
        for r in world.github_repos[org]
        if r not in world.github_missing
    ]
    out: dict[str, set] = {"stars": set(), "forks": set(), "issues": set(), "comments": set()}
    for name in names:
        repo_id = world.github_repositories[name]["id"]
        out["stars"] |= {
            (repo_id, s["user_id"])
            for s in _visible(world, name, "starred_at", world.github_stargazers[name])
        }
        out["forks"] |= {
            f["id"] for f in _visible(world, name, "created_at", world.github_forks[name])
        }
        out["issues"] |= {
            i["id"] for i in _visible(world, name, "created_at", world.github_issues[name])
        }
        out["comments"] |= {
            ("issue", x["id"])
            for x in _visible(world, name, "created_at", world.github_issue_comments[name])
        }
        out["comments"] |= {
            ("review", x["id"])
            for x in _visible(world, name, "created_at", world.github_review_comments[name])
        }
    return out


def _got(pipeline, org: str) -> dict[str, set]:
    read = (pipeline if isinstance(pipeline, Warehouse) else pipeline.warehouse).read_df
    params = {"o": org}
    return {
        "stars": set(map(tuple, read("SELECT repo_id, user_id FROM raw.github_stargazers WHERE organization_id = :o", params).values.tolist())),
        "forks": set(read("SELECT fork_id FROM raw.github_forks WHERE organization_id = :o", params)["fork_id"]),
        "issues": set(read("SELECT issue_id FROM raw.github_issues WHERE organization_id = :o", params)["issue_id"]),
        "comments": set(map(tuple, read("SELECT kind, comment_id FROM raw.github_comments WHERE organization_id = :o", params).values.tolist())),
    }  # fmt: skip


def test_a_github_sync_reads_every_repository_once_and_links_its_people(
    make_pipeline, world
) -> None:
    pipeline = make_pipeline()
    outcome = pipeline.sync(ORG, "github")
    assert outcome.success, outcome.error
    assert not outcome.failed_checks
    assert _got(pipeline, ORG) == _expected(world, ORG)  # nothing lost, nothing extra
    meta = outcome.materializations["raw/github_repositories"]
    assert "does not exist or is private" in meta["repositories_failed"]  # the private one
    renamed = {
        old: new for old, new in world.github_renamed.items() if old in world.github_repos[ORG]
    }
    assert meta["repositories_renamed"] == ", ".join(f"{a} -> {b}" for a, b in renamed.items())
    # The new name is what the organization tracks from now on.
    settings = pipeline.control.connector_settings(ORG, "github")
    assert set(renamed.values()) <= set(settings["repos"]) and not set(renamed) & set(
        settings["repos"]
    )

    signals = pipeline.warehouse.read_df(
        "SELECT signal_type, metadata FROM core.signals WHERE organization_id = :o AND source = 'github'",
        {"o": ORG},
    )
    types = set(signals["signal_type"])
    assert types == {
        "github_star",
        "github_fork",
        "github_issue",
        "github_pull_request",
        "github_comment",
    }
    logins = {(m if isinstance(m, dict) else json.loads(m))["login"] for m in signals["metadata"]}
    members = set(world.github_members[ORG])
    assert not logins & members  # the organization's own people are no signal
    assert not any(login.endswith("[bot]") for login in logins)
    # Identity: GitHub users linked against the world's truth.
    score = identity_scores(pipeline.warehouse, world, platform="github")[ORG]
    assert score["links_scored"] > 0 and score["precision"] >= 0.99, score


def test_an_unchanged_second_run_asks_once_per_resource_and_gets_304s(make_pipeline, world) -> None:
    pipeline = make_pipeline()
    assert pipeline.sync(ORG, "github").success
    before = {
        t: pipeline.table(f"raw.{t}", "organization_id")
        for t in ("github_stargazers", "github_issues", "github_users")
    }
    pipeline.server.state.clear_requests()
    outcome = pipeline.sync(ORG, "github")
    meta = outcome.materializations["raw/github_repositories"]
    readable = [
        r
        for r in pipeline.control.connector_settings(ORG, "github")["repos"]
        if r not in world.github_missing
    ]
    # Per readable repository: the repository object (gating stars and forks) and the three
    # newest-first listings, each one conditional request answered 304; plus the private one's 404.
    assert meta["not_modified_304"] == 4 * len(readable)
    assert meta["api_calls"] == 4 * len(readable) + 1
    assert meta["profiles_fetched"] == 0
    after = {
        t: pipeline.table(f"raw.{t}", "organization_id")
        for t in ("github_stargazers", "github_issues", "github_users")
    }
    assert after == before


@DUCKDB_ONLY
def test_new_activity_after_the_clock_moves_is_read_incrementally(make_pipeline, world) -> None:
    pipeline = make_pipeline()
    assert pipeline.sync(ORG, "github").success
    later = world.anchor + timedelta(days=1)
    pipeline.server.state.set_clock(later)
    outcome = pipeline.sync(ORG, "github")
    assert outcome.success
    expected = {}
    for name in [
        world.github_renamed.get(r, r)
        for r in world.github_repos[ORG]
        if r not in world.github_missing
    ]:
        repo_id = world.github_repositories[name]["id"]
        now = later.isoformat().replace("+00:00", "Z")
        expected |= {
            (repo_id, s["user_id"]): 1
            for s in world.github_stargazers[name]
            if s["starred_at"] <= now
        }
    stars = pipeline.warehouse.read_df("SELECT repo_id, user_id FROM raw.github_stargazers")
    assert set(map(tuple, stars.values.tolist())) == set(expected)
    meta = outcome.materializations["raw/github_repositories"]
    assert meta["stargazers_fetched"] < len(expected)  # from the last page, not from the start


@DUCKDB_ONLY
def test_rate_limits_stop_cleanly_and_the_next_run_finishes_the_job(make_pipeline, world) -> None:
    pipeline = make_pipeline()
    pipeline.server.state.github.configure(rate_limit=120, rate_window_s=3600)
    pipeline.configure(github={"reserve": 10, "max_rate_limit_wait_s": 1.0})
    first = pipeline.sync(ORG, "github")
    assert first.success  # a clean stop is not a failure
    assert (
        "requests left this hour"
        in first.materializations["raw/github_repositories"]["stopped_early"]
    )
    users_first = pipeline.warehouse.scalar("SELECT count(*) FROM raw.github_users")
    for _ in range(5):  # each hour a new budget
        pipeline.server.state.github.reset()
        outcome = pipeline.sync(ORG, "github")
        if not outcome.materializations["raw/github_repositories"]["stopped_early"]:
            break
    assert pipeline.warehouse.scalar("SELECT count(*) FROM raw.github_users") > users_first
    assert _got(pipeline, ORG) == _expected(world, ORG)


@DUCKDB_ONLY
def test_server_errors_are_retried_and_malformed_items_fetched_again(make_pipeline, world) -> None:
    pipeline = make_pipeline(faults=Faults(error_5xx_rate=0.05, malformed_rate=0.02, fault_seed=3))
    outcome = pipeline.sync(ORG, "github")
    assert outcome.success, outcome.error
    for _ in range(3):
        if not outcome.materializations["raw/github_repositories"]["quarantined_records"]:
            break
        outcome = pipeline.sync(ORG, "github")
    assert _got(pipeline, ORG) == _expected(world, ORG)


@DUCKDB_ONLY
def test_a_wrong_token_fails_naming_the_variable(make_pipeline, monkeypatch) -> None:
    pipeline = make_pipeline()
    monkeypatch.setenv(TOKEN_ENV, "wrong-token")
    outcome = pipeline.sync(ORG, "github")
    assert not outcome.success
    assert TOKEN_ENV in outcome.error and "401" in outcome.error
    with pipeline.control.begin() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(c.connectors)).scalar_one() > 0
    assert pipeline.warehouse.scalar("SELECT count(*) FROM raw.github_stargazers") == 0


@DUCKDB_ONLY
def test_the_stargazer_page_limit_is_reported_and_what_can_be_read_is_kept(
    make_pipeline, world
) -> None:
    pipeline = make_pipeline()
    pipeline.server.state.github.configure(stargazer_page_limit=1)  # GitHub: 400 pages
    outcome = pipeline.sync(ORG, "github")
    assert outcome.success, outcome.error
    meta = outcome.materializations["raw/github_repositories"]
    assert meta["stargazer_page_limit_hit"]  # named, not hidden
    per_repo = pipeline.warehouse.read_df(
        "SELECT repo_id, count(*) AS n FROM raw.github_stargazers GROUP BY repo_id"
    )
    assert (per_repo["n"] <= 100).all()  # the first (and only readable) page of each


# --- sync_github directly: states between runs -----------------------------------------------


@pytest.fixture(scope="module")
def busy_world() -> World:
    """The integration world at scale 1: several pages per listing."""
    return generate_world(seed=11, scale=1.0, anchor=ANCHOR)


@pytest.fixture
def sandbox(busy_world: World) -> Iterator[SandboxServer]:
    with SandboxServer(busy_world, tokens=(TOKEN,)) as server:
        yield server


@pytest.fixture
def warehouse(tmp_path: Path) -> Warehouse:
    store = Warehouse(f"duckdb:///{tmp_path / 'warehouse.duckdb'}")
    store.ensure_tables()
    return store


def _client(server: SandboxServer, reserve: int = 500) -> GitHubClient:
    return GitHubClient(
        server.base_url,
        TOKEN,
        organization_id=ORG,
        token_env=TOKEN_ENV,
        reserve=reserve,
        max_rate_limit_wait_s=1.0,  # a spent hour stops the run at once: nothing sleeps
        policy=RetryPolicy(backoff_base_s=0.01, max_rate_limit_wait_s=1.0),
    )


def _sync(server: SandboxServer, warehouse: Warehouse, repo: str, reserve: int = 500, **kw):
    with _client(server, reserve) as client:
        return sync_github(warehouse, client, ORG, [repo], now=server.state.now, **kw)


def _stamp(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


def _repo_expected(world: World, name: str, now: datetime) -> dict[str, set]:
    """What GitHub shows of one repository at `now`, as `_got` reads it from the warehouse."""
    at, repo_id = _stamp(now), world.github_repositories[name]["id"]
    return {
        "stars": {(repo_id, s["user_id"]) for s in world.github_stargazers[name] if s["starred_at"] <= at},
        "forks": {f["id"] for f in world.github_forks[name] if f["created_at"] <= at},
        "issues": {i["id"] for i in world.github_issues[name] if i["created_at"] <= at},
        "comments": {("issue", x["id"]) for x in world.github_issue_comments[name] if x["created_at"] <= at}
        | {("review", x["id"]) for x in world.github_review_comments[name] if x["created_at"] <= at},
    }  # fmt: skip


def _state(warehouse: Warehouse, name: str) -> str | None:
    return warehouse.get_cursor(ORG, "github", name)


def _requests(server: SandboxServer, suffix: str) -> list:
    return [r for r in server.state.requests if r.path.endswith(suffix)]


def test_the_repository_etag_waits_for_its_stars_and_forks(sandbox, warehouse, busy_world) -> None:
    repo = "acme/acmedb"
    assert _sync(sandbox, warehouse, repo).stopped_early is None
    later = ANCHOR + timedelta(days=3)
    expected = _repo_expected(busy_world, repo, later)
    assert len(expected["stars"]) > len(_got(warehouse, ORG)["stars"])  # new stars meanwhile
    sandbox.state.set_clock(later)
    # The budget runs out right after the repository object: the stars are not read.
    sandbox.state.github.configure(rate_limit=11)
    cut = _sync(sandbox, warehouse, repo, reserve=10)
    assert cut.stopped_early
    sandbox.state.github.configure(rate_limit=5000)  # a new hour, nothing else changed
    again = _sync(sandbox, warehouse, repo)
    assert _got(warehouse, ORG) == expected  # not a 304 for the repository, skipping the stars
    assert cut.repositories[0].incomplete == ["stargazers"]
    assert "stargazers" not in again.repositories[0].not_modified


def test_a_deleted_account_is_a_tombstone_asked_for_again_only_when_stale(
    sandbox, warehouse
) -> None:
    repo, gone = "acme/acmedb", 987654321
    _sync(sandbox, warehouse, repo)
    # A star an earlier sync stored, by an account deleted since: GET /user/{id} is 404 now.
    with warehouse.transaction() as tx:
        tx.execute(
            "INSERT INTO raw.github_stargazers SELECT organization_id, repo_id, :u, 'gone-user', "
            "user_type, starred_at, payload, ingested_at, updated_at FROM raw.github_stargazers "
            "LIMIT 1",
            {"u": gone},
        )

    def run(days: int) -> list:
        sandbox.state.set_clock(ANCHOR + timedelta(days=days))
        sandbox.state.clear_requests()
        report = _sync(sandbox, warehouse, repo)
        assert report.stopped_early is None and not report.repositories[0].error
        return [r.status for r in _requests(sandbox, f"/user/{gone}")]

    assert run(1) == [404]  # the sync goes on
    row = warehouse.read_df(
        "SELECT login, type, name, payload, fetched_at FROM raw.github_users WHERE user_id = :u",
        {"u": gone},
    ).iloc[0]
    assert (row["login"], row["type"], row["name"], row["payload"]) == (
        "gone-user",
        "deleted",
        None,
        None,
    )
    assert row["fetched_at"] == ANCHOR + timedelta(days=1)
    assert run(2) == []  # a user row like the others: fresh for profile_max_age (7 days)
    assert run(9) == [404]  # stale: asked again, and fresh again from then on
    assert run(10) == []
    assert len(_got(warehouse, ORG)["stars"]) > 0


def test_a_rate_limit_stop_keeps_what_was_read_and_the_next_runs_go_on(
    sandbox, warehouse, busy_world
) -> None:
    """Three requests an hour: no listing fits in one hour, yet every hour moves on."""
    repo = "acme/acmedb-py"
    expected = _repo_expected(busy_world, repo, ANCHOR)
    assert len(expected["stars"]) > 300 and len(expected["comments"]) > 300
    sandbox.state.github.configure(rate_limit=3)
    newest_comment = "SELECT max(github_updated_at) FROM raw.github_comments WHERE kind = 'issue'"
    stored, resumed = [], []
    for _ in range(8):
        before = warehouse.scalar(newest_comment)
        sandbox.state.github.reset()  # a new hour
        sandbox.state.clear_requests()
        assert _sync(sandbox, warehouse, repo, reserve=0).stopped_early
        got = _got(warehouse, ORG)
        stored.append(sum(len(v) for v in got.values()))
        asc = [r.params for r in _requests(sandbox, "/issues/comments")]
        asc = [q for q in asc if q["direction"] == "asc"]
        if pd.notna(before) and asc:
            resumed.append((asc[0]["since"], _stamp(before.to_pydatetime())))
        if got == expected:
            break
    assert got == expected
    assert stored[0] == 200  # the first hour: two pages of stars, kept although cut short
    assert all(b > a for a, b in itertools.pairwise(stored))  # every hour moves on
    # Comments cut short go on oldest first from the newest time read, not from the start.
    assert resumed and all(since == newest for since, newest in resumed)
    key = resource_cursor(busy_world.github_repositories[repo]["id"], "issue_comments")
    assert ResourceState.loads(_state(warehouse, key)).etag  # then read to its end


def test_the_stargazer_state_is_the_last_non_empty_page_with_its_etag(
    sandbox, warehouse, busy_world
) -> None:
    repo = "acme/acmedb"
    stars = busy_world.github_stargazers[repo]
    # The clock at the 200th star: two full pages, the probe of page 3 finds nothing.
    sandbox.state.set_clock(datetime.fromisoformat(stars[199]["starred_at"].replace("Z", "+00:00")))
    assert stars[200]["starred_at"] > stars[199]["starred_at"]
    _sync(sandbox, warehouse, repo)
    key = resource_cursor(busy_world.github_repositories[repo]["id"], "stargazers")
    state = ResourceState.loads(_state(warehouse, key))
    assert state.page == 2 and state.etag
    sandbox.state.set_clock(ANCHOR)
    sandbox.state.clear_requests()
    _sync(sandbox, warehouse, repo)
    asked = [(r.params["page"], r.status) for r in _requests(sandbox, "/stargazers")]
    assert asked[:2] == [("2", 304), ("3", 200)]  # page 2 unchanged (free), then what is new
    assert _got(warehouse, ORG)["stars"] == _repo_expected(busy_world, repo, ANCHOR)["stars"]


def test_a_redirect_to_another_host_is_refused_naming_the_repository(
    sandbox, warehouse, busy_world
) -> None:
    old = next(r for r in busy_world.github_renamed if r.startswith(f"{ORG}/"))
    elsewhere = sandbox.base_url.replace("127.0.0.1", "localhost")  # another origin
    sandbox.state.github.configure(redirect_base_url=elsewhere)
    with _client(sandbox) as client, pytest.raises(RedirectRefused) as refused:
        client.repository(old)
    assert old in str(refused.value) and f"{elsewhere}/repositories/" in str(refused.value)
    assert [r.status for r in sandbox.state.requests] == [301]  # nothing sent to the other host
    report = _sync(sandbox, warehouse, old)  # reported like a missing repository
    assert "another origin" in report.repositories[0].error
    sandbox.state.github.configure(redirect_base_url=None)
    assert _sync(sandbox, warehouse, old).renamed == {old: busy_world.github_renamed[old]}


def test_a_repository_without_stars_or_forks_is_not_asked_for_them_again(warehouse) -> None:
    quiet = generate_world(seed=3, scale=0.2, anchor=ANCHOR, github_scale=0)
    with SandboxServer(quiet, tokens=(TOKEN,)) as server:
        first = _sync(server, warehouse, "acme/acmedb")
        assert first.stopped_early is None and not _got(warehouse, ORG)["stars"]
        server.state.clear_requests()
        again = _sync(server, warehouse, "acme/acmedb")
        # The repository object and the three listings' probes, each a 304; no empty listing.
        assert len(server.state.requests) == 4
        assert {"stargazers", "forks"} <= set(again.repositories[0].not_modified)
        assert not _requests(server, "/stargazers") and not _requests(server, "/forks")
