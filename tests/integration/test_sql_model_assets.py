"""dbt_like_sql as Dagster assets: keys, lineage, docs and checks in the UI; real materializations."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import dagster as dg
import pytest

from devsignal_pipelines.definitions import defs
from devsignal_pipelines.defs.models.assets import (
    SqlModelsConfig,
    build_sql_models_asset,
    resolve_as_of,
    sql_models_every_6_hours,
)
from devsignal_pipelines.defs.resources import ControlDBResource, WarehouseResource
from devsignal_pipelines.lib.sql_models import load_project
from devsignal_pipelines.lib.stores.warehouse import Warehouse
from tests.integration.sql_project import (
    DAILY,
    FIRST,
    SCHEMA,
    TOTALS,
    TOTALS_VIEW,
    load_signals,
    signals_frame,
    write_project,
)


@pytest.fixture
def project(tmp_path: Path):
    models = {
        "intermediate/daily.sql": DAILY,
        "analytics/totals.sql": TOTALS,
        "analytics/totals_by_org.sql": TOTALS_VIEW,
    }
    return load_project(write_project(tmp_path / "proj", models, SCHEMA))


def test_every_model_is_an_asset_with_lineage_docs_and_checks(project) -> None:
    asset = build_sql_models_asset(project)
    daily, totals = dg.AssetKey(["intermediate", "daily"]), dg.AssetKey(["analytics", "totals"])
    assert set(asset.keys) == {daily, totals, dg.AssetKey(["analytics", "totals_by_org"])}
    assert asset.asset_deps[totals] == {daily}
    assert asset.asset_deps[daily] == {dg.AssetKey(["core", "signals"])}
    spec = next(s for s in asset.specs if s.key == totals)
    assert spec.description == "Signals per type."
    assert spec.group_name == "analytics"
    schema = spec.metadata["dagster/column_schema"]
    assert [c.name for c in schema.columns] == [
        "organization_id",
        "signal_type",
        "signals",
        "label",
    ]
    assert {k.name for k in asset.check_keys} == {
        "not_null_organization_id",
        "accepted_values_signal_type",
        "unique_combination_of_columns",
    }


def test_materialize_builds_tables_and_reports_checks(project, stores: dict[str, str]) -> None:
    warehouse = Warehouse(stores["warehouse"])
    warehouse.ensure_tables()
    load_signals(
        warehouse,
        signals_frame(
            [*FIRST, ("p:9", "acme", "signup", "2026-11-03T10:00Z", "2026-11-03T11:00Z")]
        ),
    )
    resources = {
        "warehouse": WarehouseResource(url=stores["warehouse"]),
        "control_db": ControlDBResource(url=stores["control"]),
    }
    config = {"ops": {"dbt_like_sql": {"config": {"as_of": "2026-11-20T00:00:00+00:00"}}}}
    with dg.instance_for_test() as instance:
        result = dg.materialize(
            [build_sql_models_asset(project)],
            resources=resources,
            run_config=config,
            instance=instance,
        )
        assert result.success
        rows = {
            m.asset_key.to_user_string(): m.metadata["dagster/row_count"].value
            for m in result.asset_materializations_for_node("dbt_like_sql")
            if "dagster/row_count" in m.metadata
        }
        assert rows == {"intermediate/daily": 4, "analytics/totals": 4}
        checks = {c.check_name: c.passed for c in result.get_asset_check_evaluations()}
        assert checks["accepted_values_signal_type"] is False  # signup is not an accepted value
        assert checks["not_null_organization_id"] is True
        # A subset: only the view, which reads the existing table.
        subset = dg.materialize(
            [build_sql_models_asset(project)],
            selection=[dg.AssetKey(["analytics", "totals_by_org"])],
            resources=resources,
            run_config=config,
            instance=instance,
        )
        assert subset.success
        assert [
            m.asset_key.path for m in subset.asset_materializations_for_node("dbt_like_sql")
        ] == [["analytics", "totals_by_org"]]


def test_as_of_is_the_configured_time_and_the_schedule_passes_its_tick() -> None:
    configured = SqlModelsConfig(as_of="2026-11-01T00:00:00")
    assert resolve_as_of(configured).isoformat() == "2026-11-01T00:00:00+00:00"
    with pytest.raises(dg.Failure, match="not an ISO 8601 time"):
        resolve_as_of(SqlModelsConfig(as_of="yesterday"))
    tick = datetime(2026, 11, 20, 6, 15, tzinfo=UTC)
    with dg.build_schedule_context(scheduled_execution_time=tick) as context:
        request = sql_models_every_6_hours(context)
    assert request.run_key == "sql-models:2026-11-20T06:15:00+00:00"
    config = request.run_config["ops"]["dbt_like_sql"]["config"]
    assert config == {"as_of": "2026-11-20T06:15:00+00:00", "full_refresh": False}
    # The run config the schedule produces is one the job accepts.
    job = defs.resolve_job_def("sql_models_refresh")
    assert dg.validate_run_config(job, request.run_config)
    midnight = datetime(2026, 11, 21, 0, 15, tzinfo=UTC)
    with dg.build_schedule_context(scheduled_execution_time=midnight) as context:
        nightly = sql_models_every_6_hours(context)
    assert nightly.run_config["ops"]["dbt_like_sql"]["config"]["full_refresh"] is True
