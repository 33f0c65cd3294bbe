"""When to run the delivery job: after a watched asset materializes, and when retries are due.

Neither sensor sends anything: they only request `webhook_delivery` runs, and only when there
is something to deliver (an event an active subscription wants, or a delivery due), so an
organization without subscriptions never fills the Runs page with empty deliveries.
"""

from __future__ import annotations

from datetime import UTC, datetime

import dagster as dg

from devsignal_pipelines.defs.resources import ControlDBResource
from devsignal_pipelines.defs.webhooks.jobs import webhook_delivery_job
from devsignal_pipelines.lib.webhooks.delivery import count_due
from devsignal_pipelines.lib.webhooks.outbox import pending_fanout

# The assets whose materializations write events to the outbox.
WATCHED_ASSETS = (
    dg.AssetKey(["core", "signals"]),
    dg.AssetKey(["core", "contacts"]),
    dg.AssetKey(["core", "companies"]),
    dg.AssetKey(["core", "account_score_history"]),
)
_ACTIVE = [
    dg.DagsterRunStatus.QUEUED,
    dg.DagsterRunStatus.NOT_STARTED,
    dg.DagsterRunStatus.STARTING,
    dg.DagsterRunStatus.STARTED,
]


def new_materializations(
    instance: dg.DagsterInstance, after_storage_id: int
) -> list[dg.EventLogRecord]:
    records: list[dg.EventLogRecord] = []
    for key in WATCHED_ASSETS:
        records.extend(
            instance.fetch_materializations(
                dg.AssetRecordsFilter(asset_key=key, after_storage_id=after_storage_id),
                limit=1000,
                ascending=True,
            ).records
        )
    return sorted(records, key=lambda r: r.storage_id)


@dg.sensor(
    name="webhook_outbox_sensor",
    job=webhook_delivery_job,
    minimum_interval_seconds=30,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Requests a webhook_delivery run when core.signals, core.contacts, core.companies or "
    "core.account_score_history materialized (their materializations write events to the outbox) and an "
    "active subscription wants one of the new events. The cursor is the last materialization's storage id; "
    "the run key names it, so a tick is never run twice.",
)
def webhook_outbox_sensor(
    context: dg.SensorEvaluationContext, control_db: ControlDBResource
) -> dg.SensorResult:
    cursor = int(context.cursor or 0)
    records = new_materializations(context.instance, cursor)
    if not records:
        return dg.SensorResult(skip_reason="no watched asset materialized since the last tick")
    latest = records[-1].storage_id
    assets = sorted({r.asset_key.to_user_string() for r in records if r.asset_key})
    if not pending_fanout(control_db.get()):
        return dg.SensorResult(
            skip_reason=f"{len(records)} new materializations of {', '.join(assets)}; no active "
            "subscription wants the events they wrote",
            cursor=str(latest),
        )
    context.log.info(f"{len(records)} new materializations of {', '.join(assets)}")
    return dg.SensorResult(
        run_requests=[
            dg.RunRequest(
                run_key=f"webhook-outbox:{latest}",
                tags={"devsignal/materializations": str(len(records))},
            )
        ],
        cursor=str(latest),
    )


@dg.sensor(
    name="webhook_retry_sensor",
    job=webhook_delivery_job,
    minimum_interval_seconds=60,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Requests a webhook_delivery run when deliveries are due (retries, deferred, redelivered) or "
    "events an active subscription wants wait to be fanned out, unless a delivery run is already queued or "
    "running.",
)
def webhook_retry_sensor(
    context: dg.SensorEvaluationContext, control_db: ControlDBResource
) -> dg.SensorResult:
    control = control_db.get()
    now = datetime.now(UTC)
    due, latest_due = count_due(control, now)
    waiting = pending_fanout(control)
    if not due and not waiting:
        return dg.SensorResult(skip_reason="no webhook delivery is due")
    active = context.instance.get_run_records(
        dg.RunsFilter(job_name=webhook_delivery_job.name, statuses=_ACTIVE), limit=1
    )
    if active:
        return dg.SensorResult(skip_reason="a webhook_delivery run is already queued or running")
    # The key changes with the due set and every 10 minutes, so a stuck state is retried, not skipped forever.
    bucket = int(now.timestamp()) // 600
    return dg.SensorResult(
        run_requests=[
            dg.RunRequest(
                run_key=f"webhook-retries:{bucket}:{due}:{waiting}:{latest_due}",
                tags={
                    "devsignal/due_deliveries": str(due),
                    "devsignal/unfanned_events": str(waiting),
                },
            )
        ]
    )
