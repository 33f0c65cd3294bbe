"""Benchmark: sync one organization's tracked GitHub repositories from the sandbox, pacing off.

    python -m benchmarks.bench_github_sync                 # a fresh DuckDB file, deleted after
    python -m benchmarks.bench_github_sync --warehouse-url postgresql://postgres@127.0.0.1:5432/postgres

The sandbox runs in its own process (as GitHub would), started from a small Python entry point
here because `devsignal sandbox serve` has no `github_scale` knob; its GitHub rate limit is set
out of reach (1,000,000 an hour) and it has no faults, so nothing waits. The world's truth is
computed in a third process (it would otherwise inflate this process's RSS). Then, as the
github_activity asset does (`sync_github`, one transaction per run):

1. first sync into an empty warehouse: stargazers, forks, issues and pull requests, issue and
   review comments, then one GET /user/{id} per person seen. Items per second end to end, API
   calls by resource (checked against the pages the truth needs), seconds in HTTP (and the
   sandbox's CPU seconds in them), warehouse reads, the write transaction and the rest (JSON
   decoding, item checks, frames), peak RSS of this process (psutil, sampled);
2. the same sync again, nothing changed (the renamed repository tracked under its new name, as
   the asset saves it): one conditional request per resource, all 304s, plus the private
   repository's 404 (calls == 304s + renames followed + 404s);
3. the sandbox clock moved one day on (POST /_sandbox/clock), an incremental sync: calls and
   items (new activity, edits and comments on old issues).

After each sync the warehouse is compared with the world's truth at the sandbox clock: stars,
forks, issues (state, comment count, updated_at), comments (updated_at), profiles, repository
counts, and the rows the sync reports new / updated. Exits 1 on any mismatch.

`--warehouse-url postgresql://...` names a PostgreSQL server (connecting through the database in
the URL): a fresh database is created there and dropped at the end (`--keep` keeps it, and the
DuckDB file). A `duckdb:///...` URL is used as given and must not hold the organization yet.
"""

from __future__ import annotations

import argparse
import math
import os
import pickle
import re
import resource
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pandas as pd
import psutil

from benchmarks.bench_ingest import fresh_pg_database
from benchmarks.bench_twitter_sync import TOKEN, _free_port
from devsignal_pipelines.lib.sources.github.client import PER_PAGE, GitHubClient, GitHubStats
from devsignal_pipelines.lib.sources.github.fetch import RESOURCES
from devsignal_pipelines.lib.sources.github.sync import GitHubSyncReport, sync_github
from devsignal_pipelines.lib.stores.warehouse import Warehouse, WarehouseTransaction
from devsignal_pipelines.sandbox.vocabulary import ORGANIZATIONS

ANCHOR = datetime(2026, 11, 20, tzinfo=UTC)
TOKEN_ENV = "DEVSIGNAL_BENCH_TOKEN"
RATE_LIMIT = 1_000_000
STARGAZER_PAGE_LIMIT = 400  # the sandbox's default, as GitHub's
ROOT = Path(__file__).resolve().parents[1]
TABLES = {
    "repositories": "github_repositories",
    "stars": "github_stargazers",
    "forks": "github_forks",
    "issues": "github_issues",
    "comments": "github_comments",
    "users": "github_users",
}


