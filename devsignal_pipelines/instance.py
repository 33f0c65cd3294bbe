"""The one Dagster instance the demo, `devsignal sync` and `devsignal dev` share: $DEVSIGNAL_HOME/dagster.

It also frees the concurrency slots of runs that can no longer release them. A run killed with
kill -9 (or by the OOM killer, or a container stop) stays STARTED in run storage and keeps its
`warehouse` slot, so every later DuckDB run would wait for it forever.
"""

from __future__ import annotations

import fcntl
import os
import socket
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import dagster as dg

from devsignal_pipelines.settings import Settings, load_settings

# SQLite run/event storage under DEVSIGNAL_HOME (see deploy/dagster.yaml for PostgreSQL storage).
# DuckDB has one writer per file, so the warehouse pool runs one step at a time there.
_MANAGED = (
    "# Written by devsignal for this warehouse; delete this line to manage the file yourself."
)
_DAGSTER_YAML = """\
{managed}
telemetry:
  enabled: false
concurrency:
  pools:
    granularity: op
    default_limit: {pool_limit}
# Frees the slots of runs that ended without releasing them (the monitoring daemon of dagster dev;
# the devsignal CLI applies the same rule and also frees the slots of its own runs whose process died).
run_monitoring:
  enabled: true
  free_slots_after_run_end_seconds: {free_slots_after_s}
"""
# How long a run that ended keeps slots it did not release (its steps may still be winding down).
FREE_SLOTS_AFTER_RUN_END_S = 30


def ensure_dagster_home(settings: Settings | None = None) -> Settings:
    """Create $DEVSIGNAL_HOME/dagster with its dagster.yaml and point DAGSTER_HOME at it.

    The file is rewritten while it is ours, so switching the warehouse between DuckDB and
    PostgreSQL also switches the pool limit; a file without the marker line is the operator's.
    """
    settings = settings or load_settings()
    settings.dagster_home.mkdir(parents=True, exist_ok=True)
    config = settings.dagster_home / "dagster.yaml"
    wanted = _DAGSTER_YAML.format(
        managed=_MANAGED,
        pool_limit=1 if settings.warehouse_is_duckdb else 1000,
        free_slots_after_s=FREE_SLOTS_AFTER_RUN_END_S,
    )
    with first_use_lock(settings.dagster_home):
        current = config.read_text() if config.exists() else None
        if current is None or (current.startswith(_MANAGED) and current != wanted):
            temporary = config.with_name(f".dagster.yaml.{os.getpid()}")
            temporary.write_text(wanted)
            os.replace(temporary, config)  # a reader sees the old file or the new one
    os.environ["DAGSTER_HOME"] = str(settings.dagster_home)
    return settings


def get_instance(settings: Settings | None = None) -> dg.DagsterInstance:
    settings = ensure_dagster_home(settings)
    return open_instance(settings.dagster_home)


def open_instance(dagster_home: Path) -> dg.DagsterInstance:
    """The instance of `dagster_home`, created (SQLite storage, migrations) by one process at a
    time: two `devsignal` commands started together on a new home would otherwise both stamp
    the new run database ("alembic_version has more than one head") and every later command
    would fail."""
    with first_use_lock(dagster_home):
        return dg.DagsterInstance.from_config(str(dagster_home))


