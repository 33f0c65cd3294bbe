"""Build one model in the warehouse, atomically: a failed build leaves the previous table in place.

table        CREATE TABLE <name>__build AS <select>; drop the old one; rename — one transaction.
view         DROP VIEW; CREATE VIEW — one transaction.
incremental  first run or full refresh: as a table. Otherwise the SELECT (with is_incremental()
             true) goes to a temporary table, the rows with the same unique_key values are
             deleted and the new rows inserted (delete+insert) — one transaction.
             When the model now returns other columns than the table has, it is rebuilt as a
             table; with config(full_refresh=false) (append-only history) that is an error
             instead, and a full refresh keeps the table too.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime

from devsignal_pipelines.lib.sql_models.compile import compile_model
from devsignal_pipelines.lib.sql_models.errors import ModelError
from devsignal_pipelines.lib.sql_models.project import Model, Project
from devsignal_pipelines.lib.stores.comments import write_comments
from devsignal_pipelines.lib.stores.warehouse import WarehouseTransaction


@dataclass(frozen=True)
class BuildResult:
    model: Model
    action: str  # created | replaced | incremental | view
    rows: int | None  # None for views
    seconds: float
    # What an after_build hook added inside the model's transaction (e.g. events emitted).
    extra: Mapping[str, object] = field(default_factory=dict)


def build_model(
    tx: WarehouseTransaction,
    project: Project,
    model: Model,
    *,
    as_of: datetime,
    full_refresh: bool = False,
) -> BuildResult:
    started = time.perf_counter()
    tx.execute_sql(f"CREATE SCHEMA IF NOT EXISTS {model.layer}")
    if tx.dialect == "postgres":
        for name, value in model.postgres_settings.items():
            tx.execute_sql(f"SET LOCAL {name} = '{value.replace(chr(39), chr(39) * 2)}'")
    existing = _object_type(tx, model.layer, model.name)
    # PostgreSQL's DROP ... CASCADE takes the views built on the old relation with it.
    dropped_views = (
        [
            view
            for view in project.downstream(model.name)
            if view.materialized == "view" and _object_type(tx, view.layer, view.name)
        ]
        if tx.dialect == "postgres" and existing
        else []
    )
    incremental = (
        model.materialized == "incremental"
        and existing == "TABLE"
        and not (full_refresh and model.full_refresh)
    )
    if model.materialized == "view":
        if existing:
            tx.execute_sql(f"DROP {existing} {model.relation}{_cascade(tx)}")
        sql = compile_model(project, model, as_of=as_of, dialect=tx.dialect)
        tx.execute_sql(f"CREATE VIEW {model.relation} AS {sql}")
        action = "view"
    elif incremental and _merge_increment(tx, project, model, as_of):
        action = "incremental"
    else:
        build = f"{model.relation}__build"
        sql = compile_model(project, model, as_of=as_of, dialect=tx.dialect)
        tx.execute_sql(f"DROP TABLE IF EXISTS {build}")
        tx.execute_sql(f"CREATE TABLE {build} AS {sql}")
        if existing:
            tx.execute_sql(f"DROP {existing} {model.relation}{_cascade(tx)}")
        tx.execute_sql(f"ALTER TABLE {build} RENAME TO {model.name}")
        # An incremental merge that declined: the model's columns changed since the table was built.
        action = (
            "created"
            if not existing
            else "rebuilt (columns changed)"
            if incremental
            else "replaced"
        )
    _check_documented_columns(tx, model)
    if model.materialized != "view":
        # schema.yml's descriptions into the catalog (persist_docs); a rebuilt table has none.
        write_comments(
            tx, model.relation, model.description, {c.name: c.description for c in model.columns}
        )
    for view in dropped_views:
        view_sql = compile_model(project, view, as_of=as_of, dialect=tx.dialect)
        tx.execute_sql(f"DROP VIEW IF EXISTS {view.relation} CASCADE")
        tx.execute_sql(f"CREATE VIEW {view.relation} AS {view_sql}")
    rows = None
    if model.materialized != "view" and tx.dialect == "postgres":
        # Fresh statistics, so the models built on this one get sensible plans.
        tx.execute_sql(f"ANALYZE {model.relation}")
    if model.materialized != "view":
        rows = int(tx.fetch_df(f"SELECT count(*) AS n FROM {model.relation}").at[0, "n"])
    return BuildResult(model, action, rows, time.perf_counter() - started)


def _merge_increment(
    tx: WarehouseTransaction, project: Project, model: Model, as_of: datetime
) -> bool:
    """Delete+insert the increment; False (nothing done) when the model's columns changed and
    the table may be rebuilt instead."""
    increment = f"{model.layer}__{model.name}__increment"
    sql = compile_model(project, model, as_of=as_of, dialect=tx.dialect, incremental=True)
    tx.execute_sql(f"DROP TABLE IF EXISTS {increment}")
    tx.execute_sql(f"CREATE TEMP TABLE {increment} AS {sql}")
    new_columns = _columns(tx, f"SELECT * FROM {increment} LIMIT 0")
    table_columns = _columns(tx, f"SELECT * FROM {model.relation} LIMIT 0")
    if new_columns != table_columns and model.full_refresh:
        tx.execute_sql(f"DROP TABLE {increment}")
        return False
    if new_columns != table_columns:
        raise ModelError(
            f"{model.relation} has columns {table_columns} but the model now returns "
            f"{new_columns}, and config(full_refresh=false) forbids rebuilding it: migrate the "
            "table by hand (ALTER TABLE) or drop it to start its history again",
            model.path,
        )
    keys = ", ".join(model.unique_key)
    matches = " AND ".join(f"t.{k} IS NOT DISTINCT FROM k.{k}" for k in model.unique_key)
    columns = ", ".join(new_columns)
    tx.execute_sql(
        f"DELETE FROM {model.relation} AS t USING (SELECT DISTINCT {keys} FROM {increment}) AS k "
        f"WHERE {matches}"
    )
    tx.execute_sql(f"INSERT INTO {model.relation} ({columns}) SELECT {columns} FROM {increment}")
    tx.execute_sql(f"DROP TABLE {increment}")
    return True


def _object_type(tx: WarehouseTransaction, schema: str, name: str) -> str | None:
    found = tx.fetch_df(
        "SELECT table_type FROM information_schema.tables WHERE table_schema = :s AND table_name = :n",
        {"s": schema, "n": name},
    )
    if found.empty:
        return None
    return "VIEW" if found.at[0, "table_type"] == "VIEW" else "TABLE"


def _columns(tx: WarehouseTransaction, sql: str) -> list[str]:
    return list(tx.fetch_df(sql).columns)


def _cascade(tx: WarehouseTransaction) -> str:
    return " CASCADE" if tx.dialect == "postgres" else ""


def _check_documented_columns(tx: WarehouseTransaction, model: Model) -> None:
    if not model.columns:
        return
    actual = _columns(tx, f"SELECT * FROM {model.relation} LIMIT 0")
    documented = [c.name for c in model.columns]
    if actual != documented:
        raise ModelError(
            f"the model returns columns {actual} but schema.yml documents {documented}; "
            "make them the same (names and order) so the docs stay true",
            model.path,
        )
