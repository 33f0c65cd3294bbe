"""Load dbt_like_sql/: models, their docs and tests, the vars; check everything at load time.

Each `models/<layer>/<name>.sql` is the table `<layer>.<name>`. Loading renders every model
once to learn its refs, sources and config, checks the SQL parses (DuckDB dialect), that every
ref and source exists, that there is no cycle, and that schema.yml documents only real models.
"""

from __future__ import annotations

import graphlib
import re
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import sqlglot
import sqlglot.errors
import yaml

from devsignal_pipelines.lib.sql_models.errors import ModelError
from devsignal_pipelines.lib.sql_models.templating import MATERIALIZATIONS, RenderState, render
from devsignal_pipelines.lib.stores.tables import WAREHOUSE_TABLES

DEFAULT_PROJECT_DIR = Path(__file__).resolve().parents[3] / "dbt_like_sql"
# Where load-time rendering puts "now"; runs use their own as-of time.
_LOAD_AS_OF = datetime(2000, 1, 1, tzinfo=UTC)
SOURCES = {(spec.schema, spec.name) for spec in WAREHOUSE_TABLES}
COLUMN_TYPES = ("text", "bigint", "double", "boolean", "date", "timestamptz", "json")


@dataclass(frozen=True)
class ColumnDoc:
    name: str
    description: str
    data_type: str
    tests: tuple[Any, ...] = ()


@dataclass
class Model:
    name: str
    layer: str
    path: Path
    sql: str  # the Jinja source
    materialized: str = "table"
    unique_key: tuple[str, ...] = ()
    full_refresh: bool = True  # False: a full refresh keeps the table (append-only history)
    # Planner settings for this model's transaction on PostgreSQL (SET LOCAL), e.g. when its
    # estimates for chained CTEs are far off: {"enable_nestloop": "off"}.
    postgres_settings: dict[str, str] = field(default_factory=dict)
    refs: tuple[str, ...] = ()
    sources: tuple[tuple[str, str], ...] = ()
    description: str = ""
    columns: tuple[ColumnDoc, ...] = ()
    tests: tuple[Any, ...] = ()  # model-level tests from schema.yml

    @property
    def relation(self) -> str:
        return f"{self.layer}.{self.name}"


@dataclass
class Project:
    path: Path
    models: dict[str, Model]
    variables: dict[str, Any] = field(default_factory=dict)

    def order(self, select: list[str] | None = None) -> list[Model]:
        """Models in dependency order (all of them, or the selected names)."""
        graph = {name: set(model.refs) for name, model in self.models.items()}
        ordered = [self.models[n] for n in graphlib.TopologicalSorter(graph).static_order()]
        if select is None:
            return ordered
        unknown = set(select) - set(self.models)
        if unknown:
            raise ModelError(
                f"unknown model(s) {sorted(unknown)}; `devsignal sql list` shows the models"
            )
        return [m for m in ordered if m.name in select]

    def downstream(self, name: str) -> list[Model]:
        """Models that depend on `name`, directly or not, in dependency order."""
        found: set[str] = set()
        frontier = {name}
        while frontier:
            frontier = {m.name for m in self.models.values() if frontier & set(m.refs)} - found
            found |= frontier
        return [m for m in self.order() if m.name in found]

    def model(self, name: str) -> Model:
        if name not in self.models:
            raise ModelError(f"unknown model {name!r}; `devsignal sql list` shows the models")
        return self.models[name]


def load_project(path: Path | str = DEFAULT_PROJECT_DIR) -> Project:
    path = Path(path)
    variables = _read_yaml(path / "project.yml").get("vars") or {}
    models: dict[str, Model] = {}
    for sql_path in sorted((path / "models").glob("*/*.sql")):
        name, layer = sql_path.stem, sql_path.parent.name
        if name in models:
            raise ModelError(
                f"model name {name!r} is also used by {models[name].path}; "
                "ref() finds models by name, so names must be unique across layers",
                sql_path,
            )
        models[name] = _parse_model(sql_path, name, layer, variables)
    _attach_docs(path, models)
    _check_graph(models)
    return Project(path=path, models=models, variables=variables)


