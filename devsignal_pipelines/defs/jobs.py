"""Jobs over the organization-partitioned assets; schedules and `devsignal sync` run these."""

import dagster as dg

from devsignal_pipelines.defs.published import WAREHOUSE_JOB_HOOKS
from devsignal_pipelines.defs.tenants.partitions import organizations_partitions

# The raw assets each source's sync writes.
SOURCE_ASSETS = {
    "twitter": [dg.AssetKey(["raw", "tweets"]), dg.AssetKey(["raw", "twitter_users"])],
    "stackoverflow": [
        dg.AssetKey(["raw", "so_questions"]),
        dg.AssetKey(["raw", "so_answers"]),
        dg.AssetKey(["raw", "so_users"]),
    ],
    "github": [
        dg.AssetKey(["raw", name])
        for name in (
            "github_repositories",
            "github_stargazers",
            "github_forks",
            "github_issues",
            "github_comments",
            "github_users",
        )
    ],
    "enrichment": [dg.AssetKey(["raw", "enrichment_cache"])],
    # Pushed to DevSignal (API, import): the run loads what arrived, then rebuilds what depends on it.
    "events": [dg.AssetKey(["raw", "product_events"])],
    "crm": [dg.AssetKey(["raw", "product_events"])],
}
# What every sync refreshes after its raw assets.
DOWNSTREAM_OF_SOURCES = [
    dg.AssetKey(["core", "identity_links"]),
    dg.AssetKey(["core", "companies"]),
    dg.AssetKey(["core", "contacts"]),
    dg.AssetKey(["core", "signals"]),
    dg.AssetKey(["core", "deals"]),
    dg.AssetKey(["analytics", "enrichment_coverage"]),
]


def _source_job(source: str, description: str):
    return dg.define_asset_job(
        name=f"{source}_sync",
        description=description,
        selection=dg.AssetSelection.assets(*SOURCE_ASSETS[source], *DOWNSTREAM_OF_SOURCES),
        partitions_def=organizations_partitions,
        hooks=WAREHOUSE_JOB_HOOKS,
    )


twitter_sync_job = _source_job(
    "twitter",
    "Sync one organization's X mentions, then refresh its identities, contacts and signals.",
)
stackoverflow_sync_job = _source_job(
    "stackoverflow",
    "Sync one organization's Stack Overflow tags, then refresh its identities, contacts and signals.",
)
github_sync_job = _source_job(
    "github",
    "Sync one organization's tracked GitHub repositories (stars, forks, issues, pull requests, comments, "
    "profiles), then refresh its identities, contacts and signals.",
)
enrichment_sync_job = _source_job(
    "enrichment",
    "Enrich one organization's companies and contacts (new, stale or queued lookups only), then rebuild its core "
    "tables and coverage.",
)
first_party_sync_job = dg.define_asset_job(
    name="first_party_sync",
    description="Load one organization's Segment messages and CRM changes that arrived through the API or "
    "`devsignal import` (identify / group calls become contacts and companies), then rebuild its identities, "
    "contacts, companies, deals and signals. Requested by first_party_sensor when something arrived.",
    selection=dg.AssetSelection.assets(*SOURCE_ASSETS["events"], *DOWNSTREAM_OF_SOURCES),
    partitions_def=organizations_partitions,
    hooks=WAREHOUSE_JOB_HOOKS,
)
organization_sync_job = dg.define_asset_job(
    name="organization_sync",
    description="Every connected source and every derived table for one organization (`devsignal sync ORG`, "
    "`make demo` run it for the sources the organization is connected to).",
    selection=dg.AssetSelection.all(),
    partitions_def=organizations_partitions,
    hooks=WAREHOUSE_JOB_HOOKS,
)

SOURCE_JOBS = {
    "twitter": twitter_sync_job,
    "stackoverflow": stackoverflow_sync_job,
    "github": github_sync_job,
    "enrichment": enrichment_sync_job,
    "events": first_party_sync_job,
    "crm": first_party_sync_job,
    "all": organization_sync_job,
}


def assets_for_sources(sources: list[str]) -> list[dg.AssetKey]:
    """The raw assets of the given connected sources plus everything derived from them."""
    raw = {key for source in sources for key in SOURCE_ASSETS.get(source, [])}
    return sorted(raw, key=lambda k: k.to_user_string()) + DOWNSTREAM_OF_SOURCES
