"""Scoring runs through Dagster emit score.changed / tier.changed into the webhook outbox:
one event per real change against the previous snapshot, and none when a run is repeated."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import dagster as dg
import pytest
import sqlalchemy as sa

from devsignal_pipelines.definitions import build_definitions
from devsignal_pipelines.defs.models import assets as model_assets
from devsignal_pipelines.defs.resources import ControlDBResource, WarehouseResource
from devsignal_pipelines.lib.sql_models import load_project, run_models
from devsignal_pipelines.lib.stores import control as c
from devsignal_pipelines.lib.stores.control import ControlDB
from devsignal_pipelines.lib.stores.tables import (
    CORE_COMPANIES,
    CORE_CONTACTS,
    CORE_DEALS,
    CORE_SIGNALS,
)
from devsignal_pipelines.lib.stores.warehouse import Warehouse
from devsignal_pipelines.runner import run_sql_models
from devsignal_pipelines.sandbox.analytics_world import generate_analytics_inputs

ANCHOR = datetime(2026, 11, 20, tzinfo=UTC)
SCORING = [
    "daily_account_signals",
    "account_score_snapshot",
    "account_score_history",
    "account_scores",
]


@pytest.fixture
def warehouse(stores: dict[str, str]) -> Warehouse:
    """A warehouse holding a small generated world (3 organizations, 60 accounts)."""
    store = Warehouse(stores["warehouse"])
    store.ensure_tables()
    frames = generate_analytics_inputs(seed=3, accounts=60, signals=4000, anchor=ANCHOR)
    with store.transaction() as tx:
        for spec in (CORE_COMPANIES, CORE_CONTACTS, CORE_DEALS, CORE_SIGNALS):
            tx.merge(spec, frames[spec.qualified_name])
    return store


@pytest.fixture
def control(stores: dict[str, str]) -> ControlDB:
    control = ControlDB(stores["control"])
    control.create_all()
    return control


@pytest.fixture
def defs(stores: dict[str, str]) -> dg.Definitions:
    return build_definitions(
        warehouse=WarehouseResource(url=stores["warehouse"]),
        control_db=ControlDBResource(url=stores["control"]),
    )


def _events(control: ControlDB) -> list[tuple[str, str]]:
    with control.engine.connect() as conn:
        rows = conn.execute(
            sa.select(c.webhook_events.c.id, c.webhook_events.c.event_type)
        ).fetchall()
    return sorted((r.id, r.event_type) for r in rows)


def test_each_scoring_run_emits_the_changes_once(
    warehouse: Warehouse, control: ControlDB, defs: dg.Definitions
) -> None:
    week_ago, now = (ANCHOR - timedelta(days=7)).isoformat(), ANCHOR.isoformat()
    with dg.DagsterInstance.ephemeral() as instance:
        first = run_sql_models(defs, instance, select=SCORING, as_of=week_ago)
        assert first.success, first.error
        assert first.materializations["core/account_score_history"]["webhook_events"] == 0
        assert _events(control) == []  # a first snapshot has nothing to compare with

        second = run_sql_models(defs, instance, select=SCORING, as_of=now)
        assert second.success, second.error
        emitted = _events(control)
        assert second.materializations["core/account_score_history"]["webhook_events"] == len(
            emitted
        )
        changes = warehouse.read_df(
            # The default threshold: a score that moved at least 5 points (tier.changed always).
            "SELECT count(*) FILTER (WHERE abs(score - previous_score) >= 5 - 1e-9) AS scores, "
            "count(*) FILTER (WHERE tier <> previous_tier) AS tiers FROM core.account_scores"
        ).iloc[0]
        kinds = [kind for _, kind in emitted]
        assert kinds.count("score.changed") == int(changes["scores"]) > 0
        assert kinds.count("tier.changed") == int(changes["tiers"]) > 0

        again = run_sql_models(
            defs, instance, select=SCORING, as_of=now
        )  # a retried run: same snapshot
        assert again.success, again.error
        assert again.materializations["core/account_score_history"]["webhook_events"] == 0
        assert _events(control) == emitted


def _outbox_down(*args: object) -> int:
    raise ConnectionError("outbox unavailable")


def test_a_failed_outbox_write_rolls_the_snapshot_back(
    warehouse: Warehouse,
    control: ControlDB,
    defs: dg.Definitions,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    snapshots = "SELECT count(DISTINCT snapshot_at) FROM core.account_score_history"
    with dg.DagsterInstance.ephemeral() as instance:
        week_ago, now = (ANCHOR - timedelta(days=7)).isoformat(), ANCHOR.isoformat()
        assert run_sql_models(defs, instance, select=SCORING, as_of=week_ago).success
        with monkeypatch.context() as patch:  # the outbox write fails (control DB down)
            patch.setattr(model_assets, "emit_score_events", _outbox_down)
            failed = run_sql_models(defs, instance, select=SCORING, as_of=now)
        assert not failed.success and "outbox unavailable" in (failed.error or "")
        assert int(warehouse.scalar(snapshots)) == 1  # the new snapshot did not land
        # The outbox is back: the next run finds the same change again and emits it.
        again = run_sql_models(defs, instance, select=SCORING, as_of=now)
        assert again.success, again.error
        assert int(warehouse.scalar(snapshots)) == 2
        assert again.materializations["core/account_score_history"]["webhook_events"] > 0
        assert (
            len(_events(control))
            == again.materializations["core/account_score_history"]["webhook_events"]
        )


@pytest.mark.parametrize("stores", ["duckdb"], indirect=True)
def test_an_account_merged_away_leaves_the_current_scores(warehouse: Warehouse) -> None:
    project = load_project()
    run_models(project, warehouse, select=SCORING, as_of=ANCHOR - timedelta(days=7))
    gone, kept = warehouse.read_df(
        "SELECT organization_id, company_id FROM core.account_scores "
        "WHERE organization_id = (SELECT min(organization_id) FROM core.account_scores) "
        "ORDER BY score DESC, company_id LIMIT 2"
    ).itertuples(index=False)
    with warehouse.transaction() as tx:  # identity resolution merges `gone` into `kept`
        tx.execute(
            "UPDATE core.signals SET company_id = :k WHERE company_id = :g",
            {"k": kept.company_id, "g": gone.company_id},
        )
    run_models(project, warehouse, select=SCORING, as_of=ANCHOR, full_refresh=True)
    current = set(warehouse.read_df("SELECT company_id FROM core.account_scores")["company_id"])
    assert gone.company_id not in current and kept.company_id in current
