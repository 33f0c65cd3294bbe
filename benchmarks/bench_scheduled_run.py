"""Benchmark: a scheduled run's time against the CLI's, for one organization's source sync.

    python -m benchmarks.bench_scheduled_run                      # twitter_sync of acme, 3 times
    python -m benchmarks.bench_scheduled_run --source twitter --source stackoverflow --repeat 5

Under `make dev` a scheduled twitter_sync used to take minutes where `devsignal sync` took
seconds: Dagster's default multiprocess executor started a process per step (each importing the
code location) and the steps then queued for the warehouse pool (limit 1 on DuckDB) anyway.
Commit dca763c gave the Definitions the in_process executor. This measures, on a fresh
DEVSIGNAL_HOME (temporary) against the sandbox API in its own process
(`devsignal sandbox serve --seed-control-db`):

- cli: `devsignal sync ORG --source SOURCE` as a subprocess, process start to exit (imports
  included);
- scheduled in_process: a run submitted the way a schedule's is. A run-queue daemon process
  (Dagster's QueuedRunCoordinatorDaemon under Dagster's daemon controller, as `dagster dev` runs
  it, with warm code servers for the workspace) serves the instance $DEVSIGNAL_HOME/dagster,
  whose run coordinator is Dagster's default QueuedRunCoordinator and whose run launcher is the
  DefaultRunLauncher. `dagster job launch -w WORKSPACE -l LOCATION -j JOB --tags
  '{"dagster/partition": ORG}'` creates and submits the run (status QUEUED); the daemon dequeues
  it (every 5 s, the instance's dequeue interval) and the launcher has the code server start the
  run in a new process. Timed from the run's creation in run storage (the moment a schedule
  tick submits it) to its end; the run record's own start -> end beside it. The schedule and
  sensor daemons are left out: schedules and sensors are on by default and would start runs of
  their own in the middle of the measurements;
- scheduled multiprocess: the same, in a second code location (a file in the temporary
  directory) that wraps `build_definitions()` with `executor=dg.multiprocess_executor`: the jobs
  as they ran before dca763c (Dagster's default executor is multiprocess, one process a step,
  at most one a CPU).

Fairness: every mode syncs the same organization into the same warehouse, against a sandbox
whose clock stays at its anchor, so after one unmeasured warm-up run per mode every run does
the same incremental work (no new posts; the same downstream rebuilds). The repetitions are
interleaved (cli, in_process, multiprocess, cli, ...) so that drift hits every mode alike. Each
run must succeed and materialize the same assets, with the same row counts, as the CLI's run;
the in_process runs must start no step process and the multiprocess runs one per step.

Exits 1 when a check fails, among them "scheduled in_process within 1.5x of CLI" (`--target`):
the median submission -> end of the scheduled in_process runs against the median CLI wall time.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import psutil

from devsignal_pipelines.sandbox.vocabulary import ORGANIZATIONS

ROOT = Path(__file__).resolve().parents[1]
TOKEN_ENV = "DEVSIGNAL_BENCH_TOKEN"
TOKEN = "bench-token"
LOCATIONS = {
    # mode -> code location name in the benchmark's workspace
    "in_process": "devsignal_pipelines",
    "multiprocess": "devsignal_multiprocess",
}
MODES = ["cli", "in_process", "multiprocess"]
LABELS = {
    "cli": "cli (devsignal sync)",
    "in_process": "scheduled in_process",
    "multiprocess": "scheduled multiprocess",
}
RUN_TIMEOUT_S = 1800.0
POOL_BLOCKED = "blocked by limit for pool"  # Dagster's engine event while a step waits for a slot
# The launched run process's first event, before it loads the code location.
PROCESS_STARTED = "Started process for run"
MULTIPROCESS_DEFS = '''\
"""The DevSignal code location with the multiprocess executor (one process a step), as the jobs
ran before commit dca763c. Written by benchmarks/bench_scheduled_run.py."""

import dagster as dg

from devsignal_pipelines.definitions import build_definitions


def _with_multiprocess_executor(base: dg.Definitions) -> dg.Definitions:
    return dg.Definitions(
        assets=base.assets,
        asset_checks=base.asset_checks,
        jobs=base.jobs,
        schedules=base.schedules,
        sensors=base.sensors,
        resources=base.resources,
        executor=dg.multiprocess_executor,
    )


defs = _with_multiprocess_executor(build_definitions())
'''


# --- the run-queue daemon process ----------------------------------------------------------------


def serve_run_queue(workspace: str) -> None:
    """Entry point of the daemon process: Dagster's daemon controller (as `dagster-daemon run`,
    which `dagster dev` starts) with the run-queue daemon only, until SIGINT / SIGTERM."""
    from dagster._core.workspace.load_target import WorkspaceFileTarget
    from dagster._daemon.controller import daemon_controller_from_instance
    from dagster._daemon.run_coordinator.queued_run_coordinator_daemon import (
        QueuedRunCoordinatorDaemon,
    )

    from devsignal_pipelines.instance import get_instance

    def run_queue_only(instance: Any) -> list[Any]:
        interval = instance.run_coordinator.dequeue_interval_seconds
        return [QueuedRunCoordinatorDaemon(interval_seconds=interval)]

    signal.signal(signal.SIGTERM, signal.default_int_handler)  # clean exit: stop the code servers
    instance = get_instance()
    with daemon_controller_from_instance(
        instance,
        workspace_load_target=WorkspaceFileTarget(paths=[workspace]),
        gen_daemons=run_queue_only,
    ) as controller:
        print("run queue daemon ready", file=sys.stderr, flush=True)
        with contextlib.suppress(KeyboardInterrupt):
            controller.check_daemon_loop()


# --- processes ----------------------------------------------------------------------------------


def _wait_for(condition: Any, what: str, limit_s: float, process: Any = None, log: Any = None):
    deadline = time.monotonic() + limit_s
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            text = log.read_text() if log else ""
            raise RuntimeError(f"{what}: the process exited with {process.returncode}\n{text}")
        value = condition()
        if value:
            return value
        time.sleep(0.2)
    raise RuntimeError(f"gave up waiting for {what} after {limit_s:.0f} s")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _answers(url: str) -> bool:
    try:
        return httpx.get(f"{url}/_sandbox/health", timeout=1).status_code == 200
    except httpx.HTTPError:
        return False


def _stop(process: subprocess.Popen | None, sig: int = signal.SIGTERM) -> None:
    """Stop a process this benchmark started, then whatever it started that is left over."""
    if process is None or process.poll() is not None:
        return
    try:
        children = psutil.Process(process.pid).children(recursive=True)
    except psutil.NoSuchProcess:
        children = []
    process.send_signal(sig)
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
    _, alive = psutil.wait_procs(children, timeout=10)
    for child in alive:
        child.kill()


def _devsignal() -> list[str]:
    script = Path(sys.executable).with_name("devsignal")
    return [str(script)] if script.exists() else [sys.executable, "-m", "devsignal_pipelines.cli"]


def _dagster() -> list[str]:
    script = Path(sys.executable).with_name("dagster")
    return [str(script)] if script.exists() else [sys.executable, "-m", "dagster"]


# --- runs ----------------------------------------------------------------------------------------


@dataclass
class Run:
    mode: str
    source: str
    run_id: str
    wall_s: float  # cli: process start -> exit; scheduled: run created -> run ended
    record_s: float  # the run record's start -> end
    to_start_s: float  # cli: process start -> run start; scheduled: run created -> run start
    after_end_s: float  # cli: run end -> process exit; scheduled: 0 (timed to the run's end)
    status: str
    assets: dict[str, Any]  # asset key -> row count of its materialization
    queued_s: float = 0.0  # created -> dequeued and handed to the launcher (RUN_STARTING)
    process_s: float = 0.0  # RUN_STARTING -> the new run process reports itself (spawn, imports)
    load_s: float = 0.0  # -> RUN_START: the run process loads the code location (the job)
    command_s: float = 0.0  # `dagster job launch` itself (loads the workspace; not counted)
    step_processes: int = 0
    step_process_start_s: float = 0.0  # per step: worker starting -> step start, summed
    pool_wait_s: float = 0.0  # per step: first "blocked by limit for pool" -> launched, summed
    steps: int = 0
    log: str = ""


@dataclass
class Bench:
    args: argparse.Namespace
    tmp: Path
    env: dict[str, str]
    instance: Any = None
    runs: list[Run] = field(default_factory=list)
    warmups: list[Run] = field(default_factory=list)
    load_average: list[float] = field(default_factory=list)  # 1-minute, before each measured run

    def cli_run(self, source: str) -> Run:
        log = self.tmp / f"cli-{source}-{len(self.runs) + len(self.warmups)}.log"
        started, started_at = time.perf_counter(), time.time()
        done = subprocess.run(
            [*_devsignal(), "sync", self.args.org, "--source", source],
            cwd=ROOT,
            env=self.env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            timeout=RUN_TIMEOUT_S,
        )
        wall = time.perf_counter() - started
        log.write_text(done.stdout)
        found = re.search(r"\(run ([0-9a-f-]{36})\)", done.stdout)
        if done.returncode != 0 or not found:
            raise RuntimeError(f"devsignal sync exited with {done.returncode}:\n{done.stdout}")
        return self._collect("cli", source, found.group(1), wall, done.stdout, started_at)

    def scheduled_run(self, mode: str, source: str) -> Run:
        run_id = str(uuid.uuid4())
        tags = {"dagster/partition": self.args.org, "devsignal/source": source}
        tags["devsignal/trigger"] = "bench_scheduled_run"
        log = self.tmp / f"launch-{mode}-{source}-{run_id[:8]}.log"
        started = time.perf_counter()
        done = subprocess.run(
            [
                *_dagster(),
                "job",
                "launch",
                *("-w", str(self.tmp / f"workspace-{mode}.yaml")),
                *("-l", LOCATIONS[mode]),
                *("-j", f"{source}_sync"),
                *("--run-id", run_id),
                *("--tags", json.dumps(tags)),
            ],
            cwd=ROOT,
            env=self.env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            timeout=RUN_TIMEOUT_S,
        )
        command_s = time.perf_counter() - started
        log.write_text(done.stdout)
        if done.returncode != 0:
            raise RuntimeError(f"dagster job launch exited with {done.returncode}:\n{done.stdout}")
        record = _wait_for(
            lambda: self._finished(run_id), f"run {run_id[:8]} ({mode})", RUN_TIMEOUT_S
        )
        created = record.create_timestamp.timestamp()
        run = self._collect(mode, source, run_id, record.end_time - created, done.stdout, created)
        run.command_s = command_s
        return run

    def _finished(self, run_id: str) -> Any:
        record = self.instance.get_run_record_by_id(run_id)
        if record and record.dagster_run.is_finished and record.end_time:
            return record
        return None

    def _collect(
        self, mode: str, source: str, run_id: str, wall: float, log: str, began_at: float
    ) -> Run:
        """The run's record and event log; `began_at`: when the timed wall span began (epoch s)."""
        import dagster as dg

        from devsignal_pipelines.instance import open_instance

        if self.instance is None:  # the first `devsignal sync` wrote dagster.yaml
            self.instance = open_instance(self.tmp / "home" / "dagster")
        record = self.instance.get_run_record_by_id(run_id)
        start, end = record.start_time or 0.0, record.end_time or 0.0
        run = Run(
            mode=mode,
            source=source,
            run_id=run_id,
            wall_s=wall,
            record_s=end - start,
            to_start_s=start - began_at,
            after_end_s=began_at + wall - end,
            status=record.dagster_run.status.value,
            assets={},
            log=log,
        )
        first: dict[str, float] = {}  # event type -> first timestamp
        worker_starting: dict[str, float] = {}
        blocked: dict[str, float] = {}
        launched: dict[str, float] = {}
        step_start: dict[str, float] = {}
        for entry in self.instance.all_logs(run_id):
            event = entry.dagster_event
            if event is None:
                continue
            kind, step, at = event.event_type, event.step_key, entry.timestamp
            message = event.message or ""
            first.setdefault(kind.value, at)
            if kind == dg.DagsterEventType.ENGINE_EVENT and message.startswith(PROCESS_STARTED):
                first.setdefault(PROCESS_STARTED, at)
            if kind == dg.DagsterEventType.ASSET_MATERIALIZATION:
                materialization = event.step_materialization_data.materialization
                rows = materialization.metadata.get("dagster/row_count")
                key = materialization.asset_key.to_user_string()
                run.assets[key] = rows.value if rows else None
            elif kind == dg.DagsterEventType.STEP_WORKER_STARTING:
                worker_starting[step] = at
                launched.setdefault(step, at)
            elif kind == dg.DagsterEventType.STEP_START:
                step_start[step] = at
                launched.setdefault(step, at)
            elif kind == dg.DagsterEventType.ENGINE_EVENT and step and POOL_BLOCKED in message:
                blocked.setdefault(step, at)
        run.steps = len(step_start)
        run.step_processes = len(worker_starting)
        run.step_process_start_s = sum(
            step_start[s] - worker_starting[s] for s in worker_starting if s in step_start
        )
        run.pool_wait_s = sum(launched[s] - blocked[s] for s in blocked if s in launched)
        created = record.create_timestamp.timestamp()
        # The queue daemon hands the run to the launcher (RUN_STARTING); the code server spawns
        # the run process, which says "Started process for run", loads the job, then RUN_START.
        starting = first.get(dg.DagsterEventType.RUN_STARTING.value)
        if starting is not None:
            run.queued_s = starting - created
            process_started = first.get(PROCESS_STARTED, start)
            run.process_s = process_started - starting
            run.load_s = start - process_started
        return run


