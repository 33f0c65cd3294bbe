"""The DevSignal code location: assets, checks, jobs, schedules, sensors and resources.

Nothing here touches a database or the network; resources connect when a run starts.
"""

import warnings

import dagster as dg

from devsignal_pipelines.defs import webhooks
from devsignal_pipelines.defs.core import assets as core_assets
from devsignal_pipelines.defs.enrich import assets as enrich_assets
from devsignal_pipelines.defs.enrich import crm_assets
from devsignal_pipelines.defs.identity import assets as identity_assets
from devsignal_pipelines.defs.ingest.events import assets as events_assets
from devsignal_pipelines.defs.ingest.events.sensors import first_party_sensor
from devsignal_pipelines.defs.ingest.github import assets as github_assets
from devsignal_pipelines.defs.ingest.stackoverflow import assets as stackoverflow_assets
from devsignal_pipelines.defs.ingest.twitter import assets as twitter_assets
from devsignal_pipelines.defs.jobs import (
    enrichment_sync_job,
    first_party_sync_job,
    github_sync_job,
    organization_sync_job,
    stackoverflow_sync_job,
    twitter_sync_job,
)
from devsignal_pipelines.defs.models import assets as model_assets
from devsignal_pipelines.defs.resources import (
    ControlDBResource,
    EnrichmentResource,
    GitHubResource,
    StackExchangeResource,
    WarehouseResource,
    XApiResource,
)
from devsignal_pipelines.defs.runs import free_stale_slots_sensor
from devsignal_pipelines.defs.schedules import (
    enrichment_companies_daily,
    github_every_hour,
    stackoverflow_every_6_hours,
    twitter_every_30_minutes,
)
from devsignal_pipelines.defs.tenants.sensors import organizations_sensor

# Dagster passes `owners=None` to every sensor it re-binds to its jobs and then warns that the
# beta parameter was used; no sensor here sets owners. Silence that one message, nothing else.
warnings.filterwarnings(
    "ignore", message="Parameter `owners` of initializer `SensorDefinition", category=dg.BetaWarning
)

ASSET_MODULES = [
    twitter_assets,
    stackoverflow_assets,
    github_assets,
    events_assets,
    enrich_assets,
    crm_assets,
    identity_assets,
    core_assets,
    model_assets,
]


def build_definitions(**resource_overrides: object) -> dg.Definitions:
    resources = {
        "warehouse": WarehouseResource(),
        "control_db": ControlDBResource(),
        "x_api": XApiResource(),
        "stackexchange": StackExchangeResource(),
        "enrichment": EnrichmentResource(),
        "github": GitHubResource(),
        **resource_overrides,
    }
    return dg.Definitions(
        # Every step of a run in the run's own process, one after another: a scheduled run costs
        # what `devsignal sync` costs. The multiprocess default started a process per step, each
        # importing the code location for seconds, and the steps queued for the warehouse pool
        # anyway (limit 1 on DuckDB). Issue 15 brings a distributed executor for other machines.
        executor=dg.in_process_executor,
        assets=dg.load_assets_from_modules(ASSET_MODULES),
        asset_checks=dg.load_asset_checks_from_modules(ASSET_MODULES),
        jobs=[
            twitter_sync_job,
            stackoverflow_sync_job,
            enrichment_sync_job,
            first_party_sync_job,
            github_sync_job,
            organization_sync_job,
            enrich_assets.enrichment_bulk,
            model_assets.sql_models_job,
            *webhooks.jobs,
        ],
        schedules=[
            twitter_every_30_minutes,
            stackoverflow_every_6_hours,
            github_every_hour,
            enrichment_companies_daily,
            model_assets.sql_models_every_6_hours,
            *webhooks.schedules,
        ],
        sensors=[
            organizations_sensor,
            first_party_sensor,
            free_stale_slots_sensor,
            *webhooks.sensors,
        ],
        resources=resources,
    )


defs = build_definitions()
