"""core.signals: every developer signal of an organization in one schema."""

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
from devsignal_pipelines.lib.signals import SignalSettings, build_signals
from devsignal_pipelines.lib.sources.events.mapping import EventSettings
from devsignal_pipelines.lib.stores.tables import CORE_SIGNALS
from devsignal_pipelines.lib.webhooks.emit import emit_changes


@dg.asset(
    key=["core", "signals"],
    deps=[
        dg.AssetKey(["raw", "tweets"]),
        dg.AssetKey(["raw", "so_questions"]),
        dg.AssetKey(["raw", "so_answers"]),
        dg.AssetKey(["raw", "product_events"]),
        dg.AssetKey(["raw", "github_repositories"]),
        dg.AssetKey(["raw", "github_stargazers"]),
        dg.AssetKey(["raw", "github_forks"]),
        dg.AssetKey(["raw", "github_issues"]),
        dg.AssetKey(["raw", "github_comments"]),
        dg.AssetKey(["core", "identity_links"]),
    ],
    partitions_def=organizations_partitions,
    group_name="core",
    kinds={"python", "duckdb"},
    owners=OWNERS,
    pool=WAREHOUSE_POOL,
    check_specs=key_check_specs(CORE_SIGNALS),
    metadata=definition_metadata(CORE_SIGNALS),
)
def signals(
    context: dg.AssetExecutionContext, warehouse: WarehouseResource, control_db: ControlDBResource
):
    """Every signal of the organization, one schema for all sources, each resolved to contact and company:
    X posts as twitter_mention / twitter_question / twitter_complaint / twitter_praise (with sentiment);
    Stack Overflow questions and answers as stackoverflow_question / stackoverflow_answer (title, url, tags,
    score, views, answered / accepted; deleted owners stay anonymous); the organization's own Segment track and
    page messages from raw.product_events, typed by its event mapping (signup, api_call, feature_usage,
    docs_view, ...; anonymous messages are linked once the device's user is identified); GitHub stars,
    forks, issues, pull requests and comments on the tracked repositories as github_star / github_fork /
    github_issue / github_pull_request / github_comment (not the organization's members, not bots). Rebuilt per
    organization from its sources, so a re-run gives the same rows."""
    organization_id = context.partition_key
    store = warehouse.get()
    control = control_db.get()
    github = control.connector_settings(organization_id, "github") or {}
    settings = SignalSettings(
        events=EventSettings.from_settings(control.connector_settings(organization_id, "events")),
        github_members=tuple(github.get("members") or ()),
    )
    # New signals become signal.created events in the outbox before the warehouse commits.
    with (
        store.transaction() as tx,
        emit_changes(tx, control, CORE_SIGNALS, organization_id) as events,
    ):
        build_signals(tx, organization_id, settings)
    counts = store.read_df(
        "SELECT signal_type, count(*) AS n, count(company_id) AS with_company FROM core.signals "
        "WHERE organization_id = :o GROUP BY signal_type ORDER BY signal_type",
        {"o": organization_id},
    )
    yield dg.MaterializeResult(
        asset_key=["core", "signals"],
        metadata={
            **partition_row_counts(store, CORE_SIGNALS, organization_id),
            "signals_with_company": int(counts["with_company"].sum()),
            **{
                f"signals_{k}": int(v)
                for k, v in zip(counts["signal_type"], counts["n"], strict=True)
            },
            **events.as_metadata(),
        },
    )
    yield from evaluate_key_checks(store, CORE_SIGNALS, organization_id)
