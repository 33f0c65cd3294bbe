"""The dbt_like_sql model layer: SQL files with Jinja refs, built in DuckDB or PostgreSQL."""

from devsignal_pipelines.lib.sql_models.compile import DIALECTS, compile_model
from devsignal_pipelines.lib.sql_models.errors import ModelError
from devsignal_pipelines.lib.sql_models.materialize import BuildResult
from devsignal_pipelines.lib.sql_models.project import (
    DEFAULT_PROJECT_DIR,
    ColumnDoc,
    Model,
    Project,
    load_project,
)
from devsignal_pipelines.lib.sql_models.runner import (
    TestResult,
    iter_run_models,
    parse_as_of,
    run_models,
    run_schema_tests,
)
from devsignal_pipelines.lib.sql_models.schema_tests import SchemaTest, schema_tests

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
