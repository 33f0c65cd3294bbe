"""raw.so_questions, raw.so_answers, raw.so_users: Stack Overflow activity on tracked tags."""

from collections.abc import Iterator
from typing import Any

import dagster as dg

from devsignal_pipelines.defs.connectors import require_connector
from devsignal_pipelines.defs.resources import (
    ControlDBResource,
    StackExchangeResource,
    WarehouseResource,
)
from devsignal_pipelines.defs.tables import (
    asset_spec,
    evaluate_key_checks,
    key_check_specs,
    partition_row_counts,
)
from devsignal_pipelines.defs.tenants.partitions import organizations_partitions
from devsignal_pipelines.lib.sources.http import RateLimitExhaustedError, TransientHTTPError
from devsignal_pipelines.lib.sources.stackoverflow.client import (
    StackExchangeError,
    StackExchangeKeyError,
)
from devsignal_pipelines.lib.sources.stackoverflow.sync import sync_stackoverflow
from devsignal_pipelines.lib.stores.tables import RAW_SO_ANSWERS, RAW_SO_QUESTIONS, RAW_SO_USERS

QUESTIONS_KEY = dg.AssetKey(["raw", "so_questions"])
ANSWERS_KEY = dg.AssetKey(["raw", "so_answers"])
USERS_KEY = dg.AssetKey(["raw", "so_users"])
KINDS = {"stackexchange", "python", "duckdb"}


@dg.multi_asset(
    name="stackoverflow_activity",
    specs=[
        asset_spec(RAW_SO_QUESTIONS, group="stackoverflow", kinds=KINDS),
        asset_spec(RAW_SO_ANSWERS, group="stackoverflow", kinds=KINDS),
        asset_spec(RAW_SO_USERS, group="stackoverflow", kinds=KINDS),
    ],
    check_specs=key_check_specs(RAW_SO_QUESTIONS),
    partitions_def=organizations_partitions,
    # Outside the warehouse pool, like the X sync: mostly paced HTTP; one short commit at the end.
    description="Reads the organization's tracked tags by activity from each tag's saved cursor (late answers "
    "and edits bring a question back), fetches answers 100 questions at a time and owners' full profiles, "
    "honouring backoff, pacing and the quota reserve; merges everything and the cursors in one transaction.",
)
def stackoverflow_activity(
    context: dg.AssetExecutionContext,
    warehouse: WarehouseResource,
    control_db: ControlDBResource,
    stackexchange: StackExchangeResource,
) -> Iterator[Any]:
    organization_id = context.partition_key
    connector = require_connector(control_db, organization_id, "stackoverflow")
    store = warehouse.get()
    with stackexchange.client_for(organization_id, connector["secret_env"]) as client:
        try:
            report = sync_stackoverflow(
                store, client, organization_id, connector["settings"].get("tags") or []
            )
        except StackExchangeKeyError as exc:
            raise dg.Failure(description=str(exc), allow_retries=False) from exc
        except (StackExchangeError, TransientHTTPError, RateLimitExhaustedError) as exc:
            raise dg.Failure(
                description=f"Stack Exchange sync failed for organization '{organization_id}': {exc}. "
                "Nothing was written; the next run starts again from the saved cursors."
            ) from exc
        api = {**client.stats.as_metadata(), "calls_by_method": dict(client.stats.calls_by_method)}
    if report.stopped_early:
        context.log.warning(
            f"{organization_id}: stopped early ({report.stopped_early}); the next run resumes"
        )
    yield dg.MaterializeResult(
        asset_key=QUESTIONS_KEY,
        metadata={
            **partition_row_counts(store, RAW_SO_QUESTIONS, organization_id),
            **report.as_metadata(),
            **api,
        },
    )
    yield dg.MaterializeResult(
        asset_key=ANSWERS_KEY,
        metadata={
            **partition_row_counts(store, RAW_SO_ANSWERS, organization_id),
            "answers_new": report.answers_new,
            "answers_updated": report.answers_updated,
        },
    )
    yield dg.MaterializeResult(
        asset_key=USERS_KEY,
        metadata={
            **partition_row_counts(store, RAW_SO_USERS, organization_id),
            "users_new": report.users_new,
            "users_updated": report.users_updated,
        },
    )
    yield from evaluate_key_checks(store, RAW_SO_QUESTIONS, organization_id)