# --- the benchmark -------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--org", default=ORGANIZATIONS[0].id, choices=[o.id for o in ORGANIZATIONS])
    parser.add_argument(
        "--source",
        action="append",
        choices=["twitter", "stackoverflow"],
        help="the source job(s) to time (repeatable; default twitter)",
    )
    parser.add_argument("--repeat", type=int, default=3, help="measured runs per mode and source")
    parser.add_argument(
        "--scale", type=float, default=1.0, help="sandbox world scale (make dev: 1)"
    )
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument(
        "--target", type=float, default=1.5, help="scheduled in_process / CLI must stay within this"
    )
    parser.add_argument(
        "--modes",
        default=",".join(MODES),
        help="comma-separated subset of cli,in_process,multiprocess (cli is always run)",
    )
    parser.add_argument("--keep", action="store_true", help="keep the temporary directory")
    args = parser.parse_args()
    args.source = args.source or ["twitter"]
    modes = [m for m in MODES if m == "cli" or m in args.modes.split(",")]
    if args.repeat < 1:
        parser.error("--repeat must be at least 1")

    tmp = Path(tempfile.mkdtemp(prefix="bench_scheduled_run_"))
    home = tmp / "home"
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DEVSIGNAL_", "DAGSTER_"))}
    env |= {
        "DEVSIGNAL_HOME": str(home),
        "DAGSTER_HOME": str(home / "dagster"),
        TOKEN_ENV: TOKEN,
        "PYTHONPATH": str(ROOT),
    }
    env |= {
        f"DEVSIGNAL_{api}_API_URL": url for api in ("X", "STACKEXCHANGE", "GITHUB", "ENRICHMENT")
    }
    (tmp / "multiprocess_defs.py").write_text(MULTIPROCESS_DEFS)
    # The daemon serves both code locations; each `dagster job launch` loads only its own.
    entries = {
        "in_process": "  - python_module:\n"
        "      module_name: devsignal_pipelines.definitions\n"
        f"      location_name: {LOCATIONS['in_process']}\n"
        f"      working_directory: {ROOT}\n",
        "multiprocess": "  - python_file:\n"
        f"      relative_path: {tmp / 'multiprocess_defs.py'}\n"
        f"      location_name: {LOCATIONS['multiprocess']}\n"
        f"      working_directory: {ROOT}\n",
    }
    (tmp / "workspace.yaml").write_text("load_from:\n" + "".join(entries.values()))
    for mode, entry in entries.items():
        (tmp / f"workspace-{mode}.yaml").write_text("load_from:\n" + entry)
    sandbox = daemon = None
    bench = Bench(args, tmp, env)
    ok = False
    try:
        started = time.perf_counter()
        sandbox_log = tmp / "sandbox.log"
        sandbox = subprocess.Popen(
            [
                *_devsignal(),
                "sandbox",
                "serve",
                *("--port", str(port), "--seed", str(args.seed), "--scale", str(args.scale)),
                *("--seed-control-db", "--token-env", TOKEN_ENV),
            ],
            cwd=ROOT,
            env=env,
            stdout=sandbox_log.open("w"),
            stderr=subprocess.STDOUT,
        )
        _wait_for(lambda: _answers(url), f"the sandbox on {url}", 300, sandbox, sandbox_log)
        sandbox_s = time.perf_counter() - started

        # The first sync of each source (a full one) writes dagster.yaml and adds the partition.
        for source in args.source:
            bench.warmups.append(bench.cli_run(source))

        scheduled = [m for m in modes if m != "cli"]
        daemon_s = 0.0
        if scheduled:
            started = time.perf_counter()
            daemon_log = tmp / "daemon.log"
            daemon = subprocess.Popen(
                [
                    sys.executable,
                    "-c",
                    "import sys; from benchmarks.bench_scheduled_run import serve_run_queue; "
                    "serve_run_queue(sys.argv[1])",
                    str(tmp / "workspace.yaml"),
                ],
                cwd=ROOT,
                env=env,
                stdout=subprocess.DEVNULL,
                stderr=daemon_log.open("w"),
            )
            _wait_for(
                lambda: "run queue daemon ready" in daemon_log.read_text(),
                "the run-queue daemon (its code servers)",
                300,
                daemon,
                daemon_log,
            )
            daemon_s = time.perf_counter() - started

        # One unmeasured run per mode and source: every measured run then does the same
        # incremental work, and each code server has served a run before.
        for source in args.source:
            for mode in modes:
                bench.warmups.append(_one(bench, mode, source))
        for _ in range(args.repeat):
            for source in args.source:
                for mode in modes:
                    bench.load_average.append(os.getloadavg()[0])
                    bench.runs.append(_one(bench, mode, source))
                    print(_progress(bench.runs[-1]), file=sys.stderr, flush=True)
        checks = check(bench, modes)
        report(bench, modes, checks, sandbox_s, daemon_s)
        ok = all(checks.values())
    finally:
        _stop(daemon, signal.SIGINT)
        _stop(sandbox)
        if bench.instance is not None:
            bench.instance.dispose()
        if args.keep:
            print(f"kept {tmp}", file=sys.stderr)
        else:
            shutil.rmtree(tmp, ignore_errors=True)
    sys.exit(0 if ok else 1)


