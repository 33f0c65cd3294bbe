"""Run an organization's job through Dagster from a terminal (`devsignal sync`, `make demo`).

Runs go through the shared instance, so the Dagster UI shows them with their materializations,
metadata and check results afterwards. While a run executes, a RunWatch beside it frees the pool
slots of runs whose process died, says what the run waits for, and stops it on SIGINT / SIGTERM.
"""

from __future__ import annotations

import logging
import os
import select
import signal
import sys
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import dagster as dg

from devsignal_pipelines.defs.jobs import SOURCE_JOBS, assets_for_sources
from devsignal_pipelines.defs.models.assets import PROJECT, model_key, models_run_config
from devsignal_pipelines.defs.tenants.partitions import organizations_partitions
from devsignal_pipelines.instance import describe_run, free_stale_slots, process_tags
from devsignal_pipelines.lib.stores.control import ControlDB
from devsignal_pipelines.settings import load_settings

SQL_MODELS_JOB = "sql_models_refresh"


def logger_config(verbose: bool) -> dict[str, Any]:
    """Dagster's console log: the whole event log with stack traces when verbose, else nothing (the
    caller prints the one line that matters, and RunWatch the run's warnings)."""
    return {"loggers": {"console": {"config": {"log_level": "DEBUG" if verbose else "CRITICAL"}}}}


