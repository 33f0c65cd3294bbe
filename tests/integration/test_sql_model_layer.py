"""The model layer on real DuckDB and PostgreSQL: load-time errors, the three materializations,
build-then-swap on failure, delete+insert increments, schema tests, and dialect translation."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pandas as pd
import pytest

from devsignal_pipelines.lib.sql_models import (
    ModelError,
    compile_model,
    load_project,
    run_models,
    run_schema_tests,
)
from devsignal_pipelines.lib.stores.warehouse import Warehouse
from tests.integration.sql_project import (
    AS_OF,
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
def warehouse(stores: dict[str, str]) -> Warehouse:
    store = Warehouse(stores["warehouse"])
    store.ensure_tables()
    return store


@pytest.fixture
def project(tmp_path: Path):
    return load_project(
        write_project(
            tmp_path / "proj",
            {
                "intermediate/daily.sql": DAILY,
                "analytics/totals.sql": TOTALS,
                "analytics/totals_by_org.sql": TOTALS_VIEW,
            },
            SCHEMA,
        )
    )


def table(warehouse: Warehouse, relation: str) -> pd.DataFrame:
    frame = warehouse.read_df(f"SELECT * FROM {relation}")
    return frame.sort_values(list(frame.columns)).reset_index(drop=True)


def test_project_loads_refs_sources_and_config(project) -> None:
    assert [m.name for m in project.order()] == ["daily", "totals", "totals_by_org"]
    daily = project.model("daily")
    assert daily.materialized == "incremental"
    assert daily.unique_key == ("organization_id", "day")
    assert daily.sources == (("core", "signals"),)
    assert project.model("totals").refs == ("daily",)
    assert project.model("totals").columns[1].tests == (
        {"accepted_values": {"values": ["github_star", "docs_view"]}},
    )
    assert [m.name for m in project.downstream("daily")] == ["totals", "totals_by_org"]


def test_models_build_and_rebuild_identically(warehouse: Warehouse, project) -> None:
    load_signals(warehouse, signals_frame(FIRST))
    first = run_models(project, warehouse, as_of=AS_OF)
    assert [(r.model.name, r.action) for r in first] == [
        ("daily", "created"),
        ("totals", "created"),
        ("totals_by_org", "view"),
    ]
    totals = table(warehouse, "analytics.totals")
    assert totals[["organization_id", "signal_type", "signals"]].values.tolist() == [
        ["acme", "docs_view", 1],
        ["acme", "github_star", 1],
        ["beta", "github_star", 1],
    ]
    assert set(totals["label"]) == {"v1"}
    again = run_models(project, warehouse, as_of=AS_OF)
    assert [r.action for r in again] == ["incremental", "replaced", "view"]
    pd.testing.assert_frame_equal(table(warehouse, "analytics.totals"), totals)
    # The view survives its table being swapped (PostgreSQL drops it with CASCADE, then rebuilds).
    assert table(warehouse, "analytics.totals_by_org")["signals"].tolist() == [2, 1]
    assert all(r.passed for r in run_schema_tests(project, warehouse, project.model("totals")))


def test_increment_replaces_touched_days_and_matches_a_full_refresh(
    warehouse: Warehouse, project
) -> None:
    load_signals(warehouse, signals_frame(FIRST))
    run_models(project, warehouse, as_of=AS_OF)
    late = [
        ("p:4", "acme", "docs_view", "2026-11-02T18:00Z", "2026-11-05T09:00Z"),
        ("p:5", "beta", "docs_view", "2026-11-04T18:00Z", "2026-11-05T09:00Z"),
    ]
    load_signals(warehouse, signals_frame(late))
    results = run_models(project, warehouse, select=["daily"], as_of=AS_OF)
    assert results[0].action == "incremental"
    incremental = table(warehouse, "intermediate.daily")
    run_models(project, warehouse, select=["daily"], as_of=AS_OF, full_refresh=True)
    full = table(warehouse, "intermediate.daily")
    pd.testing.assert_frame_equal(incremental, full)
    assert int(full["signals"].sum()) == 5


def test_failed_build_keeps_the_previous_table(warehouse: Warehouse, project, tmp_path) -> None:
    load_signals(warehouse, signals_frame(FIRST))
    run_models(project, warehouse, as_of=AS_OF)
    before = table(warehouse, "analytics.totals")
    # Fails while building (a bad cast at run time), after the build table was started.
    totals = project.model("totals")
    totals.sql = totals.sql.replace("AS BIGINT)", "AS BIGINT) + CAST('x' AS INT)")
    with pytest.raises(Exception, match=r"(?i)conversion|invalid input|could not convert"):
        run_models(project, warehouse, select=["totals"], as_of=AS_OF)
    pd.testing.assert_frame_equal(table(warehouse, "analytics.totals"), before)
    assert not warehouse.table_exists("analytics.totals__build")


def test_schema_tests_count_failing_rows(warehouse: Warehouse, project) -> None:
    rows = [*FIRST, ("p:9", "acme", "signup", "2026-11-03T10:00Z", "2026-11-03T11:00Z")]
    load_signals(warehouse, signals_frame(rows))
    run_models(project, warehouse, as_of=AS_OF)
    results = {
        r.test.name: r for r in run_schema_tests(project, warehouse, project.model("totals"))
    }
    assert set(results) == {
        "not_null_organization_id",
        "accepted_values_signal_type",
        "unique_combination_of_columns",
    }
    assert results["accepted_values_signal_type"].failing_rows == 1
    assert results["not_null_organization_id"].passed


def test_full_refresh_false_keeps_history(warehouse: Warehouse, tmp_path: Path) -> None:
    history = """\
    {{ config(materialized='incremental', unique_key=['snapshot_at'], full_refresh=false) }}
    SELECT organization_id, count(*) AS signals, {{ as_of() }} AS snapshot_at
    FROM {{ source('core', 'signals') }} WHERE occurred_at <= {{ as_of() }} GROUP BY organization_id
    """
    project = load_project(write_project(tmp_path / "h", {"core/history.sql": history}))
    load_signals(warehouse, signals_frame(FIRST))
    for day in (3, 10, 10):  # the second run at the same as-of replaces that snapshot
        run_models(project, warehouse, as_of=datetime(2026, 11, day, tzinfo=UTC))
    run_models(project, warehouse, as_of=datetime(2026, 11, 17, tzinfo=UTC), full_refresh=True)
    snapshots = warehouse.read_df(
        "SELECT snapshot_at, count(*) AS n FROM core.history GROUP BY 1 ORDER BY 1"
    )
    assert snapshots["n"].tolist() == [2, 2, 2]


@pytest.mark.parametrize(
    ("models", "message"),
    [
        (
            {"a/x.sql": "SELECT 1 AS v\nFROM {{ ref('nope') }}"},
            r"x\.sql:2: ref\('nope'\) names no model",
        ),
        (
            {"a/x.sql": "SELECT * FROM {{ ref('y') }}", "a/y.sql": "SELECT * FROM {{ ref('x') }}"},
            "cycle: (x -> y -> x|y -> x -> y)",
        ),
        ({"a/x.sql": "SELECT 1\n{% if %}"}, r"x\.sql:2: Jinja syntax error"),
        ({"a/x.sql": "SELECT 1 AS v\n\n{{ undefined_macro() }}"}, r"x\.sql:3: Jinja error"),
        ({"a/x.sql": "SELECT FROM WHERE ((("}, r"x\.sql:1: SQL syntax error"),
        (
            {"a/x.sql": "{% set n = 2 %}\n-- note\nSELECT {{ n }} AS v\nFROM t WHERE (((\n"},
            r"x\.sql:4: SQL syntax error \(rendered SQL line 4",
        ),
        (
            {
                "a/x.sql": "SELECT 1 AS v\n{% if is_incremental() %}FROM {{ ref('gone') }}{% endif %}"
            },
            r"ref\('gone'\) names no model",
        ),
        (
            {"a/x.sql": "SELECT 1 AS v {% if is_incremental() %}WHERE ((({% endif %}"},
            r"x\.sql(:1)?: SQL syntax error",
        ),
        (
            {"a/x.sql": "SELECT * FROM {{ source('raw', 'nope') }}"},
            r"source\('raw', 'nope'\) is not",
        ),
        ({"a/x.sql": "{{ config(materialized='ephemeral') }}SELECT 1"}, "materialized='ephemeral'"),
        (
            {"a/x.sql": "{{ config(materialized='incremental') }}SELECT 1"},
            "needs config\\(unique_key",
        ),
        ({"a/x.sql": "SELECT 1", "b/x.sql": "SELECT 2"}, "names must be unique"),
    ],
)
def test_load_errors_name_the_file_and_line(tmp_path: Path, models, message) -> None:
    with pytest.raises(ModelError, match=message):
        load_project(write_project(tmp_path / "bad", models))


def test_undocumented_columns_fail_the_build(warehouse: Warehouse, tmp_path: Path) -> None:
    schema = SCHEMA.replace(
        "      - name: label\n        description: From project vars.\n        data_type: text\n",
        "",
    )
    project = load_project(
        write_project(
            tmp_path / "p",
            {"intermediate/daily.sql": DAILY, "analytics/totals.sql": TOTALS},
            schema,
        )
    )
    load_signals(warehouse, signals_frame(FIRST))
    with pytest.raises(ModelError, match=r"schema\.yml documents"):
        run_models(project, warehouse, as_of=AS_OF)
    assert not warehouse.table_exists("analytics.totals")


def test_postgres_translation_is_what_runs_there(project) -> None:
    daily = project.model("daily")
    duck = compile_model(project, daily, as_of=AS_OF, incremental=True)
    pg = compile_model(project, daily, as_of=AS_OF, dialect="postgres", incremental=True)
    assert "GROUP BY ALL" in duck
    assert "GROUP BY ALL" not in pg.upper()  # sqlglot spells the grouping out for PostgreSQL
    assert "intermediate.daily" in pg and "core.signals" in pg
    assert "2026-11-20 00:00:00+00:00" in pg


def test_incremental_model_with_new_columns_is_rebuilt(warehouse: Warehouse, project) -> None:
    load_signals(warehouse, signals_frame(FIRST))
    run_models(project, warehouse, select=["daily"], as_of=AS_OF)
    daily = project.model("daily")
    daily.sql = daily.sql.replace("count(*) AS signals,", "count(*) AS signals, 1 AS extra,")
    (result,) = run_models(project, warehouse, select=["daily"], as_of=AS_OF)
    assert result.action == "rebuilt (columns changed)"
    assert "extra" in warehouse.read_df("SELECT * FROM intermediate.daily").columns


def test_history_with_new_columns_is_never_dropped(warehouse: Warehouse, tmp_path: Path) -> None:
    history = """\
    {{ config(materialized='incremental', unique_key=['snapshot_at'], full_refresh=false) }}
    SELECT organization_id, count(*) AS signals, {{ as_of() }} AS snapshot_at
    FROM {{ source('core', 'signals') }} GROUP BY organization_id
    """
    project = load_project(write_project(tmp_path / "h", {"core/history.sql": history}))
    load_signals(warehouse, signals_frame(FIRST))
    run_models(project, warehouse, as_of=AS_OF)
    model = project.model("history")
    model.sql = model.sql.replace("count(*) AS signals,", "count(*) AS signals, 1 AS extra,")
    with pytest.raises(ModelError, match="forbids rebuilding it"):
        run_models(project, warehouse, as_of=AS_OF)
    assert list(warehouse.read_df("SELECT * FROM core.history").columns) == [
        "organization_id",
        "signals",
        "snapshot_at",
    ]


@pytest.mark.parametrize("stores", ["postgres"], indirect=True)
def test_postgres_settings_apply_to_that_model_only(warehouse: Warehouse, tmp_path: Path) -> None:
    setting = "SELECT current_setting('enable_nestloop') AS v"
    models = {
        "a/tuned.sql": "{{ config(postgres_settings={'enable_nestloop': 'off'}) }}" + setting,
        "a/plain.sql": setting + " FROM {{ ref('tuned') }}",
    }
    run_models(load_project(write_project(tmp_path / "p", models)), warehouse, as_of=AS_OF)
    assert warehouse.scalar("SELECT v FROM a.tuned") == "off"
    assert warehouse.scalar("SELECT v FROM a.plain") == "on"


def test_postgres_settings_must_be_setting_names(tmp_path: Path) -> None:
    model = "{{ config(postgres_settings={'x; DROP TABLE y': 'off'}) }}SELECT 1 AS v"
    with pytest.raises(ModelError, match="postgres_settings must map"):
        load_project(write_project(tmp_path / "p", {"a/x.sql": model}))


@pytest.mark.parametrize("stores", ["postgres"], indirect=True)
def test_postgres_sessions_run_in_utc_whatever_the_server_says(warehouse: Warehouse) -> None:
    database = warehouse.url.rsplit("/", 1)[1]
    with warehouse.transaction() as tx:
        tx.execute_sql(f"ALTER DATABASE \"{database}\" SET timezone TO 'America/Los_Angeles'")
    assert warehouse.scalar("SELECT current_setting('TimeZone')") == "UTC"
    assert str(warehouse.scalar("SELECT CAST(TIMESTAMPTZ '2026-11-20 06:15:00+00' AS DATE)")) == (
        "2026-11-20"
    )
