"""The dbt_like_sql model layer: SQL files with Jinja refs, built in DuckDB or PostgreSQL."""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from devsignal_pipelines.lib.sql_models.compile import DIALECTS, compile_model
from devsignal_pipelines.lib.sql_models.errors import ModelError
from devsignal_pipelines.lib.sql_models.project import (
    DEFAULT_PROJECT_DIR,
    ColumnDoc,
    Model,
    Project,
    load_project,
)
from devsignal_pipelines.lib.sql_models.schema_tests import SchemaTest, schema_tests

if TYPE_CHECKING:
    from devsignal_pipelines.lib.sql_models.materialize import BuildResult
    from devsignal_pipelines.lib.sql_models.runner import (
        TestResult,
        iter_run_models,
        parse_as_of,
        run_models,
        run_schema_tests,
    )

# Imported on first use: building needs the warehouse (DuckDB, pandas, SQLAlchemy), reading the
# project (`devsignal sql list`) does not.
_LAZY = {
    "BuildResult": "materialize",
    "TestResult": "runner",
    "iter_run_models": "runner",
    "parse_as_of": "runner",
    "run_models": "runner",
    "run_schema_tests": "runner",
}


def __getattr__(name: str) -> Any:
    if name not in _LAZY:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{_LAZY[name]}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_LAZY})


__all__ = [
    "DEFAULT_PROJECT_DIR",
    "DIALECTS",
    "BuildResult",
    "ColumnDoc",
    "Model",
    "ModelError",
    "Project",
    "SchemaTest",
    "TestResult",
    "compile_model",
    "iter_run_models",
    "load_project",
    "parse_as_of",
    "run_models",
    "run_schema_tests",
    "schema_tests",
]
