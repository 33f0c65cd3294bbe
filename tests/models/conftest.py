"""Session fixtures for the model tests: generated inputs, and every model built on DuckDB and on
PostgreSQL over them (several weekly scoring runs, one repeated to prove it is idempotent)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path

import pandas as pd
import pytest

from devsignal_pipelines.lib.sql_models import Project, load_project, run_models
from devsignal_pipelines.lib.stores.tables import (
    CORE_COMPANIES,
    CORE_CONTACTS,
    CORE_DEALS,
    CORE_SIGNALS,
)
from devsignal_pipelines.lib.stores.warehouse import Warehouse
from devsignal_pipelines.sandbox.analytics_world import generate_analytics_inputs
from tests.conftest import fresh_pg_database

ANCHOR = datetime.fromisoformat("2026-11-20T00:00:00+00:00")
AS_OF = ANCHOR
# Scoring-only runs before the full run at AS_OF; the last is run twice (idempotence).
EARLIER_SCORING = [ANCHOR - timedelta(days=days) for days in (35, 21, 14, 7, 7)]
SCORING_RUNS = [*EARLIER_SCORING, AS_OF]
SCORING_MODELS = ["daily_account_signals", "account_score_snapshot", "account_score_history"]
SPECS = {
    "core.signals": CORE_SIGNALS,
    "core.companies": CORE_COMPANIES,
    "core.contacts": CORE_CONTACTS,
    "core.deals": CORE_DEALS,
}


@pytest.fixture(scope="session")
def inputs() -> dict[str, pd.DataFrame]:
    return generate_analytics_inputs(seed=5, accounts=300, signals=30_000, anchor=ANCHOR)


@pytest.fixture(scope="session")
def project() -> Project:
    return load_project()


def load_inputs(warehouse: Warehouse, frames: dict[str, pd.DataFrame]) -> None:
    warehouse.ensure_tables()
    with warehouse.transaction() as tx:
        for name, frame in frames.items():
            tx.merge(SPECS[name], frame)


def build_all(warehouse: Warehouse, project: Project, frames: dict[str, pd.DataFrame]) -> Warehouse:
    load_inputs(warehouse, frames)
    for as_of in EARLIER_SCORING:
        run_models(project, warehouse, select=SCORING_MODELS, as_of=as_of)
    run_models(project, warehouse, as_of=AS_OF)
    return warehouse


@pytest.fixture(scope="session")
def pg_session_database(pg_server: str) -> Iterator[str]:
    """One fresh PostgreSQL database for the whole session (the builds are the expensive part)."""
    yield from fresh_pg_database(pg_server, "devsignal_models")


@pytest.fixture
def pg_fresh_database(pg_server: str) -> Iterator[str]:
    yield from fresh_pg_database(pg_server, "devsignal_models")


@pytest.fixture(scope="session")
def duckdb_built(tmp_path_factory: pytest.TempPathFactory, project: Project, inputs) -> Warehouse:
    path: Path = tmp_path_factory.mktemp("models") / "warehouse.duckdb"
    return build_all(Warehouse(f"duckdb:///{path}"), project, inputs)


@pytest.fixture(scope="session")
def postgres_built(pg_session_database: str, project: Project, inputs) -> Warehouse:
    return build_all(Warehouse(pg_session_database), project, inputs)


@pytest.fixture(params=["duckdb", pytest.param("postgres", marks=pytest.mark.postgres)])
def built(request: pytest.FixtureRequest) -> Warehouse:
    """The warehouse with every model built, on each engine."""
    return request.getfixturevalue(f"{request.param}_built")