def _parse_model(path: Path, name: str, layer: str, variables: dict[str, Any]) -> Model:
    text = path.read_text()
    state = RenderState(
        resolve_ref=lambda n: f"__ref__.{n}",
        resolve_source=lambda s, t: f"{s}.{t}",
        this=f"{layer}.{name}",
        variables=variables,
        as_of=_LOAD_AS_OF,
    )
    rendered = render(path, text, state)
    # Both branches of `{% if is_incremental() %}`: their refs are dependencies too, and a
    # syntax error in the incremental branch should not wait for the second run to show.
    incremental_state = replace(state, incremental=True, refs=[], sources=[], config={})
    rendered_incremental = render(path, text, incremental_state)
    state.refs += incremental_state.refs
    state.sources += incremental_state.sources
    for schema, table in state.sources:
        if (schema, table) not in SOURCES:
            raise ModelError(
                f"source({schema!r}, {table!r}) is not a warehouse table; sources are "
                + ", ".join(sorted(f"{s}.{t}" for s, t in SOURCES)),
                path,
                _line_of(text, table),
            )
    check_syntax(path, rendered, text)
    if rendered_incremental != rendered:
        check_syntax(path, rendered_incremental, text)
    config = state.config
    materialized = config.get("materialized", "table")
    if materialized not in MATERIALIZATIONS:
        raise ModelError(
            f"materialized={materialized!r}; use one of {', '.join(MATERIALIZATIONS)}",
            path,
            _line_of(text, "materialized"),
        )
    unique_key = config.get("unique_key") or ()
    unique_key = (unique_key,) if isinstance(unique_key, str) else tuple(unique_key)
    if materialized == "incremental" and not unique_key:
        raise ModelError(
            "an incremental model needs config(unique_key=[...]): the rows it returns replace "
            "the existing rows with the same key",
            path,
            _line_of(text, "incremental"),
        )
    settings = config.get("postgres_settings") or {}
    if not isinstance(settings, dict) or not all(
        re.fullmatch(r"[a-z_][a-z0-9_.]*", str(k)) for k in settings
    ):
        raise ModelError(
            "postgres_settings must map PostgreSQL setting names to values, "
            "e.g. {'enable_nestloop': 'off'}",
            path,
            _line_of(text, "postgres_settings"),
        )
    return Model(
        name=name,
        layer=layer,
        path=path,
        sql=text,
        materialized=materialized,
        unique_key=unique_key,
        full_refresh=bool(config.get("full_refresh", True)),
        postgres_settings={str(k): str(v) for k, v in settings.items()},
        refs=tuple(dict.fromkeys(state.refs)),
        sources=tuple(dict.fromkeys(state.sources)),
    )


def check_syntax(path: Path, sql: str, source: str | None = None) -> None:
    """Parse the rendered SQL as DuckDB would. A syntax error names the model file's line (the
    first source line that reads like the failing rendered line) and the rendered position."""
    try:
        statements = sqlglot.parse(sql, read="duckdb")
    except sqlglot.errors.ParseError as exc:
        detail = exc.errors[0] if exc.errors else {}
        rendered_line = detail.get("line")
        line = None
        if source is not None and isinstance(rendered_line, int):
            failing = (sql.splitlines()[rendered_line - 1 : rendered_line] or [""])[0].strip()
            line = _line_of(source, failing) if failing else None
        raise ModelError(
            f"SQL syntax error (rendered SQL line {rendered_line}, column "
            f"{detail.get('col')}): {detail.get('description', exc)}; "
            f"`devsignal sql compile {path.stem}` shows the rendered SQL",
            path,
            line,
        ) from exc
    if len([s for s in statements if s is not None]) != 1:
        raise ModelError("a model is exactly one SELECT statement (no trailing `;` parts)", path)


def _attach_docs(path: Path, models: dict[str, Model]) -> None:
    for schema_path in sorted((path / "models").glob("**/schema.yml")):
        for entry in _read_yaml(schema_path).get("models") or []:
            name = entry.get("name")
            if name not in models:
                raise ModelError(
                    f"schema.yml documents model {name!r}, which has no .sql file", schema_path
                )
            columns = []
            for column in entry.get("columns") or []:
                data_type = column.get("data_type")
                if data_type not in COLUMN_TYPES:
                    raise ModelError(
                        f"column {name}.{column.get('name')} needs data_type, one of "
                        f"{', '.join(COLUMN_TYPES)} (got {data_type!r})",
                        schema_path,
                    )
                columns.append(
                    ColumnDoc(
                        name=column["name"],
                        description=(column.get("description") or "").strip(),
                        data_type=data_type,
                        tests=tuple(column.get("tests") or column.get("data_tests") or ()),
                    )
                )
            model = models[name]
            model.description = (entry.get("description") or "").strip()
            model.columns = tuple(columns)
            model.tests = tuple(entry.get("tests") or entry.get("data_tests") or ())


def _check_graph(models: dict[str, Model]) -> None:
    for model in models.values():
        for ref in model.refs:
            if ref not in models:
                raise ModelError(
                    f"ref({ref!r}) names no model; models are {', '.join(sorted(models))}",
                    model.path,
                    _line_of(model.sql, ref),
                )
    graph = {name: set(model.refs) for name, model in models.items()}
    try:
        graphlib.TopologicalSorter(graph).prepare()
    except graphlib.CycleError as exc:
        cycle = exc.args[1]
        raise ModelError(
            "models ref each other in a cycle: " + " -> ".join(cycle),
            models[cycle[0]].path,
        ) from exc


def _read_yaml(path: Path) -> dict[str, Any]:
    if not path.exists():
        return {}
    try:
        return yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        raise ModelError(
            f"invalid YAML: {exc}", path, mark.line + 1 if mark is not None else None
        ) from exc


def _line_of(text: str, needle: str) -> int | None:
    for number, line in enumerate(text.splitlines(), start=1):
        if needle in line:
            return number
    return None
