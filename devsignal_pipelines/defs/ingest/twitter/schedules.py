"""X mentions every 30 minutes for every organization with an enabled twitter connector."""

import dagster as dg

from devsignal_pipelines.defs.jobs import twitter_sync_job
from devsignal_pipelines.defs.resources import ControlDBResource
from devsignal_pipelines.defs.tenants.partitions import organizations_partitions


@dg.schedule(
    name="twitter_every_30_minutes",
    cron_schedule="*/30 * * * *",
    job=twitter_sync_job,
    default_status=dg.DefaultScheduleStatus.RUNNING,
    description="One run per organization connected to X: raw posts, identities and signals.",
)
def twitter_every_30_minutes(context: dg.ScheduleEvaluationContext, control_db: ControlDBResource):
    # Partitions are added by organizations_sensor; an organization connected seconds ago is picked
    # up by the next tick rather than failing on a partition that does not exist yet.
    partitions = set(context.instance.get_dynamic_partitions(organizations_partitions.name))
    organization_ids = [
        c["organization_id"]
        for c in control_db.get().connectors(source="twitter")
        if c["organization_id"] in partitions
    ]
    if not organization_ids:
        return dg.SkipReason(
            "no organization with an enabled twitter connector has a partition yet"
        )
    scheduled = (
        context.scheduled_execution_time.isoformat()
        if context.scheduled_execution_time
        else "manual"
    )
    return [
        dg.RunRequest(
            run_key=f"twitter:{org}:{scheduled}",
            partition_key=org,
            tags={"devsignal/source": "twitter"},
        )
        for org in organization_ids
    ]
