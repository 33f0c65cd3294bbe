"""Constants the CLI needs before any command runs (click choices), in a module that imports
nothing, so `devsignal --help` loads neither sqlglot nor the SQL model project."""

from __future__ import annotations

# The SQL dialects a model compiles to (lib/sql_models/compile.py).
DIALECTS = ("duckdb", "postgres")
