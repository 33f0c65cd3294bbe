"""raw.tweets and raw.twitter_users: X mentions of each organization's product."""

from collections.abc import Iterator
from typing import Any

import dagster as dg

from devsignal_pipelines.defs.connectors import require_connector
from devsignal_pipelines.defs.resources import (
    ControlDBResource,
    WarehouseResource,
    XApiResource,
)
from devsignal_pipelines.defs.tables import (
    asset_spec,
    evaluate_key_checks,
    key_check_specs,
    partition_row_counts,
)
from devsignal_pipelines.defs.tenants.partitions import organizations_partitions
from devsignal_pipelines.lib.sources.http import RateLimitExhaustedError, TransientHTTPError
from devsignal_pipelines.lib.sources.twitter.client import XApiAuthError, XApiError
from devsignal_pipelines.lib.sources.twitter.sync import sync_twitter_mentions
from devsignal_pipelines.lib.stores.tables import RAW_TWEETS, RAW_TWITTER_USERS

TWEETS_KEY = dg.AssetKey(["raw", "tweets"])
USERS_KEY = dg.AssetKey(["raw", "twitter_users"])


@dg.multi_asset(
    name="twitter_mentions",
    specs=[
        asset_spec(RAW_TWEETS, group="twitter", kinds={"twitter", "python", "duckdb"}),
        asset_spec(RAW_TWITTER_USERS, group="twitter", kinds={"twitter", "python", "duckdb"}),
    ],
    check_specs=key_check_specs(RAW_TWEETS),
    partitions_def=organizations_partitions,
    # Deliberately outside the warehouse pool: most of this step is HTTP and rate-limit waits, which
    # must not hold other organizations back. Its one short commit waits for the DuckDB file lock.
    description="Searches X recent posts for the organization's keywords since the saved since_id, classifies "
    "sentiment and type, and merges posts and authors on their permanent ids in one transaction with the cursor.",
)
def twitter_mentions(
    context: dg.AssetExecutionContext,
    warehouse: WarehouseResource,
    control_db: ControlDBResource,
    x_api: XApiResource,
) -> Iterator[Any]:
    organization_id = context.partition_key
    connector = require_connector(control_db, organization_id, "twitter")
    keywords = connector["settings"].get("keywords") or []
    store = warehouse.get()
    with x_api.client_for(organization_id, connector["secret_env"]) as client:
        try:
            report = sync_twitter_mentions(
                store, client, organization_id, keywords, x_api.max_results
            )
        except XApiAuthError as exc:
            raise dg.Failure(description=str(exc), allow_retries=False) from exc
        except XApiError as exc:
            raise dg.Failure(description=str(exc)) from exc
        except (TransientHTTPError, RateLimitExhaustedError) as exc:
            raise dg.Failure(
                description=f"X API kept failing for organization '{organization_id}' "
                f"({client.stats.calls} calls, {client.stats.retries} retries): {exc}. Nothing was written; "
                "the next run starts again from the saved since_id."
            ) from exc
        api_metadata = {
            **client.stats.as_metadata(),
            "rate_limit_limit": client.rate_limit.limit,
            "rate_limit_remaining": client.rate_limit.remaining,
            "rate_limit_reset_epoch_s": client.rate_limit.reset_epoch_s,
        }
    context.log.info(
        f"{organization_id}: {report.tweets_fetched} posts in {report.pages} pages "
        f"({report.tweets_new} new, {report.tweets_updated} updated), {report.quarantined} quarantined"
    )
    yield dg.MaterializeResult(
        asset_key=TWEETS_KEY,
        metadata={
            **partition_row_counts(store, RAW_TWEETS, organization_id),
            **report.as_metadata(),
            **api_metadata,
        },
    )
    yield dg.MaterializeResult(
        asset_key=USERS_KEY,
        metadata={
            **partition_row_counts(store, RAW_TWITTER_USERS, organization_id),
            "users_new": report.users_new,
            "users_updated": report.users_updated,
        },
    )
    yield from evaluate_key_checks(store, RAW_TWEETS, organization_id)
