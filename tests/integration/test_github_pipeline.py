"""GitHub end to end: the sandbox's GitHub API over HTTP -> Dagster runs -> DuckDB / PostgreSQL."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
import sqlalchemy as sa

from devsignal_pipelines.demo.summary import identity_scores
from devsignal_pipelines.lib.stores import control as c
from devsignal_pipelines.sandbox.faults import Faults
from tests.integration.conftest import TOKEN_ENV

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
    read = pipeline.warehouse.read_df
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
