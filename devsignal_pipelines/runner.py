"""Run an organization's job through Dagster from a terminal (`devsignal sync`, `make demo`).

Runs go through the shared instance, so the Dagster UI shows them with their materializations,
metadata and check results afterwards.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

import dagster as dg

from devsignal_pipelines.defs.jobs import SOURCE_JOBS, assets_for_sources
from devsignal_pipelines.defs.models.assets import PROJECT, model_key, models_run_config
from devsignal_pipelines.defs.tenants.partitions import organizations_partitions
from devsignal_pipelines.lib.stores.control import ControlDB
from devsignal_pipelines.settings import load_settings

SQL_MODELS_JOB = "sql_models_refresh"
QUIET_LOGGERS = {"loggers": {"console": {"config": {"log_level": "WARNING"}}}}


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
) -> RunOutcome:
    """Materialize one organization's partition of the job for `source`, in this process.

    `source="all"` runs the assets of `connected_sources` (default: what the control DB says the
    organization is connected to) and everything derived from them.
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
    started = time.perf_counter()
    result = job.execute_in_process(
        instance=instance,
        partition_key=organization_id,
        asset_selection=selection,
        run_config=QUIET_LOGGERS,
        raise_on_error=False,
        tags={"devsignal/source": source, "devsignal/trigger": "cli"},
    )
    return collect_outcome(
        result, organization_id, job.name, time.perf_counter() - started, on_event
    )


def run_sql_models(
    defs: dg.Definitions,
    instance: dg.DagsterInstance,
    *,
    select: list[str] | None = None,
    full_refresh: bool = False,
    as_of: str | None = None,
    on_event: Callable[[str], None] | None = None,
) -> RunOutcome:
    """Build the dbt_like_sql models (all, or the selected names) through Dagster, in this process."""
    job = defs.resolve_job_def(SQL_MODELS_JOB)
    selection = None if select is None else [model_key(m) for m in PROJECT.order(select)]
    run_config = {**QUIET_LOGGERS, **models_run_config(as_of=as_of, full_refresh=full_refresh)}
    started = time.perf_counter()
    result = job.execute_in_process(
        instance=instance,
        asset_selection=selection,
        run_config=run_config,
        raise_on_error=False,
        tags={"devsignal/trigger": "cli"},
    )
    return collect_outcome(result, "*", job.name, time.perf_counter() - started, on_event)


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
        elif event.is_step_failure:
            outcome.error = _root_message(event.step_failure_data.error)
            if on_event:
                on_event(f"FAILED {event.step_key}: {outcome.error}")
    return outcome


def _root_message(error: object) -> str:
    """The innermost cause: the message written for people, not Dagster's wrapper."""
    message = "step failed"
    while error is not None:
        message = getattr(error, "message", "").strip() or message
        error = getattr(error, "cause", None)
    return message
