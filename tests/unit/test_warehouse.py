"""The warehouse writer on both engines: merge, replace, cursors, atomicity."""

from __future__ import annotations

import pandas as pd
import pytest

from devsignal_pipelines.lib.stores.tables import (
    RAW_SYNC_CURSORS,
    WAREHOUSE_TABLES,
    Column,
    TableSpec,
)
from devsignal_pipelines.lib.stores.warehouse import Warehouse, WarehouseConfigError

ITEMS = TableSpec(
    schema="raw",
    name="items",
    description="test table",
    columns=(
        Column("organization_id", "text", "org", False),
        Column("item_id", "text", "id", False),
        Column("score", "bigint", "a number"),
        Column("tags", "json", "a JSON array"),
        Column("seen_at", "timestamptz", "first seen", False),
        Column("updated_at", "timestamptz", "last change", False),
    ),
    primary_key=("organization_id", "item_id"),
    insert_only=("seen_at",),
    touched_on_change=("updated_at",),
)


def _items(org: str, rows: list[tuple[str, int | None, list[str]]], at: str) -> pd.DataFrame:
    ts = pd.Timestamp(at, tz="UTC")
    return pd.DataFrame(
        {
            "organization_id": org,
            "item_id": [r[0] for r in rows],
            "score": [r[1] for r in rows],
            "tags": [r[2] for r in rows],
            "seen_at": ts,
            "updated_at": ts,
        }
    )


@pytest.fixture
def warehouse(stores: dict[str, str]) -> Warehouse:
    warehouse = Warehouse(stores["warehouse"])
    warehouse.ensure_tables([ITEMS, RAW_SYNC_CURSORS])
    return warehouse


def test_merge_counts_new_and_changed_rows_only(warehouse: Warehouse) -> None:
    with warehouse.transaction() as tx:
        first = tx.merge(ITEMS, _items("a", [("1", 10, ["x"]), ("2", None, [])], "2026-01-01"))
    assert (first.new, first.updated) == (2, 0)

    with warehouse.transaction() as tx:
        again = tx.merge(
            ITEMS, _items("a", [("1", 10, ["x"]), ("2", 5, []), ("3", 1, ["y", "z"])], "2026-02-01")
        )
    assert (again.new, again.updated) == (1, 1)

    rows = warehouse.read_df(
        "SELECT item_id, score, seen_at, updated_at FROM raw.items ORDER BY item_id"
    )
    assert rows["score"].tolist() == [10, 5, 1]
    # Unchanged row 1 keeps its timestamps; changed row 2 keeps seen_at but gets a new updated_at.
    assert rows["updated_at"].dt.strftime("%Y-%m").tolist() == ["2026-01", "2026-02", "2026-02"]
    assert rows["seen_at"].dt.strftime("%Y-%m").tolist() == ["2026-01", "2026-01", "2026-02"]


def test_rerun_of_the_same_merge_changes_nothing(warehouse: Warehouse) -> None:
    frame = _items("a", [("1", 10, ["x"]), ("2", 3, ["y"])], "2026-01-01")
    with warehouse.transaction() as tx:
        tx.merge(ITEMS, frame)
    before = warehouse.read_df("SELECT * FROM raw.items ORDER BY item_id")
    with warehouse.transaction() as tx:
        counts = tx.merge(ITEMS, frame.assign(updated_at=pd.Timestamp("2027-01-01", tz="UTC")))
    assert (counts.new, counts.updated) == (0, 0)
    pd.testing.assert_frame_equal(
        before, warehouse.read_df("SELECT * FROM raw.items ORDER BY item_id")
    )


def test_duplicate_keys_in_one_batch_keep_the_first(warehouse: Warehouse) -> None:
    with warehouse.transaction() as tx:
        counts = tx.merge(ITEMS, _items("a", [("1", 10, []), ("1", 99, [])], "2026-01-01"))
    assert counts.new == 1
    assert warehouse.scalar("SELECT score FROM raw.items") == 10


def test_failed_transaction_leaves_previous_state(warehouse: Warehouse) -> None:
    with warehouse.transaction() as tx:
        tx.merge(ITEMS, _items("a", [("1", 10, [])], "2026-01-01"))
        tx.set_cursor("a", "twitter", "since_id", "100")
    with pytest.raises(RuntimeError, match="boom"), warehouse.transaction() as tx:
        tx.merge(ITEMS, _items("a", [("2", 20, [])], "2026-01-02"))
        tx.set_cursor("a", "twitter", "since_id", "200")
        raise RuntimeError("boom")
    assert warehouse.scalar("SELECT count(*) FROM raw.items") == 1
    assert warehouse.get_cursor("a", "twitter", "since_id") == "100"


