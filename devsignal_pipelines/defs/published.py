"""Publish the analysts' read path after every step that committed core.* or analytics.* tables.

A success hook on the warehouse jobs, not a run-status sensor: it runs in the run's own process
right after the step's commit, so `devsignal sync`, `make demo` and `devsignal sql run` (runs
executed in process, no daemon) publish exactly like scheduled runs. Only the tables the step
materialized are looked at, and in an organization's run only that organization's part of them,
so an ingestion step costs nothing, a sync exports its organization's rows and a model run exports
only the organizations whose rows changed. A failed step publishes nothing: the previous published state
stays. A publish that fails is logged and does not fail the run: the data is committed, only the
copy is late (the next step or `devsignal read-path --publish` catches up).
"""

from __future__ import annotations

import dagster as dg

from devsignal_pipelines.lib.stores.published import PUBLISHED_SCHEMAS, publish
from devsignal_pipelines.lib.stores.warehouse import Warehouse, WarehouseLockedError
from devsignal_pipelines.settings import load_settings


def committed_tables(context: dg.HookContext) -> tuple[list[str], list[str] | None]:
    """The published tables ('core.signals', ...) this step materialized, and the organizations
    whose rows it changed: the partitions of its materializations, or None (every organization)
    when one of them is not partitioned (the SQL models span every organization)."""
    records = context.instance.get_records_for_run(
        context.run_id, of_type=dg.DagsterEventType.ASSET_MATERIALIZATION
    ).records
    events = [
        record.event_log_entry.dagster_event
        for record in records
        if record.event_log_entry.step_key == context.step_key
        and record.event_log_entry.dagster_event is not None
    ]
    tables, partitions = set(), set()
    for event in events:
        key = event.asset_key.path
        if len(key) == 2 and key[0] in PUBLISHED_SCHEMAS:
            tables.add(".".join(key))
            partitions.add(event.partition)
    organizations = None if None in partitions else sorted(partitions)
    return sorted(tables), organizations


@dg.success_hook(name="publish_read_path", required_resource_keys={"warehouse"})
def publish_read_path(context: dg.HookContext) -> None:
    """Export what the step committed to the analysts' read path ($DEVSIGNAL_HOME/published)."""
    settings = load_settings()
    url = context.resources.warehouse.url or settings.warehouse_url
    if not url.startswith("duckdb:"):
        return  # PostgreSQL: analysts query the database itself
    # An organization partition's step changed that organization's rows only: its part alone is
    # fingerprinted and exported.
    tables, organizations = committed_tables(context)
    if not tables:
        return
    warehouse = Warehouse(url, on_lock_wait=context.log.warning)
    try:
        report = publish(
            warehouse,
            settings.publish_dir,
            tables=tables,
            grace_s=settings.publish_grace_s,
            organizations=organizations,
        )
    except WarehouseLockedError as exc:
        context.log.warning(f"read path not updated (the warehouse data is committed): {exc}")
        return
    context.log.info(report.summary())


WAREHOUSE_JOB_HOOKS = {publish_read_path}