def _one(bench: Bench, mode: str, source: str) -> Run:
    return bench.cli_run(source) if mode == "cli" else bench.scheduled_run(mode, source)


def _progress(run: Run) -> str:
    return (
        f"  {run.source} {LABELS[run.mode]}: {run.wall_s:.1f} s (run {run.record_s:.1f} s, "
        f"{run.status})"
    )


def _median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


def check(bench: Bench, modes: list[str]) -> dict[str, bool]:
    checks: dict[str, bool] = {}
    by = defaultdict(list)
    for run in bench.runs:
        by[run.source, run.mode].append(run)
    for source in bench.args.source:
        cli_assets = by[source, "cli"][0].assets
        runs = [r for m in modes for r in by[source, m]]
        warmups = [r for r in bench.warmups if r.source == source]
        checks[f"{source}: every run succeeded ({len(runs)} measured, {len(warmups)} warm-up)"] = (
            all(r.status == "SUCCESS" for r in [*runs, *warmups])
        )
        checks[
            f"{source}: every run materialized the CLI run's {len(cli_assets)} assets, same row "
            "counts"
        ] = bool(cli_assets) and all(r.assets == cli_assets for r in runs)
        if "in_process" in modes:
            checks[f"{source}: scheduled in_process runs started no step process"] = all(
                r.step_processes == 0 for r in by[source, "in_process"]
            )
        if "multiprocess" in modes:
            checks[f"{source}: scheduled multiprocess runs started one process a step"] = all(
                r.step_processes == r.steps > 0 for r in by[source, "multiprocess"]
            )
        if "in_process" in modes:
            ratio = _median([r.wall_s for r in by[source, "in_process"]]) / _median(
                [r.wall_s for r in by[source, "cli"]]
            )
            checks[
                f"{source}: scheduled in_process within {bench.args.target:g}x of CLI "
                f"({ratio:.2f}x)"
            ] = ratio <= bench.args.target
    return checks


