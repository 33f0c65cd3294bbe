"""The analysts' read path: Parquet versions and a views file, swapped atomically."""

from __future__ import annotations

import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import duckdb
import pytest

from devsignal_pipelines.lib.stores.published import VIEWS_FILE, publish, read_manifest
from devsignal_pipelines.lib.stores.warehouse import Warehouse
from tests.analyst_sessions import ReaderProcess
from tests.conftest import REPO_ROOT


@pytest.fixture
def warehouse(tmp_path: Path) -> Warehouse:
    warehouse = Warehouse(f"duckdb:///{tmp_path / 'warehouse.duckdb'}")
    with warehouse.transaction() as tx:
        for schema in ("raw", "intermediate", "core", "analytics"):
            tx.execute_sql(f"CREATE SCHEMA {schema}")
        tx.execute_sql(
            "CREATE TABLE core.signals AS SELECT 's' || i AS signal_id, i % 3 AS score, "
            "json_object('user', 'u' || i) AS metadata FROM range(1000) t(i)"
        )
        tx.execute_sql("CREATE TABLE analytics.trends AS SELECT 'x' AS day, 5 AS n")
        tx.execute_sql("CREATE TABLE raw.tweets AS SELECT 'payload' AS body")
        tx.execute_sql("CREATE TABLE intermediate.daily AS SELECT 1 AS n")
    return warehouse


@pytest.fixture
def directory(tmp_path: Path) -> Path:
    return tmp_path / "published"


def _read(views: Path, sql: str) -> list[tuple]:
    with duckdb.connect(str(views), read_only=True) as con:
        return con.execute(sql).fetchall()


def _files(directory: Path, table: str) -> list[str]:
    return sorted(p.name for p in (directory / Path(*table.split("."))).glob("*.parquet"))


def test_publish_exports_the_core_and_analytics_tables_only(warehouse, directory) -> None:
    report = publish(warehouse, directory)
    assert sorted(report.written) == ["analytics.trends", "core.signals"]
    views = directory / VIEWS_FILE
    assert _read(views, "SELECT count(*), sum(score) FROM core.signals") == [(1000, 999)]
    assert _read(views, "SELECT metadata->>'user' FROM core.signals WHERE signal_id = 's7'") == [
        ("u7",)
    ]
    relations = _read(
        views,
        "SELECT schema_name || '.' || view_name FROM duckdb_views() WHERE NOT internal ORDER BY 1",
    )
    assert relations == [("analytics.trends",), ("core.signals",)]
    assert _read(views, "SELECT table_name, rows FROM published_tables ORDER BY 1") == [
        ("analytics.trends", 1),
        ("core.signals", 1000),
    ]


def test_an_unchanged_table_is_not_exported_again_and_a_changed_one_alone_is(
    warehouse, directory
) -> None:
    publish(warehouse, directory)
    views_inode = (directory / VIEWS_FILE).stat().st_ino
    again = publish(warehouse, directory)
    assert again.written == {} and sorted(again.unchanged) == ["analytics.trends", "core.signals"]
    assert (directory / VIEWS_FILE).stat().st_ino == views_inode  # not even the views rewritten

    with warehouse.transaction() as tx:  # same row count, one value changed
        tx.execute_sql("UPDATE core.signals SET score = 9 WHERE signal_id = 's1'")
    changed = publish(warehouse, directory)
    assert list(changed.written) == ["core.signals"] and changed.unchanged == ["analytics.trends"]
    assert _read(
        directory / VIEWS_FILE, "SELECT score FROM core.signals WHERE signal_id = 's1'"
    ) == [(9,)]


def test_a_step_publishes_what_it_committed_and_whatever_was_never_published(
    warehouse, directory
) -> None:
    first = publish(warehouse, directory, tables=["analytics.trends"])
    assert sorted(first.written) == ["analytics.trends", "core.signals"]  # nothing published yet
    with warehouse.transaction() as tx:
        tx.execute_sql("DELETE FROM core.signals WHERE score = 0")
        tx.execute_sql("CREATE TABLE core.deals AS SELECT 'd1' AS deal_id")
    second = publish(warehouse, directory, tables=["core.signals", "raw.tweets"])
    assert sorted(second.written) == ["core.deals", "core.signals"]
    assert second.unchanged == []  # analytics.trends was not even looked at
    assert _read(directory / VIEWS_FILE, "SELECT count(*) FROM core.signals") == [(666,)]


