"""schema.yml tests (not_null, unique, accepted_values, relationships, unique_combination_of_columns)
as SQL that counts failing rows; each becomes a Dagster asset check."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from devsignal_pipelines.lib.sql_models.errors import ModelError
from devsignal_pipelines.lib.sql_models.project import Model, Project

_RELATION = re.compile(r"""^\s*(ref|source)\(\s*['"](\w+)['"]\s*(?:,\s*['"](\w+)['"]\s*)?\)\s*$""")


@dataclass(frozen=True)
class SchemaTest:
    name: str  # the asset check name
    description: str
    sql: str  # SELECT count(*) of failing rows


def schema_tests(project: Project, model: Model) -> list[SchemaTest]:
    tests = [
        _column_test(project, model, column.name, test)
        for column in model.columns
        for test in column.tests
    ]
    tests += [_model_test(model, test) for test in model.tests]
    names = [t.name for t in tests]
    duplicated = {n for n in names if names.count(n) > 1}
    if duplicated:
        raise ModelError(f"schema.yml repeats the test(s) {sorted(duplicated)}", model.path)
    return tests


def _split(test: Any) -> tuple[str, dict[str, Any]]:
    if isinstance(test, str):
        return test, {}
    if isinstance(test, dict) and len(test) == 1:
        ((kind, args),) = test.items()
        return kind, dict(args or {})
    raise ModelError(f"cannot read the test {test!r}: write `- not_null` or `- kind: {{args}}`")


def _column_test(project: Project, model: Model, column: str, test: Any) -> SchemaTest:
    kind, args = _split(test)
    table = model.relation
    if kind == "not_null":
        sql = f"SELECT count(*) FROM {table} WHERE {column} IS NULL"
        description = f"{column} is never NULL."
    elif kind == "unique":
        sql = (
            f"SELECT count(*) FROM (SELECT {column} FROM {table} WHERE {column} IS NOT NULL "
            f"GROUP BY {column} HAVING count(*) > 1) d"
        )
        description = f"No two rows share {column}."
    elif kind == "accepted_values":
        values = args.get("values")
        if not values:
            raise ModelError(f"accepted_values on {model.name}.{column} needs values: [...]")
        listed = ", ".join(_literal(v) for v in values)
        sql = f"SELECT count(*) FROM {table} WHERE {column} IS NOT NULL AND {column} NOT IN ({listed})"
        description = f"{column} is one of {', '.join(map(str, values))}."
    elif kind == "relationships":
        parent, field = _relation(project, model, args.get("to", "")), args.get("field")
        if not field:
            raise ModelError(f"relationships on {model.name}.{column} needs field: <column>")
        sql = (
            f"SELECT count(*) FROM {table} c WHERE c.{column} IS NOT NULL AND NOT EXISTS "
            f"(SELECT 1 FROM {parent} p WHERE p.{field} = c.{column})"
        )
        description = f"Every {column} exists in {parent}.{field}."
    else:
        raise ModelError(
            f"unknown test {kind!r} on {model.name}.{column}; use not_null, unique, "
            "accepted_values or relationships",
            model.path,
        )
    return SchemaTest(name=f"{kind}_{column}", description=description, sql=sql)


def _model_test(model: Model, test: Any) -> SchemaTest:
    kind, args = _split(test)
    if kind != "unique_combination_of_columns":
        raise ModelError(
            f"unknown model test {kind!r} on {model.name}; use unique_combination_of_columns",
            model.path,
        )
    columns = ", ".join(args.get("combination_of_columns") or [])
    if not columns:
        raise ModelError(f"{kind} on {model.name} needs combination_of_columns: [...]")
    return SchemaTest(
        name=kind,
        description=f"No two rows share ({columns}).",
        sql=(
            f"SELECT count(*) FROM (SELECT {columns} FROM {model.relation} "
            f"GROUP BY {columns} HAVING count(*) > 1) d"
        ),
    )


def _relation(project: Project, model: Model, to: str) -> str:
    match = _RELATION.match(to)
    if not match:
        raise ModelError(
            f"relationships `to: {to}` on {model.name}: write ref('model') or source('schema', 'table')",
            model.path,
        )
    kind, first, second = match.groups()
    if kind == "ref":
        return project.model(first).relation
    if second is None:
        raise ModelError(f"source() needs schema and table in {to!r}", model.path)
    return f"{first}.{second}"


def _literal(value: Any) -> str:
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, int | float):
        return repr(value)
    return "'" + str(value).replace("'", "''") + "'"
