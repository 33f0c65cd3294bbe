"""Table and column descriptions written into the warehouse catalog (`COMMENT ON`), as dbt's
`persist_docs` does, so analysts in the duckdb CLI or psql see them (DuckDB: `comment` in
duckdb_tables() / duckdb_columns(); PostgreSQL: \\dt+ / \\d+, obj_description / col_description).

Only what differs is written: the current comments come from one catalog query, which
`Warehouse.ensure_tables` shares with its own check of what exists, so an up-to-date warehouse
costs no statement. A description that is empty leaves the catalog's comment as it is.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, NamedTuple

if TYPE_CHECKING:
    from devsignal_pipelines.lib.stores.warehouse import WarehouseTransaction

_log = logging.getLogger(__name__)
_warned: set[str] = set()


@dataclass
class CatalogTable:
    """A relation as the catalog has it: its columns (in no particular order) and comments."""

    is_table: bool  # False for views: their comments are not managed here
    owned: bool  # PostgreSQL: COMMENT needs the table's owner; always True on DuckDB
    comment: str | None = None
    columns: dict[str, str | None] = field(default_factory=dict)  # column -> comment


def _in_list(values: Sequence[str]) -> str:
    return ", ".join(quote_literal(v) for v in values)


def read_catalog(
    tx: WarehouseTransaction, schemas: Sequence[str], table: str | None = None
) -> dict[tuple[str, str], CatalogTable]:
    """Every table and view in `schemas` (or only `table` in them) with its columns and comments,
    in one catalog query."""
    if tx.dialect == "duckdb":
        # Columns, then one row per table (column_name NULL) with its comment: a UNION is
        # cheaper than joining the two catalog functions.
        where = f"database_name = current_database() AND schema_name IN ({_in_list(schemas)})"
        if table is not None:
            where += " AND table_name = :t"
        sql = (
            "SELECT schema_name, table_name, column_name, FALSE AS is_table, TRUE AS owned, "
            f"NULL AS table_comment, comment AS column_comment FROM duckdb_columns() WHERE {where} "
            "UNION ALL SELECT schema_name, table_name, NULL, TRUE, TRUE, comment, NULL "
            f"FROM duckdb_tables() WHERE {where}"
        )
    else:
        sql = (
            "SELECT n.nspname AS schema_name, c.relname AS table_name, a.attname AS column_name, "
            "c.relkind IN ('r', 'p') AS is_table, pg_has_role(c.relowner, 'USAGE') AS owned, "
            "td.description AS table_comment, cd.description AS column_comment "
            "FROM pg_catalog.pg_class c "
            "JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace "
            "JOIN pg_catalog.pg_attribute a "
            "ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped "
            "LEFT JOIN pg_catalog.pg_description td ON td.objoid = c.oid "
            "AND td.classoid = 'pg_catalog.pg_class'::regclass AND td.objsubid = 0 "
            "LEFT JOIN pg_catalog.pg_description cd ON cd.objoid = c.oid "
            "AND cd.classoid = 'pg_catalog.pg_class'::regclass AND cd.objsubid = a.attnum "
            f"WHERE c.relkind IN ('r', 'p', 'v', 'm', 'f') AND n.nspname IN ({_in_list(schemas)})"
        )
        if table is not None:
            sql += " AND c.relname = :t"
    catalog: dict[tuple[str, str], CatalogTable] = {}
    # Plain tuples (no DataFrame): a few hundred rows, read at every run.
    rows = [
        row
        for batch in tx.fetch_rows(sql, None if table is None else {"t": table})
        for row in batch
    ]
    for schema, name, column, is_table, owned, table_comment, column_comment in rows:
        entry = catalog.get((schema, name))
        if entry is None:
            entry = catalog[(schema, name)] = CatalogTable(False, bool(owned))
        if is_table:
            entry.is_table, entry.comment = True, _text(table_comment)
        if isinstance(column, str):
            entry.columns[column] = _text(column_comment)
    return catalog


class Comment(NamedTuple):
    target: str  # TABLE core.signals | COLUMN core.signals."signal_type"
    text: str


def changed_comments(
    qualified_name: str,
    description: str | None,
    columns: Mapping[str, str | None],
    current: CatalogTable | None,
) -> list[Comment]:
    """The comments that differ between these descriptions and the catalog's.

    `current` is the table as the catalog had it (None: created since, so no comment yet);
    columns it lacks are taken as new ones without a comment. Empty descriptions are skipped.
    """
    if current is not None and not current.is_table:
        return []
    changed = []
    wanted = (description or "").strip()
    if wanted and (current is None or current.comment != wanted):
        changed.append(Comment(f"TABLE {qualified_name}", wanted))
    for column, text in columns.items():
        wanted = (text or "").strip()
        if wanted and (current is None or current.columns.get(column) != wanted):
            changed.append(Comment(f"COLUMN {qualified_name}.{quote_identifier(column)}", wanted))
    if changed and current is not None and not current.owned:
        # COMMENT needs the owner: a table another role owns keeps its comments (once per process).
        if qualified_name not in _warned:
            _warned.add(qualified_name)
            _log.warning(
                "%s is owned by another role: its descriptions are not written to the catalog",
                qualified_name,
            )
        return []
    return changed


def apply_comments(tx: WarehouseTransaction, comments: Sequence[Comment]) -> int:
    """Run one COMMENT statement per comment; returns how many ran."""
    for comment in comments:
        if tx.dialect == "postgres":
            # psycopg2 quotes the value client-side (COMMENT takes no server-side parameter);
            # a literal through execute_sql would have its `%` read as a placeholder.
            tx.execute(f"COMMENT ON {comment.target} IS :comment", {"comment": comment.text})
        else:
            # As written: DuckDB's execute would bind a `$name` or `:name` found in the text.
            tx.execute_sql(f"COMMENT ON {comment.target} IS {quote_literal(comment.text)}")
    return len(comments)


def write_comments(
    tx: WarehouseTransaction,
    qualified_name: str,
    description: str | None,
    columns: Mapping[str, str | None],
) -> int:
    """Set the comments of the table `qualified_name` and of its columns to these descriptions:
    one catalog query, then a COMMENT statement only where the comment differs. Returns how
    many ran."""
    schema, name = qualified_name.split(".")
    current = read_catalog(tx, [schema], name).get((schema, name))
    if current is None:
        return 0  # not there: nothing to comment on
    present = {c: text for c, text in columns.items() if c in current.columns}
    return apply_comments(tx, changed_comments(qualified_name, description, present, current))


def quote_literal(text: str) -> str:
    """A SQL string literal (standard SQL: a single quote is doubled; no backslash escapes)."""
    return "'" + text.replace("'", "''") + "'"


def quote_identifier(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _text(value: object) -> str | None:
    return value if isinstance(value, str) else None
