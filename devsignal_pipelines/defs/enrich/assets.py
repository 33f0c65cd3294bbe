"""raw.enrichment_cache and analytics.enrichment_coverage: firmographics for companies and contacts."""

import dagster as dg
import pandas as pd

from devsignal_pipelines.defs.connectors import require_connector
from devsignal_pipelines.defs.resources import (
    ControlDBResource,
    EnrichmentResource,
    WarehouseResource,
)
from devsignal_pipelines.defs.tables import OWNERS, definition_metadata, partition_row_counts
from devsignal_pipelines.defs.tenants.partitions import organizations_partitions
from devsignal_pipelines.lib.sources.enrichment.client import EnrichmentAuthError, EnrichmentError
from devsignal_pipelines.lib.sources.enrichment.enriched_crm import build_coverage
from devsignal_pipelines.lib.sources.enrichment.sync import KINDS, sync_enrichment
from devsignal_pipelines.lib.sources.http import RateLimitExhaustedError, TransientHTTPError
from devsignal_pipelines.lib.stores.tables import (
    ANALYTICS_ENRICHMENT_COVERAGE,
    RAW_ENRICHMENT_CACHE,
)


class EnrichmentConfig(dg.Config):
    kinds: list[str] = list(KINDS)  # the 03:00 schedule enriches companies only


@dg.asset(
    key=["raw", "enrichment_cache"],
    # Loading Segment identify / group calls adds contacts and companies to look up.
    deps=[dg.AssetKey(["raw", "product_events"])],
    partitions_def=organizations_partitions,
    group_name="enrichment",
    kinds={"clearbit", "python", "duckdb"},
    owners=OWNERS,
    metadata=definition_metadata(RAW_ENRICHMENT_CACHE),
)
def enrichment_cache(
    context: dg.AssetExecutionContext,
    config: EnrichmentConfig,
    warehouse: WarehouseResource,
    control_db: ControlDBResource,
    enrichment: EnrichmentResource,
) -> dg.MaterializeResult:
    """Looks up the organization's company domains and contact emails in the Clearbit-style API, but only
    what is new, older than the TTL, or still queued (202) from an earlier run; malformed domains and emails are
    rejected before any call. Batches of 10, at most 5 in flight, rate limits waited out. Answers of every
    status are cached, so a re-run inside the TTL makes no API call."""
    unknown = set(config.kinds) - set(KINDS)
    if unknown:
        raise dg.Failure(
            description=f"unknown enrichment kinds {sorted(unknown)}; use {list(KINDS)}"
        )
    organization_id = context.partition_key
    connector = require_connector(control_db, organization_id, "enrichment")
    store, control = warehouse.get(), control_db.get()
    try:
        report, api = _sync(
            store, control, enrichment, organization_id, connector["secret_env"], config.kinds
        )
    except EnrichmentAuthError as exc:
        raise dg.Failure(description=str(exc), allow_retries=False) from exc
    except (EnrichmentError, TransientHTTPError, RateLimitExhaustedError) as exc:
        raise dg.Failure(
            description=f"enrichment failed for organization '{organization_id}': {exc}. Answers received "
            "before the failure are cached; the next run continues with the rest."
        ) from exc
    return dg.MaterializeResult(
        metadata={
            **partition_row_counts(store, RAW_ENRICHMENT_CACHE, organization_id),
            **report.as_metadata(),
            **api,
        }
    )


@dg.asset(
    key=["analytics", "enrichment_coverage"],
    deps=[
        dg.AssetKey(["raw", "enrichment_cache"]),
        dg.AssetKey(["core", "companies"]),
        dg.AssetKey(["core", "contacts"]),
    ],
    partitions_def=organizations_partitions,
    group_name="enrichment",
    kinds={"sql", "duckdb"},
    owners=OWNERS,
    metadata=definition_metadata(ANALYTICS_ENRICHMENT_COVERAGE),
)
def enrichment_coverage(
    context: dg.AssetExecutionContext, warehouse: WarehouseResource
) -> dg.MaterializeResult:
    """Per organization and kind (company, person): records in the CRM, the share enriched, when enrichment
    last found something, and cached lookups by status (found, queued, not_found, invalid)."""
    organization_id = context.partition_key
    store = warehouse.get()
    with store.transaction() as tx:
        coverage = build_coverage(tx, organization_id).set_index("kind")
    metadata: dict[str, object] = {}
    for kind, row in coverage.iterrows():
        metadata[f"{kind}_enriched_share"] = round(float(row["enriched_share"]), 4)
        metadata[f"{kind}_enriched"] = int(row["enriched"])
        metadata[f"{kind}_records"] = int(row["records"])
        for status in ("found", "queued", "not_found", "invalid"):
            metadata[f"{kind}_{status}"] = int(row[status])
        last = row["last_enriched_at"]
        metadata[f"{kind}_last_enriched_at"] = (
            "" if pd.isna(last) else pd.Timestamp(last).isoformat()
        )
    return dg.MaterializeResult(
        metadata={
            **partition_row_counts(store, ANALYTICS_ENRICHMENT_COVERAGE, organization_id),
            **metadata,
        }
    )


def _sync(store, control, enrichment: EnrichmentResource, organization_id: str, secret_env, kinds):
    """One organization's enrichment pass; returns the report and the client's API figures."""
    with enrichment.client_for(organization_id, secret_env) as client:
        report = sync_enrichment(
            store, control, client, organization_id, kinds, enrichment.refresh_policy()
        )
        return report, client.stats.as_metadata()


@dg.op(
    description="Fills the enrichment cache of every organization connected to enrichment, one after another "
    "(a bulk refresh, e.g. after a TTL change); the per-organization runs then rebuild core tables from it."
)
def enrich_all_organizations(
    context: dg.OpExecutionContext,
    config: EnrichmentConfig,
    warehouse: WarehouseResource,
    control_db: ControlDBResource,
    enrichment: EnrichmentResource,
) -> None:
    store, control = warehouse.get(), control_db.get()
    for connector in control.connectors(source="enrichment"):
        organization_id = connector["organization_id"]
        report, _ = _sync(
            store, control, enrichment, organization_id, connector["secret_env"], config.kinds
        )
        context.log.info(f"{organization_id}: {report.as_metadata()}")


@dg.job(description="Refresh the enrichment cache of every organization in one run.")
def enrichment_bulk() -> None:
    enrich_all_organizations()
