"""The incremental path gives the same tables as a full refresh, and score history is append-only
and idempotent."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from conftest import AS_OF, SCORING_MODELS, SCORING_RUNS, SPECS, load_inputs
from model_frames import assert_same_rows, read_model
from model_references import HISTORY_COLUMNS

from devsignal_pipelines.lib.sql_models import run_models
from devsignal_pipelines.lib.stores.warehouse import Warehouse


def _all_tables(warehouse, project) -> dict[str, pd.DataFrame]:
    return {name: read_model(warehouse, project, name) for name in project.models}


@pytest.fixture(params=["duckdb", pytest.param("postgres", marks=pytest.mark.postgres)])
def empty_warehouse(request, tmp_path) -> Warehouse:
    if request.param == "duckdb":
        return Warehouse(f"duckdb:///{tmp_path / 'incremental.duckdb'}")
    return Warehouse(request.getfixturevalue("pg_fresh_database"))


def test_incremental_refresh_after_one_percent_new_signals_equals_full_refresh(
    empty_warehouse, project, inputs
):
    signals = inputs["core.signals"]
    # 1% of the signals arrive later: ingested after everything else, some about long-past days.
    late = np.random.default_rng(1).random(len(signals)) < 0.01
    newer = signals[late].copy()
    newer["ingested_at"] = signals["ingested_at"].max() + pd.Timedelta(hours=1)
    load_inputs(empty_warehouse, {**inputs, "core.signals": signals[~late]})
    run_models(project, empty_warehouse, as_of=AS_OF)
    before = read_model(empty_warehouse, project, "daily_account_signals")

    with empty_warehouse.transaction() as tx:
        tx.merge(SPECS["core.signals"], newer)
    results = {r.model.name: r for r in run_models(project, empty_warehouse, as_of=AS_OF)}
    assert results["daily_account_signals"].action == "incremental"
    incremental = _all_tables(empty_warehouse, project)
    assert len(incremental["daily_account_signals"]) > len(before)

    run_models(project, empty_warehouse, as_of=AS_OF, full_refresh=True)
    full = _all_tables(empty_warehouse, project)
    for name in project.models:
        assert_same_rows(incremental[name], full[name], f"{name}: incremental vs full refresh")


def test_score_history_keeps_one_snapshot_per_scoring_run(built, project):
    history = read_model(built, project, "account_score_history")
    assert list(history.columns) == HISTORY_COLUMNS  # the webhooks read these names
    snapshots = history.groupby("snapshot_at")["company_id"].count()
    assert list(snapshots.index) == sorted({pd.Timestamp(a) for a in SCORING_RUNS})
    # The run repeated with the same as-of replaced its snapshot instead of adding one.
    assert not history.duplicated(["organization_id", "company_id", "snapshot_at"]).any()


def test_full_refresh_keeps_the_score_history(project, tmp_path, inputs):
    warehouse = Warehouse(f"duckdb:///{tmp_path / 'refresh.duckdb'}")
    load_inputs(warehouse, inputs)
    week_before = AS_OF - pd.Timedelta(days=7)
    run_models(project, warehouse, select=SCORING_MODELS, as_of=week_before)
    run_models(project, warehouse, select=SCORING_MODELS, as_of=AS_OF, full_refresh=True)
    kept = read_model(warehouse, project, "account_score_history")
    assert sorted(kept["snapshot_at"].unique()) == [pd.Timestamp(week_before), pd.Timestamp(AS_OF)]
