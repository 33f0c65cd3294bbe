"""raw.github_*: stars, forks, issues, pull requests, comments and profiles of tracked repositories."""

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import dagster as dg

from devsignal_pipelines.defs.connectors import require_connector
from devsignal_pipelines.defs.resources import ControlDBResource, GitHubResource, WarehouseResource
from devsignal_pipelines.defs.tables import (
    asset_spec,
    evaluate_key_checks,
    key_check_specs,
    partition_row_counts,
)
from devsignal_pipelines.defs.tenants.partitions import organizations_partitions
from devsignal_pipelines.lib.sources.github.client import GitHubAuthError, GitHubError
from devsignal_pipelines.lib.sources.github.sync import sync_github
from devsignal_pipelines.lib.sources.http import RateLimitExhaustedError, TransientHTTPError
from devsignal_pipelines.lib.stores.tables import (
    RAW_GITHUB_COMMENTS,
    RAW_GITHUB_FORKS,
    RAW_GITHUB_ISSUES,
    RAW_GITHUB_REPOSITORIES,
    RAW_GITHUB_STARGAZERS,
    RAW_GITHUB_USERS,
)

TABLES = (
    RAW_GITHUB_REPOSITORIES,
    RAW_GITHUB_STARGAZERS,
    RAW_GITHUB_FORKS,
    RAW_GITHUB_ISSUES,
    RAW_GITHUB_COMMENTS,
    RAW_GITHUB_USERS,
)
KINDS = {"github", "python", "duckdb"}


@dg.multi_asset(
    name="github_activity",
    specs=[asset_spec(spec, group="github", kinds=KINDS) for spec in TABLES],
    check_specs=key_check_specs(RAW_GITHUB_STARGAZERS) + key_check_specs(RAW_GITHUB_ISSUES),
    partitions_def=organizations_partitions,
    # Outside the warehouse pool, like the X and Stack Overflow syncs: mostly HTTP and rate-limit
    # waits, then one short commit.
    description="Reads the organization's tracked repositories incrementally: stars (with starred_at), forks, "
    "issues and pull requests, issue and review comments since the saved states, with ETags so an unchanged "
    "resource costs one free 304; then the profiles of new people (by permanent id) and of stale ones. "
    "Everything and the states are written in one transaction. A missing or private repository is reported and "
    "skipped; a renamed one is followed and its new name saved.",
)
def github_activity(
    context: dg.AssetExecutionContext,
    warehouse: WarehouseResource,
    control_db: ControlDBResource,
    github: GitHubResource,
) -> Iterator[Any]:
    organization_id = context.partition_key
    connector = require_connector(control_db, organization_id, "github")
    settings = connector["settings"] or {}
    store = warehouse.get()
    with github.client_for(organization_id, connector["secret_env"]) as client:
        try:
            report = sync_github(
                store,
                client,
                organization_id,
                settings.get("repos") or [],
                profile_max_age=timedelta(days=github.profile_max_age_days),
            )
        except GitHubAuthError as exc:
            raise dg.Failure(description=str(exc), allow_retries=False) from exc
        except (GitHubError, TransientHTTPError, RateLimitExhaustedError) as exc:
            raise dg.Failure(
                description=f"GitHub sync failed for organization '{organization_id}': {exc}. "
                "Nothing was written; the next run starts again from the saved states."
            ) from exc
        api = {
            **client.stats.as_metadata(),
            "calls_by_resource": dict(client.stats.calls_by_resource),
        }
    if report.renamed:
        control_db.get().rename_tracked_repositories(organization_id, report.renamed)
        context.log.warning(f"{organization_id}: repositories renamed on GitHub: {report.renamed}")
    for repo in report.repositories:
        if repo.error:
            context.log.error(f"{organization_id}: {repo.error}")
    if report.stopped_early:
        context.log.warning(
            f"{organization_id}: stopped early ({report.stopped_early}); the next run resumes"
        )
    summary = {**report.as_metadata(), **api}
    for spec in TABLES:
        yield dg.MaterializeResult(
            asset_key=[spec.schema, spec.name],
            metadata={
                **partition_row_counts(store, spec, organization_id),
                **(summary if spec is RAW_GITHUB_REPOSITORIES else {}),
                f"{spec.name}_new": report.new.get(spec.name, 0),
                f"{spec.name}_updated": report.updated.get(spec.name, 0),
            },
        )
    yield from evaluate_key_checks(store, RAW_GITHUB_STARGAZERS, organization_id)
    yield from evaluate_key_checks(store, RAW_GITHUB_ISSUES, organization_id)