def _github_time(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _world(seed: int, scale: float, github_scale: float) -> Any:
    from devsignal_pipelines.sandbox.world import generate_world

    return generate_world(seed=seed, scale=scale, anchor=ANCHOR, github_scale=github_scale)


# --- the sandbox process and the truth process --------------------------------------------------


def serve_sandbox(port: str, seed: str, scale: str, github_scale: str) -> None:
    """Entry point of the sandbox process: generate the world and serve it until terminated."""
    import uvicorn

    from devsignal_pipelines.sandbox.app import build_app
    from devsignal_pipelines.sandbox.faults import Faults

    world = _world(int(seed), float(scale), float(github_scale))
    app = build_app(world, Faults(), [TOKEN])
    uvicorn.run(
        app, host="127.0.0.1", port=int(port), log_level="warning", access_log=False, lifespan="off"
    )


def write_truth(seed: str, scale: str, github_scale: str, org: str, path: str) -> None:
    """Entry point of the truth process: what GitHub shows the organization at the anchor and a
    day later (the end of the world), pickled to `path`."""
    from devsignal_pipelines.sandbox.github.index import RepositoryIndex

    started = time.perf_counter()
    world = _world(int(seed), float(scale), float(github_scale))
    generated_s = time.perf_counter() - started
    tracked = list(world.github_repos[org])
    names = [world.github_renamed.get(r, r) for r in tracked if r not in world.github_missing]
    index = {name: RepositoryIndex(world, name) for name in names}
    truth = {
        "tracked": tracked,
        "renamed": {r: world.github_renamed[r] for r in tracked if r in world.github_renamed},
        "missing": [r for r in tracked if r in world.github_missing],
        "names": names,
        "generated_s": generated_s,
        "t0": _snapshot(world, index, _github_time(ANCHOR)),
        "t1": _snapshot(world, index, _github_time(ANCHOR + timedelta(days=1))),
    }
    Path(path).write_bytes(pickle.dumps(truth))


def _snapshot(world: Any, index: dict[str, Any], now: str) -> dict[str, Any]:
    """Keys as tests/integration/test_github_pipeline.py `_expected` finds them (the world's
    objects created by `now`); the values that change over time (issue state, comment count,
    updated_at; comment updated_at; repository counts) as the sandbox's index replays them."""
    snap: dict[str, Any] = {
        "counts": {},  # repository -> resource -> items visible (for the pages needed)
        "repositories": {},  # repo_id -> (stargazers_count, forks_count, open_issues_count)
        "repository_objects": {},  # repo_id -> GET /repos object (what a change compares)
        "stars": set(),  # (repo_id, user_id)
        "forks": set(),  # fork id
        "issues": {},  # issue id -> (state, comments, updated_at)
        "comments": {},  # (kind, comment id) -> updated_at
        "users": set(),  # everyone active: stargazers, fork owners, authors
    }
    readable = STARGAZER_PAGE_LIMIT * PER_PAGE
    for name, repo in index.items():
        repo_id = repo.repo_id
        stars = [s for s in world.github_stargazers[name] if s["starred_at"] <= now]
        forks = [f for f in world.github_forks[name] if f["created_at"] <= now]
        issues = [i for i in world.github_issues[name] if i["created_at"] <= now]
        comments = {
            kind: [
                c for c in getattr(world, f"github_{kind}_comments")[name] if c["created_at"] <= now
            ]
            for kind in ("issue", "review")
        }
        snap["counts"][name] = {
            "stargazers": len(stars),
            "forks": len(forks),
            "issues": len(issues),
            "issue_comments": len(comments["issue"]),
            "review_comments": len(comments["review"]),
        }
        counts = snap["repository_objects"][repo_id] = repo.repository(now)
        snap["repositories"][repo_id] = (
            counts["stargazers_count"],
            counts["forks_count"],
            counts["open_issues_count"],
        )
        stars = stars[:readable]  # GitHub lists the oldest 40,000 only
        snap["stars"] |= {(repo_id, s["user_id"]) for s in stars}
        snap["forks"] |= {f["id"] for f in forks}
        as_of = {i["id"]: i for i in repo.issues(now)}
        if set(as_of) != {i["id"] for i in issues}:
            raise AssertionError(f"the sandbox index disagrees with the world on {name}'s issues")
        snap["issues"] |= {
            i["id"]: (
                as_of[i["id"]]["state"],
                as_of[i["id"]]["comments"],
                as_of[i["id"]]["updated_at"],
            )
            for i in issues
        }
        for kind, replay in (("issue", repo.issue_comments), ("review", repo.review_comments)):
            updated = {c["id"]: c["updated_at"] for c in replay(now)}
            snap["comments"] |= {(kind, c["id"]): updated[c["id"]] for c in comments[kind]}
        snap["users"] |= {s["user_id"] for s in stars}
        snap["users"] |= {f["owner"]["id"] for f in forks}
        snap["users"] |= {
            item["user"]["id"]
            for item in [*issues, *comments["issue"], *comments["review"]]
            if isinstance(item.get("user"), dict)
        }
    return snap


def _start_process(args: list[str], log: Path) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-c", *args],
        cwd=ROOT,
        env={**os.environ, TOKEN_ENV: TOKEN},
        stdout=subprocess.DEVNULL,
        stderr=log.open("w"),
    )


