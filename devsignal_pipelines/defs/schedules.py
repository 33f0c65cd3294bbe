"""Source schedules, on by default: one run per organization connected to the source."""

from typing import Any

import dagster as dg

from devsignal_pipelines.defs.jobs import (
    enrichment_sync_job,
    github_sync_job,
    stackoverflow_sync_job,
    twitter_sync_job,
)
from devsignal_pipelines.defs.resources import ControlDBResource
from devsignal_pipelines.defs.tenants.partitions import organizations_partitions


def source_schedule(
    name: str,
    cron: str,
    source: str,
    job: Any,
    description: str,
    run_config: dict[str, Any] | None = None,
) -> dg.ScheduleDefinition:
    @dg.schedule(
        name=name,
        cron_schedule=cron,
        job=job,
        default_status=dg.DefaultScheduleStatus.RUNNING,
        description=description,
    )
    def _schedule(context: dg.ScheduleEvaluationContext, control_db: ControlDBResource):
        # Partitions are added by organizations_sensor; an organization connected seconds ago is picked
        # up by the next tick rather than failing on a partition that does not exist yet.
        partitions = set(context.instance.get_dynamic_partitions(organizations_partitions.name))
        organization_ids = [
            c["organization_id"]
            for c in control_db.get().connectors(source=source)
            if c["organization_id"] in partitions
        ]
        if not organization_ids:
            return dg.SkipReason(
                f"no organization with an enabled {source} connector has a partition yet"
            )
        scheduled = (
            context.scheduled_execution_time.isoformat()
            if context.scheduled_execution_time
            else "manual"
        )
        return [
            dg.RunRequest(
                run_key=f"{source}:{org}:{scheduled}",
                partition_key=org,
                run_config=run_config or {},
                tags={"devsignal/source": source},
            )
            for org in organization_ids
        ]

    return _schedule


twitter_every_30_minutes = source_schedule(
    "twitter_every_30_minutes",
    "*/30 * * * *",
    "twitter",
    twitter_sync_job,
    "One run per organization connected to X: raw posts, identities and signals.",
)
stackoverflow_every_6_hours = source_schedule(
    "stackoverflow_every_6_hours",
    "0 */6 * * *",
    "stackoverflow",
    stackoverflow_sync_job,
    "One run per organization connected to Stack Overflow: questions, answers, owners, identities and signals.",
)
github_every_hour = source_schedule(
    "github_every_hour",
    "0 * * * *",
    "github",
    github_sync_job,
    "One run per organization connected to GitHub: stars, forks, issues, pull requests, comments, profiles, "
    "identities and signals (unchanged resources cost one free conditional request).",
)
enrichment_companies_daily = source_schedule(
    "enrichment_companies_daily",
    "0 3 * * *",
    "enrichment",
    enrichment_sync_job,
    "Companies that are new, stale (older than the TTL) or still queued, for every organization connected to "
    "enrichment, at 03:00. Contacts are enriched on demand: devsignal sync ORG --source enrichment.",
    run_config={"ops": {"raw__enrichment_cache": {"config": {"kinds": ["company"]}}}},
)
