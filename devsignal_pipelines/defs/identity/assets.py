"""core.identity_links, core.companies, core.contacts: who is behind each signal."""

import json
from typing import Any

import dagster as dg
import pandas as pd

from devsignal_pipelines.defs.resources import WAREHOUSE_POOL, ControlDBResource, WarehouseResource
from devsignal_pipelines.defs.tables import OWNERS, definition_metadata, partition_row_counts
from devsignal_pipelines.defs.tenants.partitions import organizations_partitions
from devsignal_pipelines.lib import crm
from devsignal_pipelines.lib.identity import link_method, resolve_authors
from devsignal_pipelines.lib.stores import control as c
from devsignal_pipelines.lib.stores.tables import CORE_COMPANIES, CORE_CONTACTS, CORE_IDENTITY_LINKS

PLATFORM = "twitter"


def _json_list(value: Any) -> list[str]:
    if isinstance(value, str):
        return json.loads(value)
    return list(value) if value is not None else []


@dg.asset(
    key=["core", "identity_links"],
    deps=[dg.AssetKey(["raw", "twitter_users"])],
    partitions_def=organizations_partitions,
    group_name="identity",
    kinds={"python", "duckdb"},
    owners=OWNERS,
    pool=WAREHOUSE_POOL,
    metadata=definition_metadata(CORE_IDENTITY_LINKS),
)
def identity_links(
    context: dg.AssetExecutionContext, warehouse: WarehouseResource, control_db: ControlDBResource
) -> dg.MaterializeResult:
    """Links every X author of the organization to a contact (and company), recording method, confidence and
    evidence: known permanent X id first, then the profile URL's domain (plus a unique name match inside that
    company), else a new contact carrying the identity. New contacts and identities are written to the control
    DB, so the next sync finds the author by id."""
    organization_id = context.partition_key
    store, control = warehouse.get(), control_db.get()
    authors = store.read_df(
        "SELECT user_id AS platform_user_id, username, name, bio_urls FROM raw.twitter_users "
        "WHERE organization_id = :o ORDER BY user_id",
        {"o": organization_id},
    )
    authors["urls"] = authors["bio_urls"].map(_json_list)
    resolution = resolve_authors(
        organization_id,
        PLATFORM,
        authors,
        crm.identities_frame(control, organization_id, PLATFORM),
        crm.companies_frame(control, organization_id).rename(columns={"company_id": "id"}),
        crm.contacts_frame(control, organization_id).rename(columns={"contact_id": "id"}),
    )
    now = pd.Timestamp.now(tz="UTC").to_pydatetime()
    with control.begin() as conn:
        contacts_created = control.insert_missing(
            conn,
            c.contacts,
            resolution.new_contacts.assign(created_at=now, updated_at=now).to_dict("records"),
        )
        identities_created = control.insert_missing(
            conn,
            c.contact_identities,
            resolution.identities.assign(created_at=now).to_dict("records"),
        )

    identities = crm.identities_frame(control, organization_id, PLATFORM)
    links = identities[identities["platform_user_id"].isin(authors["platform_user_id"])].copy()
    links["method"] = links["method"].map(link_method)
    links["evidence"] = [
        evidence if method != "platform_id" else {"platform_user_id": uid, "crm_username": username}
        for method, evidence, uid, username in zip(
            links["method"],
            links["evidence"],
            links["platform_user_id"],
            links["username"],
            strict=True,
        )
    ]
    links = links.rename(columns={"created_at": "linked_at"}).drop(columns=["username"])
    with store.transaction() as tx:
        tx.replace_partition(CORE_IDENTITY_LINKS, links, organization_id)

    by_method = links["method"].value_counts().to_dict()
    return dg.MaterializeResult(
        metadata={
            **partition_row_counts(store, CORE_IDENTITY_LINKS, organization_id),
            "authors": len(authors),
            "contacts_created": contacts_created,
            "identities_created": identities_created,
            **{
                f"links_{method}": int(by_method.get(method, 0))
                for method in ("platform_id", "bio_domain_name", "bio_domain", "new_contact")
            },
        }
    )


def _crm_snapshot_asset(spec, read_frame, deps):
    @dg.asset(
        key=[spec.schema, spec.name],
        deps=deps,
        partitions_def=organizations_partitions,
        group_name="identity",
        kinds={"python", "duckdb"},
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
        frame = read_frame(control_db.get(), organization_id)
        with store.transaction() as tx:
            tx.replace_partition(spec, frame, organization_id)
        return dg.MaterializeResult(metadata=partition_row_counts(store, spec, organization_id))

    return _asset


companies = _crm_snapshot_asset(CORE_COMPANIES, crm.companies_frame, deps=[])
# Identity resolution creates contacts, so the contact snapshot follows it.
contacts = _crm_snapshot_asset(
    CORE_CONTACTS, crm.contacts_frame, deps=[dg.AssetKey(["core", "identity_links"])]
)