def _wait_healthy(process: subprocess.Popen, base_url: str, log: Path, limit_s: float) -> None:
    deadline = time.monotonic() + limit_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the sandbox exited with {process.returncode}:\n{log.read_text()}")
        try:
            if httpx.get(f"{base_url}/_sandbox/health", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            time.sleep(0.2)
    raise RuntimeError(f"the sandbox did not answer within {limit_s:.0f} s:\n{log.read_text()}")


# --- measuring ----------------------------------------------------------------------------------


class TimedWarehouse(Warehouse):
    """The warehouse, counting seconds in write transactions and in reads."""

    def __init__(self, url: str) -> None:
        super().__init__(url)
        self.transaction_s = 0.0
        self.transactions = 0
        self.read_s = 0.0

    @contextmanager
    def transaction(self) -> Iterator[WarehouseTransaction]:
        started = time.perf_counter()
        try:
            with super().transaction() as tx:
                yield tx
        finally:
            self.transaction_s += time.perf_counter() - started
            self.transactions += 1

    def read_df(self, sql: str, params: dict[str, Any] | None = None) -> pd.DataFrame:
        started = time.perf_counter()
        try:
            return super().read_df(sql, params)
        finally:
            self.read_s += time.perf_counter() - started


class TimedGitHubClient(GitHubClient):
    """The client, splitting its seconds in HTTP (`stats.http_s`) by resource."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.http_s_by_resource: dict[str, float] = {}

    def _send(self, request: httpx.Request, resource: str) -> tuple[httpx.Response, Any]:
        before = self.stats.http_s
        try:
            return super()._send(request, resource)
        finally:
            spent = self.stats.http_s - before
            self.http_s_by_resource[resource] = self.http_s_by_resource.get(resource, 0.0) + spent


class PeakRss:
    """This process's peak RSS during a block (psutil, every 10 ms)."""

    def __init__(self, interval_s: float = 0.01) -> None:
        self.interval_s = interval_s
        self.peak = 0
        self._me = psutil.Process()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while True:
            self.peak = max(self.peak, self._me.memory_info().rss)
            if self._stop.wait(self.interval_s):
                return

    def __enter__(self) -> PeakRss:
        self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, self._me.memory_info().rss)


@dataclass
class Run:
    report: GitHubSyncReport
    stats: GitHubStats
    seconds: float
    transaction_s: float
    transactions: int
    read_s: float
    sandbox_cpu_s: float
    peak_rss: int
    rss_before: int
    http_s_by_resource: dict[str, float]

    @property
    def fetched(self) -> dict[str, int]:
        return {
            listing: sum(r.fetched.get(listing, 0) for r in self.report.repositories)
            for listing in RESOURCES
        }

    @property
    def items(self) -> int:
        return sum(self.fetched.values()) + self.report.profiles_fetched

    @property
    def not_found(self) -> int:
        return self.stats.status_counts.get(404, 0)


def run_sync(
    warehouse: TimedWarehouse, base_url: str, org: str, repos: list[str], sandbox: psutil.Process
) -> Run:
    warehouse.transaction_s, warehouse.transactions, warehouse.read_s = 0.0, 0, 0.0
    rss_before = psutil.Process().memory_info().rss
    cpu = sandbox.cpu_times()
    with PeakRss() as rss:
        started = time.perf_counter()
        with TimedGitHubClient(base_url, TOKEN, organization_id=org, token_env=TOKEN_ENV) as client:
            report = sync_github(warehouse, client, org, repos)
        seconds = time.perf_counter() - started
    after = sandbox.cpu_times()
    return Run(
        report,
        client.stats,
        seconds,
        warehouse.transaction_s,
        warehouse.transactions,
        warehouse.read_s,
        (after.user + after.system) - (cpu.user + cpu.system),
        rss.peak,
        rss_before,
        client.http_s_by_resource,
    )


# --- checking -----------------------------------------------------------------------------------


@dataclass
class Checks:
    failures: list[str] = field(default_factory=list)
    passed: int = 0

    def equal(self, what: str, expected: Any, got: Any) -> None:
        if expected == got:
            self.passed += 1
            return
        if isinstance(expected, set | dict) and isinstance(got, set | dict):
            missing, extra = set(expected) - set(got), set(got) - set(expected)
            differ = [k for k in set(expected) & set(got) if _value(expected, k) != _value(got, k)]
            detail = (
                f"expected {len(expected):,}, got {len(got):,}: {len(missing):,} missing "
                f"(e.g. {sorted(missing, key=str)[:3]}), {len(extra):,} extra "
                f"(e.g. {sorted(extra, key=str)[:3]}), {len(differ):,} differ "
                f"(e.g. {[(k, _value(expected, k), _value(got, k)) for k in sorted(differ, key=str)[:3]]})"
            )
        else:
            detail = f"expected {expected!r}, got {got!r}"
        self.failures.append(f"{what}: {detail}")