def _to_stderr(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


@dataclass
class RunOutcome:
    organization_id: str
    job_name: str
    success: bool
    seconds: float
    run_id: str
    materializations: dict[str, dict[str, object]] = field(default_factory=dict)
    failed_checks: list[str] = field(default_factory=list)
    error: str | None = None
    failed_step: str | None = None
    interrupted_by: str | None = None  # "SIGTERM" when a signal stopped the run

    def failure_line(self, verbose: bool = False) -> str:
        """' at twitter_mentions: X API answered HTTP 401 ... (run 1a2b3c4d; --verbose for details)',
        the one line a terminal needs after "sync failed for acme"."""
        where = f" at {self.failed_step}" if self.failed_step else ""
        if self.interrupted_by:
            where = f", stopped by {self.interrupted_by}{where}"
        hint = "" if verbose else "; --verbose for details"
        return f"{where}: {self.error or 'the run failed'} (run {self.run_id[:8]}{hint})"

    @property
    def exit_code(self) -> int:
        """0, 1 for a failed run, 128 + the signal's number when SIGINT / SIGTERM stopped it."""
        if self.interrupted_by:
            return 128 + signal.Signals[self.interrupted_by].value
        return 0 if self.success else 1


def ensure_partitions(instance: dg.DagsterInstance, organization_ids: list[str]) -> None:
    existing = set(instance.get_dynamic_partitions(organizations_partitions.name))
    missing = [o for o in organization_ids if o not in existing]
    if missing:
        instance.add_dynamic_partitions(organizations_partitions.name, missing)


def run_organization(
    defs: dg.Definitions,
    instance: dg.DagsterInstance,
    organization_id: str,
    source: str = "all",
    on_event: Callable[[str], None] | None = None,
    connected_sources: list[str] | None = None,
    on_wait: Callable[[str], None] = _to_stderr,
    verbose: bool = False,
) -> RunOutcome:
    """Materialize one organization's partition of the job for `source`, in this process.

    `source="all"` runs the assets of `connected_sources` (default: what the control DB says the
    organization is connected to) and everything derived from them. `on_event` gets what the run
    materialized and `on_wait` what it waits for (pool slots, rate limits) while it waits.
    """
    if source not in SOURCE_JOBS:
        raise ValueError(f"unknown source {source!r}; use one of {', '.join(SOURCE_JOBS)}")
    ensure_partitions(instance, [organization_id])
    job = defs.resolve_job_def(SOURCE_JOBS[source].name)
    selection = None
    if source == "all":
        if connected_sources is None:
            control = ControlDB(load_settings().control_db_url)
            connected_sources = [c["source"] for c in control.connectors(org_id=organization_id)]
        selection = assets_for_sources(connected_sources)
    return execute_watched(
        job,
        instance,
        organization_id,
        on_event=on_event,
        on_wait=on_wait,
        verbose=verbose,
        run_config={},
        partition_key=organization_id,
        asset_selection=selection,
        tags={"devsignal/source": source, "devsignal/trigger": "cli"},
    )


def run_sql_models(
    defs: dg.Definitions,
    instance: dg.DagsterInstance,
    *,
    select: list[str] | None = None,
    full_refresh: bool = False,
    as_of: str | None = None,
    on_event: Callable[[str], None] | None = None,
    on_wait: Callable[[str], None] = _to_stderr,
    verbose: bool = False,
) -> RunOutcome:
    """Build the dbt_like_sql models (all, or the selected names) through Dagster, in this process."""
    job = defs.resolve_job_def(SQL_MODELS_JOB)
    selection = None if select is None else [model_key(m) for m in PROJECT.order(select)]
    return execute_watched(
        job,
        instance,
        "*",
        on_event=on_event,
        on_wait=on_wait,
        verbose=verbose,
        run_config=models_run_config(as_of=as_of, full_refresh=full_refresh),
        asset_selection=selection,
        tags={"devsignal/trigger": "cli"},
    )


def execute_watched(
    job: dg.JobDefinition,
    instance: dg.DagsterInstance,
    organization_id: str,
    *,
    on_event: Callable[[str], None] | None,
    on_wait: Callable[[str], None],
    verbose: bool,
    run_config: dict[str, Any],
    tags: dict[str, str],
    **execute_kwargs: Any,
) -> RunOutcome:
    """Execute `job` in this process with a RunWatch beside it; the run is tagged with this process
    (pid, host, start time) so that a later run can free its slots if the process dies."""
    for line in free_stale_slots(instance):
        on_wait(line)
    run_id = str(uuid.uuid4())
    started = time.perf_counter()
    with RunWatch(instance, run_id, on_wait, show_warnings=not verbose) as watch:
        result = job.execute_in_process(
            instance=instance,
            run_id=run_id,
            run_config={**run_config, **logger_config(verbose)},
            raise_on_error=False,
            tags={**tags, **process_tags()},
            **execute_kwargs,
        )
    outcome = collect_outcome(
        result, organization_id, job.name, time.perf_counter() - started, on_event
    )
    outcome.interrupted_by = watch.signal_name
    outcome.error = watch.cancel_reason or outcome.error
    return outcome


def collect_outcome(
    result: dg.ExecuteInProcessResult,
    organization_id: str,
    job_name: str,
    seconds: float,
    on_event: Callable[[str], None] | None = None,
) -> RunOutcome:
    """What a run materialized, which checks failed, and the first error, from its events."""
    outcome = RunOutcome(
        organization_id=organization_id,
        job_name=job_name,
        success=result.success,
        seconds=seconds,
        run_id=result.run_id,
    )
    for event in result.all_events:
        if event.is_step_materialization:
            materialization = event.step_materialization_data.materialization
            key = materialization.asset_key.to_user_string()
            outcome.materializations[key] = {
                k: v.value for k, v in materialization.metadata.items()
            }
            if on_event:
                rows = materialization.metadata.get("dagster/row_count")
                on_event(f"{key} ({rows.value if rows else '?'} rows)")
        elif event.event_type == dg.DagsterEventType.ASSET_CHECK_EVALUATION:
            evaluation = event.asset_check_evaluation_data
            if not evaluation.passed:
                outcome.failed_checks.append(
                    f"{evaluation.asset_key.to_user_string()}:{evaluation.check_name}"
                )
        elif event.is_step_failure and outcome.failed_step is None:
            outcome.failed_step = event.step_key
            outcome.error = _root_message(event.step_failure_data.error)
        elif event.event_type in (
            dg.DagsterEventType.RUN_FAILURE,
            dg.DagsterEventType.RUN_CANCELED,
        ):
            outcome.error = outcome.error or event.message
    return outcome


def _root_message(error: object) -> str:
    """The innermost cause: the message written for people, not Dagster's wrapper, without the
    exception's class name in front ("pkg.module.XApiAuthError: ...")."""
    message = "step failed"
    while error is not None:
        text = getattr(error, "message", "").strip()
        class_name = getattr(error, "cls_name", None)
        if class_name and f"{class_name}: " in text:
            text = text.split(f"{class_name}: ", 1)[1]
        message = text or message
        error = getattr(error, "cause", None)
    return message


# --- beside a run: pool waits, stale slots, warnings, signals ------------------------------------

# Sent by RunWatch to the main thread to stop a run that waits for a pool slot.
CANCEL_SIGNAL = signal.SIGUSR1


@dataclass
class PoolWait:
    """One pool a run waits for: its steps that wait, and who holds the slots."""

    pool: str
    limit: int | None
    steps: list[str]
    holders: list[tuple[str, str]]  # (run_id, step_key) of the claimed slots


def pool_waits(instance: dg.DagsterInstance, run_id: str) -> list[PoolWait]:
    """The pools in which `run_id` has steps queued and not yet given a slot."""
    storage = instance.event_log_storage
    if not storage.supports_global_concurrency_limits:
        return []
    waits = []
    for pool, info in storage.get_concurrency_infos(sorted(storage.get_concurrency_keys())).items():
        # An assigned step has its slot reserved: it claims it at its next look, it does not wait.
        # Nor does a step queued behind one of its own run's steps (they run one at a time here).
        steps = [
            p.step_key
            for p in info.pending_steps
            if p.run_id == run_id and p.assigned_timestamp is None
        ]
        if steps and not any(slot.run_id == run_id for slot in info.claimed_slots):
            holders = sorted(
                (s.run_id, s.step_key) for s in info.claimed_slots if s.run_id != run_id
            )
            waits.append(PoolWait(pool, info.limit, steps, holders))
    return waits


def describe_wait(instance: dg.DagsterInstance, wait: PoolWait) -> str:
    """What a run waits for, e.g. waiting for pool 'warehouse' (limit 1) to run core__signals:
    held by run 1a2b3c4d (twitter_sync, organization acme, ...) in step core__contacts."""
    held = []
    for run_id, step_key in wait.holders:
        run = instance.get_run_by_id(run_id)
        held.append(f"run {describe_run(run) if run else run_id[:8]} in step {step_key}")
    waiting = f"waiting for pool '{wait.pool}' (limit {wait.limit}) to run {', '.join(wait.steps)}"
    if not held:
        return f"{waiting}: other runs' steps are ahead in the queue"
    return f"{waiting}: held by {'; '.join(held)}"


def _raise_interrupted(_signum: int, _frame: object) -> None:
    raise dg.DagsterExecutionInterruptedError()


class RunWatch:
    """Runs beside `execute_in_process` (which holds the main thread) for one run:

    - while the run waits for a pool slot: frees the slots of runs that cannot release them
      (instance.free_stale_slots) and says what the run waits for, again every 30 s;
    - prints the run's warnings (rate-limit waits) as they are logged, unless `show_warnings` is
      off (the verbose console log prints them);
    - on SIGINT / SIGTERM while the run waits for a slot, cancels it. Dagster acts on those signals
      only inside a step; a run blocked on a pool would wait on. In a step, Dagster stops it.
    """

    POLL_S = 1.0
    REMIND_S = 30.0

    def __init__(
        self,
        instance: dg.DagsterInstance,
        run_id: str,
        echo: Callable[[str], None],
        show_warnings: bool = True,
    ):
        self.instance = instance
        self.run_id = run_id
        self.echo = echo
        self.show_warnings = show_warnings
        self.signal_name: str | None = None
        self.cancel_reason: str | None = None
        self._main_thread: int | None = None
        self._said: tuple[str, float] = ("", 0.0)  # last wait message and when
        self._cursor: str | None = None

    def __enter__(self) -> RunWatch:
        self._read, self._write = os.pipe()
        os.set_blocking(self._write, False)
        if threading.current_thread() is threading.main_thread():
            # Signals only reach the main thread; the wakeup fd tells this watch about them too.
            self._main_thread = threading.main_thread().ident
            self._previous_wakeup_fd = signal.set_wakeup_fd(self._write, warn_on_full_buffer=False)
            self._previous_handler = signal.signal(CANCEL_SIGNAL, _raise_interrupted)
        self._thread = threading.Thread(target=self._watch, name="devsignal-run-watch", daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        os.write(self._write, b"\0")  # no signal has number 0: it means "stop"
        self._thread.join(timeout=30)
        if self._main_thread is not None:
            signal.set_wakeup_fd(self._previous_wakeup_fd)
            signal.signal(CANCEL_SIGNAL, self._previous_handler)
        os.close(self._read)
        os.close(self._write)

    def _watch(self) -> None:
        while True:
            readable, _, _ = select.select([self._read], [], [], self.POLL_S)
            received = os.read(self._read, 64) if readable else b""
            try:
                for signum in received:
                    if signum in (signal.SIGINT, signal.SIGTERM):
                        self._on_signal(signal.Signals(signum))
                if 0 in received:
                    self._print_warnings()  # the last ones
                    return
                self._check_pools()
                self._print_warnings()
            except Exception as exc:  # the storage may be busy: the run must not suffer for it
                logging.getLogger(__name__).debug("run watch: %s", exc)

    def _check_pools(self) -> None:
        waits = pool_waits(self.instance, self.run_id)
        if not waits:
            self._said = ("", 0.0)
            return
        for line in free_stale_slots(self.instance):
            self.echo(line)
        waits = pool_waits(self.instance, self.run_id)
        if not waits:
            return
        message = describe_wait(self.instance, waits[0])
        last, since = self._said
        now = time.monotonic()
        if message != last:
            self.echo(message)
            self._said = (message, now)
        elif now - since >= self.REMIND_S:
            self.echo(f"still {message}")
            self._said = (message, now)

    def _on_signal(self, signum: signal.Signals) -> None:
        self.signal_name = signum.name
        waits = pool_waits(self.instance, self.run_id)
        if not waits or self._main_thread is None or self.cancel_reason:
            return  # inside a step: Dagster raises there and the run fails
        self.cancel_reason = f"canceled while waiting for pool '{waits[0].pool}'"
        run = self.instance.get_run_by_id(self.run_id)
        if run is not None:
            self.instance.report_run_canceling(
                run, f"devsignal received {signum.name}: {self.cancel_reason}"
            )
        signal.pthread_kill(self._main_thread, CANCEL_SIGNAL)

    def _print_warnings(self) -> None:
        if not self.show_warnings:
            return
        connection = self.instance.get_records_for_run(self.run_id, cursor=self._cursor)
        self._cursor = connection.cursor
        for record in connection.records:
            entry = record.event_log_entry
            # Warnings only: errors end in the failure line, and Dagster logs its skipped steps
            # as errors of their own.
            if entry.dagster_event is None and logging.WARNING <= entry.level < logging.ERROR:
                self.echo(f"{entry.step_key or 'run'}: {entry.user_message}")
