"""core.companies and core.contacts: the CRM merged with cached enrichment (never written back)."""

from collections.abc import Callable

import dagster as dg
import pandas as pd

from devsignal_pipelines.defs.resources import WAREHOUSE_POOL, ControlDBResource, WarehouseResource
from devsignal_pipelines.defs.tables import (
    OWNERS,
    definition_metadata,
    evaluate_key_checks,
    key_check_specs,
    partition_row_counts,
)
from devsignal_pipelines.defs.tenants.partitions import organizations_partitions
from devsignal_pipelines.lib.sources.crm import frames as crm
from devsignal_pipelines.lib.sources.enrichment.enriched_crm import build_companies, build_contacts
from devsignal_pipelines.lib.stores.control import ControlDB
from devsignal_pipelines.lib.stores.tables import (
    CORE_COMPANIES,
    CORE_CONTACTS,
    CORE_DEALS,
    TableSpec,
)
from devsignal_pipelines.lib.stores.warehouse import WarehouseTransaction
from devsignal_pipelines.lib.webhooks.emit import emit_changes


def _enriched_crm_asset(
    spec: TableSpec,
    read_crm: Callable[[ControlDB, str], pd.DataFrame],
    build: Callable[[WarehouseTransaction, str, pd.DataFrame], int],
    deps: list[dg.AssetKey],
):
    @dg.asset(
        key=[spec.schema, spec.name],
        deps=deps,
        partitions_def=organizations_partitions,
        group_name="accounts",
        kinds={"sql", "duckdb"},
        owners=OWNERS,
        pool=WAREHOUSE_POOL,
        description=spec.description,
        metadata=definition_metadata(spec),
    )
    def _asset(
        context: dg.AssetExecutionContext,
        warehouse: WarehouseResource,
        control_db: ControlDBResource,
    ):
        organization_id = context.partition_key
        store = warehouse.get()
        control = control_db.get()
        frame = read_crm(control, organization_id)
        # company.created / contact.created / contact.updated go to the outbox before the commit.
        with (
            store.transaction() as tx,
            emit_changes(tx, control, spec, organization_id) as events,
        ):
            build(tx, organization_id, frame)
        counts = store.read_df(
            f"SELECT count(enriched_at) AS enriched FROM {spec.qualified_name} WHERE organization_id = :o",
            {"o": organization_id},
        )
        rows = partition_row_counts(store, spec, organization_id)
        enriched = int(counts.at[0, "enriched"])
        share = round(enriched / rows["dagster/row_count"], 4) if rows["dagster/row_count"] else 0.0
        return dg.MaterializeResult(
            metadata={
                **rows,
                "enriched": enriched,
                "enriched_share": share,
                **events.as_metadata(),
            }
        )

    return _asset


# Segment identify / group calls create and update contacts and companies when they are loaded.
companies = _enriched_crm_asset(
    CORE_COMPANIES,
    crm.companies_frame,
    build_companies,
    deps=[dg.AssetKey(["raw", "enrichment_cache"]), dg.AssetKey(["raw", "product_events"])],
)
# Identity resolution creates contacts; the employer link needs this run's companies.
contacts = _enriched_crm_asset(
    CORE_CONTACTS,
    crm.contacts_frame,
    build_contacts,
    deps=[
        dg.AssetKey(["core", "identity_links"]),
        dg.AssetKey(["raw", "enrichment_cache"]),
        dg.AssetKey(["core", "companies"]),
        dg.AssetKey(["raw", "product_events"]),
    ],
)


@dg.asset(
    key=[CORE_DEALS.schema, CORE_DEALS.name],
    partitions_def=organizations_partitions,
    group_name="accounts",
    kinds={"python", "duckdb"},
    owners=OWNERS,
    pool=WAREHOUSE_POOL,
    check_specs=key_check_specs(CORE_DEALS),
    metadata=definition_metadata(CORE_DEALS),
)
def deals(
    context: dg.AssetExecutionContext, warehouse: WarehouseResource, control_db: ControlDBResource
):
    """The organization's deals as the CRM holds them now (stage, amount, currency, close date, stage-change
    count), replaced per organization so source attribution can join deals with signals in SQL. deal.created
    and deal.stage_changed are sent when the CRM write happens (PUT /api/v1/deals, `devsignal import`), not
    from here."""
    organization_id = context.partition_key
    store = warehouse.get()
    control = control_db.get()
    frame = crm.deals_frame(control, organization_id)
    with store.transaction() as tx:
        tx.replace_partition(CORE_DEALS, frame, organization_id)
    yield dg.MaterializeResult(
        asset_key=[CORE_DEALS.schema, CORE_DEALS.name],
        metadata={
            **partition_row_counts(store, CORE_DEALS, organization_id),
            "pipeline_value": float(frame["amount"].fillna(0).sum()),
        },
    )
    yield from evaluate_key_checks(store, CORE_DEALS, organization_id)