def _value(container: set | dict, key: Any) -> Any:
    return container.get(key) if isinstance(container, dict) else key


def _iso(values: pd.Series) -> list[str]:
    return pd.to_datetime(values, utc=True).dt.strftime("%Y-%m-%dT%H:%M:%SZ").tolist()


def warehouse_contents(warehouse: Warehouse, org: str) -> dict[str, Any]:
    def read(sql: str) -> pd.DataFrame:
        return warehouse.read_df(sql, {"o": org})

    where = "WHERE organization_id = :o"
    repos = read(
        f"SELECT repo_id, stargazers_count, forks_count, open_issues_count FROM raw.github_repositories {where}"
    )
    stars = read(f"SELECT repo_id, user_id FROM raw.github_stargazers {where}")
    forks = read(f"SELECT fork_id FROM raw.github_forks {where}")
    issues = read(
        f"SELECT issue_id, state, comments, github_updated_at FROM raw.github_issues {where}"
    )
    comments = read(f"SELECT kind, comment_id, github_updated_at FROM raw.github_comments {where}")
    users = read(f"SELECT user_id FROM raw.github_users {where}")
    return {
        "repositories": {
            int(r): (int(s), int(f), int(i))
            for r, s, f, i in repos.itertuples(index=False, name=None)
        },
        "stars": {(int(r), int(u)) for r, u in stars.itertuples(index=False, name=None)},
        "forks": {int(f) for f in forks["fork_id"]},
        "issues": {
            int(i): (s, int(c), t)
            for i, s, c, t in zip(
                issues["issue_id"],
                issues["state"],
                issues["comments"],
                _iso(issues["github_updated_at"]),
                strict=True,
            )
        },
        "comments": {
            (k, int(c)): t
            for k, c, t in zip(
                comments["kind"],
                comments["comment_id"],
                _iso(comments["github_updated_at"]),
                strict=True,
            )
        },
        "users": {int(u) for u in users["user_id"]},
    }


def check_contents(checks: Checks, when: str, snap: dict[str, Any], got: dict[str, Any]) -> None:
    for key in TABLES:
        checks.equal(f"{when}: raw.{TABLES[key]} against the truth", snap[key], got[key])


def pages(items: int) -> int:
    return max(1, math.ceil(items / PER_PAGE))


def first_sync_calls(truth: dict[str, Any]) -> dict[str, int]:
    """The requests a first sync needs: each repository object (a rename: the 301 and its
    target; a private one: its 404), every page of every listing (stargazers: plus one probe
    after a full last page, or the 422 past GitHub's last page) and one profile per person."""
    calls = {"repository": len(truth["tracked"]) + len(truth["renamed"])}
    for counts in truth["t0"]["counts"].values():
        stars = counts["stargazers"]
        star_pages = pages(stars) + (1 if stars and stars % PER_PAGE == 0 else 0)
        calls["stargazers"] = calls.get("stargazers", 0) + min(star_pages, STARGAZER_PAGE_LIMIT + 1)
        for listing in RESOURCES[1:]:
            calls[listing] = calls.get(listing, 0) + pages(counts[listing])
    if truth["t0"]["users"]:
        calls["users"] = len(truth["t0"]["users"])
    return calls


def changed(before: dict, after: dict) -> int:
    return sum(1 for key, value in before.items() if after.get(key) != value)