def test_an_open_session_keeps_its_snapshot_and_old_versions_outlive_the_grace_period(
    warehouse, directory
) -> None:
    publish(warehouse, directory)
    first_version = _files(directory, "core.signals")
    analyst = ReaderProcess(directory / VIEWS_FILE)  # another process, as an analyst's is
    try:
        with warehouse.transaction() as tx:
            tx.execute_sql("INSERT INTO core.signals SELECT 'new', 1, NULL")
        publish(warehouse, directory, grace_s=3600)
        # The open session still reads the previous version; a new one reads the new version.
        assert analyst.query("SELECT count(*) FROM core.signals") == [[1000]]
        assert _read(directory / VIEWS_FILE, "SELECT count(*) FROM core.signals") == [(1001,)]
        assert set(first_version) < set(_files(directory, "core.signals"))

        publish(warehouse, directory, grace_s=0)  # nothing changed, the grace period is over
        assert len(_files(directory, "core.signals")) == 1
        assert set(first_version).isdisjoint(_files(directory, "core.signals"))
        assert read_manifest(directory)["retired"] == {}
    finally:
        analyst.close()


def test_a_dropped_table_leaves_the_views(warehouse, directory) -> None:
    publish(warehouse, directory)
    with warehouse.transaction() as tx:
        tx.execute_sql("DROP TABLE analytics.trends")
    report = publish(warehouse, directory, tables=["core.signals"], grace_s=0)
    assert report.dropped == ["analytics.trends"]
    views = _read(directory / VIEWS_FILE, "SELECT view_name FROM duckdb_views() WHERE NOT internal")
    assert views == [("signals",)]
    assert not (directory / "analytics" / "trends").exists()


_CRASHING_PUBLISH = """
import os, signal, sys
from pathlib import Path
from devsignal_pipelines.lib.stores import published
from devsignal_pipelines.lib.stores.warehouse import Warehouse

real_replace = os.replace

def replace(source, target):
    if Path(target).name == sys.argv[3]:  # the new views are written, not yet swapped in
        os.kill(os.getpid(), signal.SIGKILL)
    real_replace(source, target)

published.os.replace = replace
published.publish(Warehouse(sys.argv[1]), Path(sys.argv[2]))
"""


def test_a_publish_killed_before_its_swap_leaves_the_previous_state_readable(
    warehouse, directory
) -> None:
    publish(warehouse, directory)
    with warehouse.transaction() as tx:
        tx.execute_sql("DELETE FROM core.signals WHERE score = 2")
    crashed = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(_CRASHING_PUBLISH), warehouse.url, str(directory), VIEWS_FILE],
        cwd=REPO_ROOT, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert crashed.returncode == -signal.SIGKILL, crashed.stderr
    assert list(directory.glob(".tmp-*"))  # the unfinished views file is left behind
    assert _read(directory / VIEWS_FILE, "SELECT count(*) FROM core.signals") == [(1000,)]

    report = publish(warehouse, directory)
    assert list(report.written) == ["core.signals"]
    assert _read(directory / VIEWS_FILE, "SELECT count(*) FROM core.signals") == [(667,)]
    assert not list(directory.glob(".tmp-*")) and not list(directory.glob("*/*/.tmp-*"))


@pytest.fixture
def by_organization(warehouse) -> Warehouse:
    with warehouse.transaction() as tx:
        tx.execute_sql(
            "CREATE TABLE core.contacts AS SELECT 'org' || (i % 3) AS organization_id, "
            "'c' || i AS contact_id, i AS n FROM range(30) t(i)"
        )
    return warehouse


def _parts(directory: Path, table: str) -> dict[str, int]:
    parts = read_manifest(directory)["tables"][table]["parts"]
    return {key: part["rows"] for key, part in parts.items()}


