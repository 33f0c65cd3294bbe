"""core.identity_links: who is behind each signal, on every platform."""

import dagster as dg

from devsignal_pipelines.defs.resources import WAREHOUSE_POOL, ControlDBResource, WarehouseResource
from devsignal_pipelines.defs.tables import OWNERS, definition_metadata, partition_row_counts
from devsignal_pipelines.defs.tenants.partitions import organizations_partitions
from devsignal_pipelines.lib.identity.resolve import resolve_identities
from devsignal_pipelines.lib.identity.rules import LINK_METHODS, PLATFORMS
from devsignal_pipelines.lib.stores.tables import CORE_IDENTITY_LINKS

AUTHOR_TABLES = [
    dg.AssetKey(["raw", "twitter_users"]),
    dg.AssetKey(["raw", "so_users"]),
    dg.AssetKey(["raw", "github_users"]),
    dg.AssetKey(["raw", "product_events"]),
]


@dg.asset(
    key=["core", "identity_links"],
    deps=AUTHOR_TABLES,
    partitions_def=organizations_partitions,
    group_name="identity",
    kinds={"sql", "duckdb"},
    owners=OWNERS,
    pool=WAREHOUSE_POOL,
    metadata=definition_metadata(CORE_IDENTITY_LINKS),
)
def identity_links(
    context: dg.AssetExecutionContext, warehouse: WarehouseResource, control_db: ControlDBResource
) -> dg.MaterializeResult:
    """Links every X author, Stack Overflow user and GitHub user of the organization to one contact (and company), with
    method, confidence and evidence: a known permanent id first, then a handle the CRM or a Segment identify
    names for one contact, then the profile URL / website / bio email domain plus a unique name inside that
    company, then a name unique in the whole organization (Stack
    Overflow), then the company alone; otherwise a new contact carrying the identity. Set-based SQL in the
    warehouse; new contacts and identities are written to the control DB so the next sync finds them by id.
    One person on both platforms ends up as one contact when the evidence says so. The organization's own
    product user ids (Segment identify) are linked to the contacts they named."""
    organization_id = context.partition_key
    store = warehouse.get()
    report = resolve_identities(store, control_db.get(), organization_id)
    return dg.MaterializeResult(
        metadata={
            **partition_row_counts(store, CORE_IDENTITY_LINKS, organization_id),
            "contacts_created": report.contacts_created,
            "identities_created": report.identities_created,
            "links_inserted": report.links_inserted,
            "links_deleted": report.links_deleted,
            "resolution_seconds": round(report.resolution_seconds, 3),
            "write_back_seconds": round(report.write_back_seconds, 3),
            **{f"authors_{p}": report.authors.get(p, 0) for p in (*PLATFORMS, "product")},
            **{
                f"links_{method}": sum(report.links.get(p, {}).get(method, 0) for p in PLATFORMS)
                for method in LINK_METHODS
            },
            **{
                f"links_{p}_{method}": report.links.get(p, {}).get(method, 0)
                for p in PLATFORMS
                for method in LINK_METHODS
            },
        }
    )
