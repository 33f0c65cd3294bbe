"""Turn a model into the SELECT one engine runs: render with the run's state, then transpile.

Models are written in DuckDB's dialect; PostgreSQL gets sqlglot's translation of the rendered SQL.
"""

from __future__ import annotations

from datetime import datetime

import sqlglot
import sqlglot.errors
from sqlglot import exp

from devsignal_pipelines.lib.constants import DIALECTS
from devsignal_pipelines.lib.sql_models.errors import ModelError
from devsignal_pipelines.lib.sql_models.project import Model, Project
from devsignal_pipelines.lib.sql_models.templating import RenderState, render


def compile_model(
    project: Project,
    model: Model,
    *,
    as_of: datetime,
    dialect: str = "duckdb",
    incremental: bool = False,
    pretty: bool = False,
) -> str:
    """The model's SELECT for `dialect`, with refs resolved to tables."""
    if dialect not in DIALECTS:
        raise ModelError(f"unknown dialect {dialect!r}; use one of {', '.join(DIALECTS)}")
    state = RenderState(
        resolve_ref=lambda name: project.model(name).relation,
        resolve_source=lambda schema, table: f"{schema}.{table}",
        this=model.relation,
        variables=project.variables,
        as_of=as_of,
        incremental=incremental,
    )
    sql = render(model.path, model.sql, state).strip().rstrip(";")
    if dialect == "duckdb" and not pretty:
        return sql
    try:
        tree = sqlglot.parse_one(sql, read="duckdb")
        if dialect != "duckdb":
            tree = tree.transform(_spell_out_group_by_all)
        return tree.sql(dialect=dialect, pretty=pretty, unsupported_level=sqlglot.ErrorLevel.RAISE)
    except sqlglot.errors.SqlglotError as exc:
        raise ModelError(f"cannot translate to {dialect}: {exc}", model.path) from exc


def _spell_out_group_by_all(node: exp.Expression) -> exp.Expression:
    """DuckDB's GROUP BY ALL as the positions of the non-aggregate select items (sqlglot keeps
    GROUP BY ALL as it is, which PostgreSQL does not understand)."""
    group = node.args.get("group") if isinstance(node, exp.Select) else None
    if group is None or not group.args.get("all"):
        return node
    positions = [
        exp.Literal.number(i)
        for i, item in enumerate(node.expressions, start=1)
        if not item.find(exp.AggFunc)
    ]
    node.set("group", exp.Group(expressions=positions) if positions else None)
    return node