@contextmanager
def first_use_lock(dagster_home: Path) -> Iterator[None]:
    """An exclusive lock on `dagster_home/.devsignal.lock`, held only while storage is created."""
    dagster_home.mkdir(parents=True, exist_ok=True)
    with open(dagster_home / ".devsignal.lock", "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


# --- concurrency slots of runs that cannot release them ------------------------------------------

# Tags a CLI run carries so that a later run can tell whether its process still exists.
PID_TAG = "devsignal/pid"
HOST_TAG = "devsignal/host"
PROCESS_START_TAG = "devsignal/process_start"  # guards against a recycled pid


def process_tags() -> dict[str, str]:
    """The tags naming this process: pid, host and (on Linux) the process's start time."""
    pid = os.getpid()
    stat = _proc_stat(pid)
    return {
        PID_TAG: str(pid),
        HOST_TAG: socket.gethostname(),
        PROCESS_START_TAG: stat[1] if stat else "",
    }


def _proc_stat(pid: int) -> tuple[str, str] | None:
    """(state, start time in clock ticks after boot) of a process, from /proc; None when absent."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = text[text.rindex(")") + 2 :].split()  # the command name may hold spaces
    return fields[0], fields[19]


def process_is_alive(pid: int, start: str = "") -> bool:
    """Whether process `pid` of this host, started at `start` (as `process_tags` recorded it), still
    runs. A zombie is not running; a pid now used by another process is not ours."""
    if Path("/proc/self/stat").exists():
        stat = _proc_stat(pid)
        if stat is None:
            return False
        state, started = stat
        return state not in ("Z", "X") and (not start or started == start)
    try:  # no /proc (macOS): a pid that exists counts as alive
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def stale_reason(instance: dg.DagsterInstance, record: dg.RunRecord) -> str | None:
    """Why the run of `record` can no longer release its concurrency slots, or None if it may.

    A run that ended more than `free_slots_after_run_end_seconds` ago (run monitoring's rule), or a
    run of this host whose process is gone. The process is the one its tags name: `devsignal`
    tags its CLI runs, and WarehouseResource tags every run that uses the warehouse (scheduled
    runs included) with the process that holds its slots. A run whose process runs, a run on
    another host and an untagged run are never judged. (Dagster's own run monitoring cannot tell:
    the default run launcher has no run-worker health check.)
    """
    run = record.dagster_run
    if run.is_finished:
        grace = instance.run_monitoring_settings.get(
            "free_slots_after_run_end_seconds", FREE_SLOTS_AFTER_RUN_END_S
        )
        ended = record.end_time or record.update_timestamp.timestamp()
        if time.time() - ended < grace:
            return None
        return f"the run ended ({run.status.value}) without releasing them"
    tags = run.tags
    if tags.get(HOST_TAG) != socket.gethostname() or not tags.get(PID_TAG, "").isdigit():
        return None
    pid = int(tags[PID_TAG])
    if process_is_alive(pid, tags.get(PROCESS_START_TAG, "")):
        return None
    return f"its process {pid} on {tags[HOST_TAG]} is gone (killed, out of memory or stopped)"


def free_stale_slots(instance: dg.DagsterInstance) -> list[str]:
    """Free the concurrency slots (claimed or queued) of runs that cannot release them; a run
    whose process died is marked failed first. Returns one line per run freed."""
    storage = instance.event_log_storage
    if not storage.supports_global_concurrency_limits:
        return []
    run_ids = storage.get_concurrency_run_ids()
    if not run_ids:
        return []
    freed = []
    for record in instance.get_run_records(dg.RunsFilter(run_ids=sorted(run_ids))):
        reason = stale_reason(instance, record)
        if reason is None:
            continue
        run = record.dagster_run
        if not run.is_finished:
            instance.report_run_failed(
                run, f"devsignal freed this run's concurrency slots: {reason}"
            )
        storage.free_concurrency_slots_for_run(run.run_id)
        freed.append(f"freed the concurrency slots of run {describe_run(run)}: {reason}")
    return freed


def describe_run(run: dg.DagsterRun) -> str:
    """'1a2b3c4d (twitter_sync, organization acme, devsignal pid 4242 on host)'."""
    details = [run.job_name]
    if run.tags.get("dagster/partition"):
        details.append(f"organization {run.tags['dagster/partition']}")
    if run.tags.get(PID_TAG):
        details.append(f"devsignal pid {run.tags[PID_TAG]} on {run.tags.get(HOST_TAG, '?')}")
    return f"{run.run_id[:8]} ({', '.join(details)})"