def report(
    bench: Bench, modes: list[str], checks: dict[str, bool], sandbox_s: float, daemon_s: float
) -> None:
    args = bench.args
    print(
        f"organization {args.org}; sandbox seed {args.seed}, scale {args.scale:g} (own process, "
        f"ready in {sandbox_s:.1f} s); DuckDB warehouse and SQLite Dagster storage in a fresh "
        f"DEVSIGNAL_HOME; {psutil.cpu_count()} CPUs"
    )
    if daemon_s:
        print(
            f"run-queue daemon     own process, workspace of 2 code locations loaded in "
            f"{daemon_s:.1f} s; QueuedRunCoordinator (dequeue every "
            f"{bench.instance.run_coordinator.dequeue_interval_seconds} s) + DefaultRunLauncher"
        )
    print(
        f"runs                 {args.repeat} measured per mode and source, interleaved, after one "
        "warm-up each"
    )
    print(
        f"load average (1 min) {min(bench.load_average):.1f} - {max(bench.load_average):.1f} before "
        "the measured runs (other work on the machine slows every mode; interleaving spreads it)"
    )
    print(
        "wall s: cli = `devsignal sync` process start -> exit; scheduled = run created (submitted) "
        "-> run ended.\nrun s: the run record's start -> end; to start / after end: the wall span "
        "before the run started / after it ended.\nqueued: created -> handed to the "
        "launcher; process: -> the run process started (spawn, imports); load: -> the run process "
        "loaded the code location and started the run.\nstep procs: step processes started; proc "
        "start s: their launch -> step start, summed; pool wait s: steps' first 'blocked by limit "
        "for pool' -> launch, summed (all medians)."
    )
    for source in args.source:
        print(f"\n{source}_sync")
        header = (
            f"  {'mode':<24}{'wall s med / min':>18}{'run s med / min':>17}{'to start':>9}"
            f"{'after end':>10}{'queued':>8}"
            f"{'process':>8}{'load':>8}{'steps':>7}{'step procs':>11}{'proc start s':>13}"
            f"{'pool wait s':>12}"
        )
        print(header)
        print("  " + "-" * (len(header) - 2))
        medians: dict[str, float] = {}
        for mode in modes:
            runs = [r for r in bench.runs if r.source == source and r.mode == mode]
            wall = [r.wall_s for r in runs]
            record = [r.record_s for r in runs]
            medians[mode] = _median(wall)
            scheduled = mode != "cli"
            print(
                f"  {LABELS[mode]:<24}{_median(wall):>10.1f} / {min(wall):>5.1f}"
                f"{_median(record):>9.1f} / {min(record):>5.1f}"
                f"{_median([r.to_start_s for r in runs]):>9.1f}"
                f"{_median([r.after_end_s for r in runs]):>10.1f}"
                + "".join(
                    f"{_median([getattr(r, f) for r in runs]):>8.1f}" if scheduled else f"{'-':>8}"
                    for f in ("queued_s", "process_s", "load_s")
                )
                + f"{_median([r.steps for r in runs]):>7.0f}"
                f"{_median([r.step_processes for r in runs]):>11.0f}"
                f"{_median([r.step_process_start_s for r in runs]):>13.1f}"
                f"{_median([r.pool_wait_s for r in runs]):>12.1f}"
            )
        for mode in [m for m in modes if m != "cli"]:
            print(
                f"  ratio {LABELS[mode]} / cli: {medians[mode] / medians['cli']:.2f}x "
                f"(medians of wall s)"
            )
        if "in_process" in modes and "multiprocess" in modes:
            print(
                f"  multiprocess / in_process (before / after dca763c): "
                f"{medians['multiprocess'] / medians['in_process']:.2f}x"
            )
        launches = [r.command_s for r in bench.runs if r.source == source and r.mode != "cli"]
        if launches:
            print(
                f"  (`dagster job launch` itself, loading the workspace to submit, not counted: "
                f"median {_median(launches):.1f} s)"
            )
    print()
    for name, ok in checks.items():
        print(f"  [{'ok' if ok else 'FAIL'}] {name}")


if __name__ == "__main__":
    main()