def test_replace_partition_touches_one_organization_only(warehouse: Warehouse) -> None:
    with warehouse.transaction() as tx:
        tx.merge(ITEMS, _items("a", [("1", 1, []), ("2", 2, [])], "2026-01-01"))
        tx.merge(ITEMS, _items("b", [("1", 1, [])], "2026-01-01"))
    with warehouse.transaction() as tx:
        assert tx.replace_partition(ITEMS, _items("a", [("9", 9, [])], "2026-01-01"), "a") == 1
    counts = warehouse.read_df(
        "SELECT organization_id, count(*) AS n FROM raw.items GROUP BY organization_id ORDER BY 1"
    )
    assert counts["n"].tolist() == [1, 1]
    with pytest.raises(ValueError, match="other organizations"), warehouse.transaction() as tx:
        tx.replace_partition(ITEMS, _items("b", [("1", 1, [])], "2026-01-01"), "a")


def test_json_columns_are_queryable(warehouse: Warehouse) -> None:
    with warehouse.transaction() as tx:
        tx.merge(ITEMS, _items("a", [("1", 1, ["first", "second"])], "2026-01-01"))
    # The same JSON operator works on DuckDB's JSON and PostgreSQL's JSONB.
    assert warehouse.scalar("SELECT tags->>1 FROM raw.items") == "second"


def test_unknown_column_is_a_clear_error(warehouse: Warehouse) -> None:
    with (
        pytest.raises(ValueError, match=r"raw.items has no columns \['bogus'\]"),
        warehouse.transaction() as tx,
    ):
        tx.merge(ITEMS, _items("a", [("1", 1, [])], "2026-01-01").assign(bogus=1))


def test_bad_url_names_the_variable() -> None:
    with pytest.raises(WarehouseConfigError, match="DEVSIGNAL_WAREHOUSE_URL"):
        Warehouse("mysql://nope")
    assert Warehouse("postgresql://u:secret@h/db").safe_url == "postgresql://u:***@h/db"


def test_text_that_looks_like_null_or_holds_nul_is_stored_the_same_on_both_engines(
    warehouse: Warehouse,
) -> None:
    frame = _items("a", [("1", 1, []), ("2", 2, [])], "2026-01-01")
    frame["item_id"] = ["\\N", "nul\x00byte"]
    with warehouse.transaction() as tx:
        assert tx.merge(ITEMS, frame).new == 2
    assert sorted(warehouse.read_df("SELECT item_id FROM raw.items")["item_id"]) == [
        "\\N",
        "nulbyte",
    ]


def test_named_parameters_leave_literals_and_casts_alone() -> None:
    from devsignal_pipelines.lib.stores.warehouse import _duckdb_params

    sql = (
        "SELECT 'https://x.com/:a', x::TEXT, l[:2], {'k':v} FROM t WHERE o = :org AND s IN (:a,:b)"
    )
    assert _duckdb_params(sql) == (
        "SELECT 'https://x.com/:a', x::TEXT, l[:2], {'k':v} FROM t WHERE o = $org AND s IN ($a,$b)"
    )


def test_a_session_reuses_one_duckdb_connection(tmp_path) -> None:
    warehouse = Warehouse(f"duckdb:///{tmp_path / 'w.duckdb'}")
    with warehouse.session() as store:
        with store.transaction() as tx:
            tx.execute_sql("CREATE TEMP TABLE seen AS SELECT 1 AS x")
        # A temporary table lives in its connection: visible only if the same one is reused.
        assert store.scalar("SELECT count(*) FROM seen") == 1
        with pytest.raises(Exception, match="missing_table"), store.transaction() as tx:
            tx.execute_sql("INSERT INTO seen VALUES (2)")
            tx.execute_sql("SELECT * FROM missing_table")
        assert store.scalar("SELECT count(*) FROM seen") == 1  # the failed transaction rolled back
    with pytest.raises(Exception, match=r"(?i)seen"):
        warehouse.scalar("SELECT count(*) FROM seen")  # a new connection after the session


def test_column_descriptions_have_no_angle_brackets_the_ui_would_read_as_html() -> None:
    bad = [
        f"{spec.qualified_name}.{column.name}: {column.description}"
        for spec in WAREHOUSE_TABLES
        for column in spec.columns
        if "<" in column.description or ">" in column.description
    ]
    assert bad == []
