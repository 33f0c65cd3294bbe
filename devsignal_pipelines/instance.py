"""The one Dagster instance the demo, `devsignal sync` and `devsignal dev` share: $DEVSIGNAL_HOME/dagster."""

from __future__ import annotations

import os

import dagster as dg

from devsignal_pipelines.settings import Settings, load_settings

# SQLite run/event storage under DEVSIGNAL_HOME (see deploy/dagster.yaml for PostgreSQL storage).
# DuckDB has one writer per file, so the warehouse pool runs one step at a time there.
_MANAGED = (
    "# Written by devsignal for this warehouse; delete this line to manage the file yourself."
)
_DAGSTER_YAML = """\
{managed}
telemetry:
  enabled: false
concurrency:
  pools:
    granularity: op
    default_limit: {pool_limit}
"""


def ensure_dagster_home(settings: Settings | None = None) -> Settings:
    """Create $DEVSIGNAL_HOME/dagster with its dagster.yaml and point DAGSTER_HOME at it.

    The file is rewritten while it is ours, so switching the warehouse between DuckDB and
    PostgreSQL also switches the pool limit; a file without the marker line is the operator's.
    """
    settings = settings or load_settings()
    settings.dagster_home.mkdir(parents=True, exist_ok=True)
    config = settings.dagster_home / "dagster.yaml"
    wanted = _DAGSTER_YAML.format(
        managed=_MANAGED, pool_limit=1 if settings.warehouse_is_duckdb else 1000
    )
    if not config.exists() or (
        config.read_text().startswith(_MANAGED) and config.read_text() != wanted
    ):
        config.write_text(wanted)
    os.environ["DAGSTER_HOME"] = str(settings.dagster_home)
    return settings


def get_instance(settings: Settings | None = None) -> dg.DagsterInstance:
    ensure_dagster_home(settings)
    return dg.DagsterInstance.get()
