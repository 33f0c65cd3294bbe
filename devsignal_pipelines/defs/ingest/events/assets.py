"""raw.product_events: the organization's Segment messages, loaded in bulk from the intake table."""

import dagster as dg

from devsignal_pipelines.defs.resources import WAREHOUSE_POOL, ControlDBResource, WarehouseResource
from devsignal_pipelines.defs.tables import (
    OWNERS,
    definition_metadata,
    evaluate_key_checks,
    key_check_specs,
    partition_row_counts,
)
from devsignal_pipelines.defs.tenants.partitions import organizations_partitions
from devsignal_pipelines.lib.sources.events.load import load_events
from devsignal_pipelines.lib.stores.tables import RAW_PRODUCT_EVENTS


@dg.asset(
    key=[RAW_PRODUCT_EVENTS.schema, RAW_PRODUCT_EVENTS.name],
    partitions_def=organizations_partitions,
    group_name="ingest_events",
    kinds={"python", "duckdb"},
    owners=OWNERS,
    pool=WAREHOUSE_POOL,
    check_specs=key_check_specs(RAW_PRODUCT_EVENTS),
    metadata=definition_metadata(RAW_PRODUCT_EVENTS),
)
def product_events(
    context: dg.AssetExecutionContext, warehouse: WarehouseResource, control_db: ControlDBResource
):
    """Every Segment message the organization sent to `devsignal api` (/v1/track, identify, group, page,
    screen, alias, batch) or with `devsignal import ORG events`, loaded from the control DB's intake table in
    bulk: identify / group calls first create or update contacts and companies (with their webhook events),
    then the messages go into raw.product_events in one transaction (a messageId already loaded is skipped),
    then the loaded intake rows are deleted. Track and page messages become signals in core.signals."""
    organization_id = context.partition_key
    store = warehouse.get()
    report = load_events(store, control_db.get(), organization_id)
    context.log.info(
        f"{organization_id}: {report.messages} messages loaded ({report.new} new) "
        f"in {report.batches} batches"
    )
    yield dg.MaterializeResult(
        asset_key=[RAW_PRODUCT_EVENTS.schema, RAW_PRODUCT_EVENTS.name],
        metadata={
            **partition_row_counts(store, RAW_PRODUCT_EVENTS, organization_id),
            **report.as_metadata(),
        },
    )
    yield from evaluate_key_checks(store, RAW_PRODUCT_EVENTS, organization_id)
