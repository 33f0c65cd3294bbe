"""Descriptions reach the warehouse catalog (COMMENT ON, like dbt's persist_docs) on DuckDB and
PostgreSQL: the TableSpec tables' from ensure_tables, the SQL models' from their schema.yml; only
what differs is written, so an up-to-date warehouse costs one catalog query and no statement."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

from devsignal_pipelines.lib.sql_models import load_project, run_models
from devsignal_pipelines.lib.stores import warehouse as warehouse_module
from devsignal_pipelines.lib.stores.tables import CORE_SIGNALS, RAW_TWEETS, Column, TableSpec
from devsignal_pipelines.lib.stores.warehouse import Warehouse

AS_OF = datetime(2026, 11, 20, tzinfo=UTC)
# Quotes, a bind-parameter look-alike, a percent sign (psycopg2's placeholder) and a backslash.
TRICKY = "It's 100% \"done\": :organization_id \\n, O''Brien"


def table_comment(warehouse: Warehouse, relation: str) -> str | None:
    """The table's comment as the analysts' tools read it (not through the code under test)."""
    schema, name = relation.split(".")
    if warehouse.dialect == "duckdb":
        sql = "SELECT comment FROM duckdb_tables() WHERE schema_name = :s AND table_name = :t"
        return warehouse.scalar(sql, {"s": schema, "t": name})
    return warehouse.scalar("SELECT obj_description(to_regclass(:r), 'pg_class')", {"r": relation})


def column_comment(warehouse: Warehouse, relation: str, column: str) -> str | None:
    schema, name = relation.split(".")
    if warehouse.dialect == "duckdb":
        sql = (
            "SELECT comment FROM duckdb_columns() "
            "WHERE schema_name = :s AND table_name = :t AND column_name = :c"
        )
        return warehouse.scalar(sql, {"s": schema, "t": name, "c": column})
    sql = (
        "SELECT col_description(attrelid, attnum) FROM pg_attribute "
        "WHERE attrelid = to_regclass(:r) AND attname = :c"
    )
    return warehouse.scalar(sql, {"r": relation, "c": column})


class Statements:
    """Every statement the warehouse transactions run, and how many catalog reads."""

    def __init__(self) -> None:
        self.sql: list[str] = []
        self.reads = 0

    def clear(self) -> None:
        self.sql.clear()
        self.reads = 0

    def comments(self, relation: str | None = None) -> list[str]:
        return [
            s
            for s in self.sql
            if s.startswith("COMMENT ON")
            and (
                relation is None
                or s.startswith((f"COMMENT ON TABLE {relation} ", f"COMMENT ON COLUMN {relation}."))
            )
        ]


def _recording(original, record):
    def wrapper(self, sql, *args, **kwargs):
        record(sql)
        return original(self, sql, *args, **kwargs)

    return wrapper


@pytest.fixture
def statements(monkeypatch: pytest.MonkeyPatch) -> Iterator[Statements]:
    seen = Statements()

    def count_read(_sql: str) -> None:
        seen.reads += 1

    for cls in (warehouse_module._DuckDBTransaction, warehouse_module._PostgresTransaction):
        for method in ("execute", "execute_sql"):
            monkeypatch.setattr(cls, method, _recording(getattr(cls, method), seen.sql.append))
        for method in ("fetch_df", "fetch_rows"):
            monkeypatch.setattr(cls, method, _recording(getattr(cls, method), count_read))
    yield seen


@pytest.fixture
def warehouse(stores: dict[str, str]) -> Warehouse:
    return Warehouse(stores["warehouse"])


def test_ensure_tables_writes_the_specs_descriptions(warehouse: Warehouse) -> None:
    warehouse.ensure_tables()
    assert table_comment(warehouse, "core.signals") == CORE_SIGNALS.description
    signal_type = next(c for c in CORE_SIGNALS.columns if c.name == "signal_type")
    assert column_comment(warehouse, "core.signals", "signal_type") == signal_type.description
    # "an organization's tracked keywords": a quote inside the literal.
    assert "'" in RAW_TWEETS.description
    assert table_comment(warehouse, "raw.tweets") == RAW_TWEETS.description
    for column in RAW_TWEETS.columns:
        assert column_comment(warehouse, "raw.tweets", column.name) == column.description


def test_an_up_to_date_warehouse_costs_one_catalog_query_and_no_comment(
    warehouse: Warehouse, statements: Statements
) -> None:
    warehouse.ensure_tables()
    described = sum(bool(c.description) for c in CORE_SIGNALS.columns) + 1
    assert len(statements.comments("core.signals")) == described

    statements.clear()
    warehouse.ensure_tables()
    assert statements.comments() == []
    assert not [s for s in statements.sql if s.startswith(("CREATE TABLE", "ALTER"))]
    assert statements.reads == 1

    # One description edited in tables.py: one statement, for that column.
    edited = dataclasses.replace(
        CORE_SIGNALS,
        columns=tuple(
            dataclasses.replace(c, description="Edited.") if c.name == "signal_type" else c
            for c in CORE_SIGNALS.columns
        ),
    )
    statements.clear()
    warehouse.ensure_tables([edited])
    assert [s.split(" IS ")[0] for s in statements.comments()] == [
        'COMMENT ON COLUMN core.signals."signal_type"'
    ]
    assert column_comment(warehouse, "core.signals", "signal_type") == "Edited."

    # A comment changed by hand in the warehouse is put back; the rest is left alone.
    with warehouse.transaction() as tx:
        tx.execute_sql("COMMENT ON TABLE core.signals IS 'by hand'")
    statements.clear()
    warehouse.ensure_tables()
    assert len(statements.comments()) == 2  # the table and signal_type (back from "Edited.")
    assert table_comment(warehouse, "core.signals") == CORE_SIGNALS.description


def test_new_tables_and_columns_get_their_descriptions_quoted_safely(
    warehouse: Warehouse, statements: Statements
) -> None:
    probe = TableSpec(
        "core",
        "comment_probe",
        TRICKY,
        (Column("id", "text", "Key.", False), Column("note", "text", "")),
        primary_key=("id",),
    )
    warehouse.ensure_tables([probe])
    assert table_comment(warehouse, "core.comment_probe") == TRICKY
    assert column_comment(warehouse, "core.comment_probe", "id") == "Key."
    # An empty description writes nothing (nor clears a comment set by hand).
    assert column_comment(warehouse, "core.comment_probe", "note") is None

    added = dataclasses.replace(
        probe, columns=(*probe.columns, Column("extra", "bigint", f"Added: {TRICKY}"))
    )
    statements.clear()
    warehouse.ensure_tables([added])
    assert len(statements.comments()) == 1
    assert column_comment(warehouse, "core.comment_probe", "extra") == f"Added: {TRICKY}"


def test_models_carry_their_schema_yml_descriptions_after_any_build(
    warehouse: Warehouse, statements: Statements
) -> None:
    project = load_project()
    warehouse.ensure_tables()
    checked = {
        "account_scores": "trend",  # table
        "daily_account_signals": "signals",  # incremental
        "account_score_history": "score",  # history: incremental, full_refresh=false
    }

    def assert_documented() -> None:
        for name, column in checked.items():
            model = project.model(name)
            doc = next(c for c in model.columns if c.name == column)
            assert table_comment(warehouse, model.relation) == model.description.strip()
            assert column_comment(warehouse, model.relation, column) == doc.description.strip()

    first = {r.model.name: r.action for r in run_models(project, warehouse, as_of=AS_OF)}
    assert first["account_score_history"] == "created"
    assert_documented()

    # Incremental builds keep their table, and so its comments: nothing to write.
    statements.clear()
    again = {r.model.name: r.action for r in run_models(project, warehouse, as_of=AS_OF)}
    assert again["daily_account_signals"] == again["account_score_history"] == "incremental"
    assert statements.comments("intermediate.daily_account_signals") == []
    assert statements.comments("core.account_score_history") == []
    assert_documented()

    # A full refresh replaces the tables (CREATE ... AS drops comments); they are written again,
    # and a comment changed by hand on the kept history table is put back.
    with warehouse.transaction() as tx:
        tx.execute_sql("COMMENT ON TABLE core.account_score_history IS 'by hand'")
    run_models(project, warehouse, as_of=AS_OF, full_refresh=True)
    assert_documented()