def test_a_table_with_organizations_is_published_per_organization(
    by_organization, directory
) -> None:
    warehouse = by_organization
    publish(warehouse, directory)
    assert _parts(directory, "core.contacts") == {"org0": 10, "org1": 10, "org2": 10}
    first = {p.parent.name: p.name for p in (directory / "core" / "contacts").rglob("*.parquet")}
    assert sorted(first) == ["organization_id=org0", "organization_id=org1", "organization_id=org2"]

    with warehouse.transaction() as tx:  # org1's sync: a new contact, an update
        tx.execute_sql("INSERT INTO core.contacts VALUES ('org1', 'new', 99)")
        tx.execute_sql("UPDATE core.contacts SET n = -1 WHERE contact_id = 'c1'")
    report = publish(warehouse, directory, tables=["core.contacts"], organizations=["org1"])
    # Only org1's rows were exported; the other organizations' files are the same files.
    assert report.written["core.contacts"]["rows"] == 11
    assert report.written["core.contacts"]["parts"] == 1
    files = {p.parent.name: p.name for p in (directory / "core" / "contacts").rglob("*.parquet")}
    assert files["organization_id=org0"] == first["organization_id=org0"]
    assert files["organization_id=org2"] == first["organization_id=org2"]
    assert _read(directory / VIEWS_FILE, "SELECT count(*), min(n) FROM core.contacts") == [(31, -1)]
    assert _read(directory / VIEWS_FILE, "SELECT organizations, rows FROM published_tables "
                 "WHERE table_name = 'core.contacts'") == [(3, 31)]  # fmt: skip

    # Another organization asked for, unchanged: nothing written, not even the views.
    assert publish(warehouse, directory, organizations=["org2"]).written == {}


def test_an_organization_without_rows_leaves_the_view_and_an_empty_table_still_answers(
    by_organization, directory
) -> None:
    warehouse = by_organization
    publish(warehouse, directory)
    with warehouse.transaction() as tx:
        tx.execute_sql("DELETE FROM core.contacts WHERE organization_id = 'org0'")
    publish(warehouse, directory, tables=["core.contacts"], organizations=["org0"])
    assert _parts(directory, "core.contacts") == {"org1": 10, "org2": 10}
    assert _read(directory / VIEWS_FILE, "SELECT DISTINCT organization_id FROM core.contacts "
                 "ORDER BY 1") == [("org1",), ("org2",)]  # fmt: skip

    with warehouse.transaction() as tx:
        tx.execute_sql("DELETE FROM core.contacts")
    publish(warehouse, directory, grace_s=0)  # every organization looked at
    assert _parts(directory, "core.contacts") == {"": 0}
    assert _read(directory / VIEWS_FILE, "SELECT count(*) FROM core.contacts") == [(0,)]
    columns = _read(directory / VIEWS_FILE, "DESCRIBE core.contacts")
    assert [c[0] for c in columns] == ["organization_id", "contact_id", "n"]
    assert not (directory / "core" / "contacts" / "organization_id=org1").exists()


def test_postgres_has_nothing_to_publish(directory) -> None:
    with pytest.raises(ValueError, match="query the database directly"):
        publish(Warehouse("postgresql://postgres@127.0.0.1:5432/none"), directory)


def test_the_views_carry_the_warehouses_descriptions(warehouse, directory) -> None:
    with warehouse.transaction() as tx:
        tx.execute_sql("COMMENT ON TABLE core.signals IS 'One row per signal, it''s unified.'")
        tx.execute_sql("COMMENT ON COLUMN core.signals.score IS 'How strong it is.'")
    publish(warehouse, directory)
    views = directory / VIEWS_FILE
    assert _read(views, "SELECT comment FROM duckdb_views() WHERE view_name = 'signals'") == [
        ("One row per signal, it's unified.",)
    ]
    assert _read(
        views,
        "SELECT comment FROM duckdb_columns() WHERE table_name = 'signals' AND column_name = 'score'",
    ) == [("How strong it is.",)]

    with warehouse.transaction() as tx:  # a description changed, the data did not
        tx.execute_sql("COMMENT ON COLUMN core.signals.score IS 'Strength.'")
    report = publish(warehouse, directory)
    assert report.written == {}
    assert _read(
        views,
        "SELECT comment FROM duckdb_columns() WHERE table_name = 'signals' AND column_name = 'score'",
    ) == [("Strength.",)]
