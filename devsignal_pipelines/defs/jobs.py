"""Jobs over the organization-partitioned assets; schedules and `devsignal sync` run these."""

import dagster as dg

from devsignal_pipelines.defs.tenants.partitions import organizations_partitions

DOWNSTREAM_OF_SOURCES = [
    dg.AssetKey(["core", "identity_links"]),
    dg.AssetKey(["core", "companies"]),
    dg.AssetKey(["core", "contacts"]),
    dg.AssetKey(["core", "signals"]),
]

twitter_sync_job = dg.define_asset_job(
    name="twitter_sync",
    description="Sync one organization's X mentions, then refresh its identities, contacts and signals.",
    selection=dg.AssetSelection.assets(
        dg.AssetKey(["raw", "tweets"]),
        dg.AssetKey(["raw", "twitter_users"]),
        *DOWNSTREAM_OF_SOURCES,
    ),
    partitions_def=organizations_partitions,
)

organization_sync_job = dg.define_asset_job(
    name="organization_sync",
    description="Every source and derived table for one organization.",
    selection=dg.AssetSelection.all(),
    partitions_def=organizations_partitions,
)

SOURCE_JOBS = {"twitter": twitter_sync_job, "all": organization_sync_job}