# --- the benchmark ------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--scale", type=float, default=10.0, help="world scale (people, CRM)")
    parser.add_argument(
        "--github-scale",
        type=float,
        default=20.0,
        help="GitHub activity multiplier (20 at scale 10: ~37,000 items and ~10,000 people)",
    )
    parser.add_argument("--org", default=ORGANIZATIONS[0].id, choices=[o.id for o in ORGANIZATIONS])
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument(
        "--warehouse-url",
        help="default: a DuckDB file in a temporary directory; postgresql://...: a fresh database "
        "on that server, dropped afterwards",
    )
    parser.add_argument(
        "--keep", action="store_true", help="keep the DuckDB file / PostgreSQL database"
    )
    args = parser.parse_args()

    tmp = Path(tempfile.mkdtemp(prefix="bench_github_"))
    port = _free_port()
    base_url = f"http://127.0.0.1:{port}"
    world_args = [str(args.seed), str(args.scale), str(args.github_scale)]
    started = time.perf_counter()
    truth_process = _start_process(
        [
            "import sys; from benchmarks.bench_github_sync import write_truth; write_truth(*sys.argv[1:])",
            *world_args,
            args.org,
            str(tmp / "truth.pickle"),
        ],
        tmp / "truth.log",
    )
    sandbox = _start_process(
        [
            "import sys; from benchmarks.bench_github_sync import serve_sandbox; serve_sandbox(*sys.argv[1:])",
            str(port),
            *world_args,
        ],
        tmp / "sandbox.log",
    )
    pg = (
        # The driver the warehouse uses (SQLAlchemy's default for postgresql:// may be another).
        fresh_pg_database(
            re.sub(r"^postgres(ql)?(\+\w+)?:", "postgresql+psycopg2:", args.warehouse_url),
            args.keep,
        )
        if args.warehouse_url and not args.warehouse_url.startswith("duckdb:")
        else nullcontext(args.warehouse_url or f"duckdb:///{tmp / 'warehouse.duckdb'}")
    )
    try:
        _wait_healthy(sandbox, base_url, tmp / "sandbox.log", limit_s=900)
        ready_s = time.perf_counter() - started
        if truth_process.wait(timeout=900) != 0:
            raise RuntimeError(f"the truth process failed:\n{(tmp / 'truth.log').read_text()}")
        truth = pickle.loads((tmp / "truth.pickle").read_bytes())
        httpx.post(
            f"{base_url}/_sandbox/github", json={"rate_limit": RATE_LIMIT}
        ).raise_for_status()
        with pg as url:
            ok = bench(args, truth, url, base_url, psutil.Process(sandbox.pid), ready_s)
    finally:
        sandbox.terminate()
        sandbox.wait(timeout=10)
        if truth_process.poll() is None:
            truth_process.kill()
        if args.keep:
            print(f"kept {tmp}", file=sys.stderr)
        else:
            shutil.rmtree(tmp, ignore_errors=True)
    sys.exit(0 if ok else 1)


