"""first_party_sensor: load what organizations pushed (Segment messages, CRM records) soon after."""

from __future__ import annotations

import json
import time

import dagster as dg

from devsignal_pipelines.defs.jobs import first_party_sync_job
from devsignal_pipelines.defs.resources import ControlDBResource
from devsignal_pipelines.defs.tenants.partitions import organizations_partitions
from devsignal_pipelines.lib.sources.events.intake import pending
from devsignal_pipelines.lib.webhooks.events import iso

RETRY_AFTER_S = 300
_ACTIVE = [
    dg.DagsterRunStatus.QUEUED,
    dg.DagsterRunStatus.NOT_STARTED,
    dg.DagsterRunStatus.STARTING,
    dg.DagsterRunStatus.STARTED,
]


def first_party_requests(
    waiting: dict[str, int], crm_changed: dict[str, str], cursor: dict[str, str], now: float
) -> tuple[list[tuple[str, str]], dict[str, str]]:
    """(organization, run key) to request, and the new CRM cursor: an organization with messages
    waiting or CRM records changed since its last request.

    The run key names the highest waiting seq, the CRM stamp and a 5-minute bucket of `now`:
    messages still waiting after a failed load (same seq, same stamp) are asked for again in the
    next bucket instead of waiting for new ones.
    """
    bucket = int(now // RETRY_AFTER_S)
    requests: list[tuple[str, str]] = []
    new_cursor = dict(cursor)
    for org in sorted(set(waiting) | set(crm_changed)):
        crm_stamp = crm_changed.get(org)
        crm_new = crm_stamp is not None and crm_stamp != cursor.get(org)
        if org not in waiting and not crm_new:
            continue
        seq = waiting.get(org, 0)
        requests.append((org, f"first-party:{org}:{seq}:{crm_stamp or '-'}:{bucket}"))
        if crm_stamp is not None:
            new_cursor[org] = crm_stamp
    return requests, new_cursor


@dg.sensor(
    name="first_party_sensor",
    job=first_party_sync_job,
    minimum_interval_seconds=30,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Requests a first_party_sync run for each organization with Segment messages waiting in the "
    "intake table, or CRM records written through the API or `devsignal import` since its last run; never a "
    "second run for an organization while one is queued or running. Runs share the `warehouse` pool with the "
    "syncs, so a load waits for a running sync instead of fighting it for the DuckDB writer.",
)
def first_party_sensor(
    context: dg.SensorEvaluationContext, control_db: ControlDBResource
) -> dg.SensorResult:
    control = control_db.get()
    waiting = {row.organization_id: int(row.max_seq) for row in pending(control).itertuples()}
    crm_changed = {
        c["organization_id"]: iso(c["updated_at"]) for c in control.connectors(source="crm")
    }
    cursor = json.loads(context.cursor) if context.cursor else {}
    wanted, new_cursor = first_party_requests(waiting, crm_changed, cursor, time.time())
    partitions = set(context.instance.get_dynamic_partitions(organizations_partitions.name))
    requests, skipped = [], []
    for org, run_key in wanted:
        busy = context.instance.get_run_records(
            dg.RunsFilter(
                job_name=first_party_sync_job.name,
                statuses=_ACTIVE,
                tags={"dagster/partition": org},
            ),
            limit=1,
        )
        if org not in partitions or busy:
            skipped.append(org)
            if org in cursor:  # asked again on a later tick
                new_cursor[org] = cursor[org]
            else:
                new_cursor.pop(org, None)
            continue
        requests.append(
            dg.RunRequest(run_key=run_key, partition_key=org, tags={"devsignal/source": "events"})
        )
    if skipped:
        context.log.info(f"waiting for a partition or a running load: {', '.join(skipped)}")
    if not requests:
        return dg.SensorResult(
            skip_reason="nothing new pushed" if not skipped else "loads already running",
            cursor=json.dumps(new_cursor, sort_keys=True),
        )
    return dg.SensorResult(run_requests=requests, cursor=json.dumps(new_cursor, sort_keys=True))
