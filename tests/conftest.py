"""Shared fixtures: real DuckDB files, real PostgreSQL databases, the real sandbox over HTTP."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

REPO_ROOT = Path(__file__).resolve().parents[1]
SHARED = REPO_ROOT.parent / "shared"
PG_ADMIN_URL = os.environ.get(
    "DEVSIGNAL_TEST_PG_URL", "postgresql+psycopg2://postgres@127.0.0.1:5432/postgres"
)


def _pg_available() -> str | None:
    try:
        engine = sa.create_engine(PG_ADMIN_URL, connect_args={"connect_timeout": 3})
        with engine.connect() as conn:
            conn.execute(sa.text("SELECT 1"))
        engine.dispose()
        return None
    except Exception as exc:
        return f"{type(exc).__name__}: {exc}"


@pytest.fixture(scope="session")
def pg_server() -> str:
    """The admin URL of the PostgreSQL server; in CI its absence is a failure, not a skip."""
    problem = _pg_available()
    if problem:
        message = f"PostgreSQL not reachable at {PG_ADMIN_URL}: {problem}"
        if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
            pytest.fail(message)
        pytest.skip(message)
    return PG_ADMIN_URL


def fresh_pg_database(admin_url: str, prefix: str = "devsignal_test") -> Iterator[str]:
    """Create an empty PostgreSQL database, yield its URL, drop it afterwards."""
    name = f"{prefix}_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    try:
        yield admin_url.rsplit("/", 1)[0] + f"/{name}"
    finally:
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture
def pg_database(pg_server: str) -> Iterator[str]:
    """A fresh, empty PostgreSQL database for one test, dropped afterwards."""
    yield from fresh_pg_database(pg_server)


@pytest.fixture(params=["duckdb", pytest.param("postgres", marks=pytest.mark.postgres)])
def stores(
    request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> dict[str, str]:
    """Warehouse and control DB URLs for one test, on DuckDB+SQLite or on PostgreSQL for both."""
    monkeypatch.setenv("DEVSIGNAL_HOME", str(tmp_path / "home"))
    if request.param == "duckdb":
        urls = {
            "warehouse": f"duckdb:///{tmp_path / 'warehouse.duckdb'}",
            "control": f"sqlite:///{tmp_path / 'control.db'}",
        }
    else:
        url = request.getfixturevalue("pg_database")
        urls = {"warehouse": url, "control": url}
    monkeypatch.setenv("DEVSIGNAL_WAREHOUSE_URL", urls["warehouse"])
    monkeypatch.setenv("DEVSIGNAL_CONTROL_DB_URL", urls["control"])
    return {"dialect": request.param, **urls}