def bench(
    args: argparse.Namespace,
    truth: dict[str, Any],
    url: str,
    base_url: str,
    sandbox: psutil.Process,
    ready_s: float,
) -> bool:
    org = args.org
    warehouse = TimedWarehouse(url)
    warehouse.ensure_tables()
    if warehouse.scalar(
        "SELECT count(*) FROM raw.sync_cursors WHERE organization_id = :o AND source = 'github'",
        {"o": org},
    ):
        raise SystemExit(f"{warehouse.safe_url} already holds GitHub data of {org}: not fresh")
    checks = Checks()
    t0, t1 = truth["t0"], truth["t1"]

    # 1. First sync into the empty warehouse.
    tracked = list(truth["tracked"])
    first = run_sync(warehouse, base_url, org, tracked, sandbox)
    check_contents(checks, "first sync", t0, warehouse_contents(warehouse, org))
    for key, table in TABLES.items():
        checks.equal(
            f"first sync: new rows of {table}", len(t0[key]), first.report.new.get(table, 0)
        )
    checks.equal(
        "first sync: profile requests (one a person)",
        len(t0["users"]),
        first.stats.calls_by_resource.get("users", 0),
    )
    checks.equal(
        "first sync: renames followed", len(truth["renamed"]), first.stats.redirects_followed
    )
    checks.equal("first sync: 404s (private repositories)", len(truth["missing"]), first.not_found)
    checks.equal("first sync: renamed as", truth["renamed"], first.report.renamed)

    # 2. Unchanged: the renamed repository is tracked under its new name, as the asset saves it.
    tracked = [first.report.renamed.get(r, r) for r in tracked]
    sandbox_304_before = (
        httpx.get(f"{base_url}/_sandbox/github").json()["counters"].get("not_modified", 0)
    )
    second = run_sync(warehouse, base_url, org, tracked, sandbox)
    sandbox_304 = (
        httpx.get(f"{base_url}/_sandbox/github").json()["counters"].get("not_modified", 0)
        - sandbox_304_before
    )
    readable = len(truth["names"])
    explained = second.stats.not_modified + second.stats.redirects_followed + second.not_found
    checks.equal(
        "unchanged sync: calls == 304s + renames followed + 404s", explained, second.stats.calls
    )
    checks.equal(
        "unchanged sync: one conditional request per resource",
        {
            "repository": len(tracked),
            "issues": readable,
            "issue_comments": readable,
            "review_comments": readable,
        },
        dict(second.stats.calls_by_resource),
    )
    checks.equal("unchanged sync: 304s (client)", 4 * readable, second.stats.not_modified)
    checks.equal("unchanged sync: 304s (sandbox)", second.stats.not_modified, sandbox_304)
    checks.equal("unchanged sync: items read", 0, second.items)
    checks.equal(
        "unchanged sync: rows new or updated",
        0,
        sum(second.report.new.values()) + sum(second.report.updated.values()),
    )
    check_contents(checks, "unchanged sync", t0, warehouse_contents(warehouse, org))

    # 3. A day later (the end of the world): new activity, edits, comments on old issues.
    later = ANCHOR + timedelta(days=1)
    httpx.post(f"{base_url}/_sandbox/clock", json={"now": later.isoformat()}).raise_for_status()
    third = run_sync(warehouse, base_url, org, tracked, sandbox)
    check_contents(checks, "incremental sync", t1, warehouse_contents(warehouse, org))
    for key, table in TABLES.items():
        new = len(set(t1[key]) - set(t0[key]))
        checks.equal(f"incremental sync: new rows of {table}", new, third.report.new.get(table, 0))
        compared = "repository_objects" if key == "repositories" else key
        updated = changed(t0[compared], t1[compared]) if isinstance(t0[key], dict) else 0
        checks.equal(
            f"incremental sync: updated rows of {table}",
            updated,
            third.report.updated.get(table, 0),
        )
    checks.equal(
        "incremental sync: profiles fetched",
        len(t1["users"] - t0["users"]),
        third.report.profiles_fetched,
    )

    for name, run in (("first", first), ("unchanged", second), ("incremental", third)):
        checks.equal(f"{name} sync: stopped early", None, run.report.stopped_early)
        checks.equal(f"{name} sync: quarantined", 0, run.report.quarantined)
        checks.equal(f"{name} sync: rate-limit waits", 0, run.stats.rate_limit_waits)
        checks.equal(f"{name} sync: retries", 0, run.stats.retries)
        checks.equal(
            f"{name} sync: failed repositories",
            truth["missing"],
            [r.requested for r in run.report.repositories if r.error],
        )

    print_results(args, truth, warehouse, ready_s, first, second, third, checks)
    return not checks.failures


def _by_resource(stats: GitHubStats, minimum: dict[str, int] | None = None) -> str:
    """Calls by resource; with `minimum`, how many more each took than the truth needs."""
    order = ["repository", *RESOURCES, "users"]
    calls = stats.calls_by_resource

    def extra(r: str) -> str:
        more = calls[r] - minimum.get(r, 0) if minimum is not None else 0
        return f" ({more:+,})" if more else ""

    return ", ".join(f"{r} {calls[r]:,}{extra(r)}" for r in sorted(calls, key=order.index))


def print_results(
    args: argparse.Namespace,
    truth: dict[str, Any],
    warehouse: TimedWarehouse,
    ready_s: float,
    first: Run,
    second: Run,
    third: Run,
    checks: Checks,
) -> None:
    names = ", ".join(
        f"{r} -> {truth['renamed'][r]} (renamed)"
        if r in truth["renamed"]
        else f"{r} (private: 404)"
        if r in truth["missing"]
        else r
        for r in truth["tracked"]
    )
    mb = 1024 * 1024
    print(
        f"organization {args.org}: {names}; seed {args.seed}, scale {args.scale:g}, "
        f"github_scale {args.github_scale:g}"
    )
    print(
        f"sandbox                own process, ready in {ready_s:.1f} s (the truth process, "
        f"alongside: world generated in {truth['generated_s']:.1f} s); rate limit "
        f"{RATE_LIMIT:,}/h, no faults, pacing off"
    )
    print(f"warehouse              {warehouse.dialect} (fresh)")

    fetched = first.fetched
    s = first.seconds
    rest = s - first.stats.http_s - first.read_s - first.transaction_s
    print("\nfirst sync")
    print(
        f"  items                {first.items:,} = stargazers {fetched['stargazers']:,} + forks "
        f"{fetched['forks']:,} + issues/PRs {fetched['issues']:,} + comments "
        f"{fetched['issue_comments']:,} + review comments {fetched['review_comments']:,} + "
        f"profiles {first.report.profiles_fetched:,}"
    )
    distinct = sum(len(truth["t0"][k]) for k in ("stars", "forks", "issues", "comments", "users"))
    if first.items != distinct:
        print(
            f"                       ({distinct:,} distinct: {first.items - distinct:+,} read again)"
        )
    print(f"  end to end           {s:.2f} s  ->  {first.items / s:,.0f} items/s")
    print(
        f"    HTTP               {first.stats.http_s:.2f} s ({first.stats.http_s / s:.0%}; the "
        f"sandbox's CPU in that: {first.sandbox_cpu_s:.2f} s)"
    )
    by = first.http_s_by_resource
    profiles_s = by.get("users", 0.0)
    calls = first.stats.calls_by_resource
    listing_calls = sum(n for r, n in calls.items() if r != "users")
    print(
        f"      profiles         {profiles_s:.2f} s for {calls.get('users', 0):,} calls "
        f"({1000 * profiles_s / max(calls.get('users', 0), 1):.2f} ms a call)"
    )
    print(
        f"      listings         {first.stats.http_s - profiles_s:.2f} s for {listing_calls:,} "
        f"calls ({1000 * (first.stats.http_s - profiles_s) / max(listing_calls, 1):.1f} ms a call)"
    )
    print(f"    warehouse reads    {first.read_s:.2f} s")
    print(f"    write transaction  {first.transaction_s:.2f} s ({first.transactions} transaction)")
    print(f"    the rest           {rest:.2f} s (JSON decoding, item checks, frames)")
    minimum = first_sync_calls(truth)
    print(
        f"  API calls            {first.stats.calls:,} (the pages and profiles the truth needs: "
        f"{sum(minimum.values()):,}): {_by_resource(first.stats, minimum)}; "
        f"{first.stats.redirects_followed} rename followed, {first.not_found} 404"
    )
    print(
        f"  peak RSS             {first.peak_rss / mb:,.0f} MB (psutil, this process; "
        f"{first.rss_before / mb:,.0f} MB before the sync)"
    )

    explained = second.stats.not_modified + second.stats.redirects_followed + second.not_found
    print("\nunchanged second sync")
    print(
        f"  API calls            {second.stats.calls:,} "
        f"{'=' if second.stats.calls == explained else '!='} {second.stats.not_modified} 304s + "
        f"{second.stats.redirects_followed} renames followed + {second.not_found} 404 "
        f"({_by_resource(second.stats)})"
    )
    print(
        f"  seconds              {second.seconds:.2f} (HTTP {second.stats.http_s:.2f}, warehouse "
        f"reads {second.read_s:.2f}, write transaction {second.transaction_s:.2f})"
    )

    fetched = third.fetched
    new, updated = third.report.new, third.report.updated
    print("\nincremental sync, clock + 1 day")
    print(
        f"  API calls            {third.stats.calls:,}: {_by_resource(third.stats)}; "
        f"{third.stats.not_modified} 304s"
    )
    print(
        f"  items read           {third.items:,} = "
        + " + ".join(f"{r} {n:,}" for r, n in fetched.items())
        + f" + profiles {third.report.profiles_fetched:,}"
    )
    print(
        "  rows new / updated   "
        + ", ".join(
            f"{table.removeprefix('github_')} {new.get(table, 0):,} / {updated.get(table, 0):,}"
            for table in TABLES.values()
        )
    )
    print(
        f"  seconds              {third.seconds:.2f} (HTTP {third.stats.http_s:.2f}, warehouse "
        f"reads {third.read_s:.2f}, write transaction {third.transaction_s:.2f}); peak RSS "
        f"{third.peak_rss / mb:,.0f} MB"
    )
    print(
        f"\nprocess peak RSS       "
        f"{resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:,.0f} MB (getrusage)"
    )
    if checks.failures:
        print(f"\nFAILED {len(checks.failures)} of {len(checks.failures) + checks.passed} checks:")
        for failure in checks.failures:
            print(f"  {failure}")
    else:
        print(f"checks                 {checks.passed} passed (counts against the world's truth)")


if __name__ == "__main__":
    main()
