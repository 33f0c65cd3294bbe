"""Waiting for a DuckDB warehouse file another process holds: who, progress, one clear line."""

from __future__ import annotations

import os
import threading
from pathlib import Path

import pytest

from devsignal_pipelines.lib.stores.warehouse import (
    Warehouse,
    WarehouseLockedError,
    lock_holder,
)
from devsignal_pipelines.settings import LOCK_TIMEOUT_VARIABLE, SettingsError, load_settings
from tests.analyst_sessions import SAFETY_TIMEOUT_S, duckdb_cli_session


@pytest.fixture
def warehouse_file(tmp_path: Path) -> Path:
    path = tmp_path / "warehouse.duckdb"
    Warehouse(f"duckdb:///{path}").ensure_tables()
    return path


def test_a_writer_names_the_readonly_cli_session_it_waits_for_and_fails_in_one_line(
    warehouse_file: Path,
) -> None:
    progress: list[str] = []
    warehouse = Warehouse(
        f"duckdb:///{warehouse_file}", lock_timeout_s=1.0, on_lock_wait=progress.append
    )
    warehouse.lock_report_after_s = 0.0
    with (
        duckdb_cli_session(warehouse_file, "-readonly") as holder,
        pytest.raises(WarehouseLockedError) as failure,
        warehouse.transaction() as tx,
    ):
        tx.execute("SELECT 1")
    message = str(failure.value)
    assert "\n" not in message
    assert f"PID {holder} (duckdb " in message and "-readonly" in message
    assert str(warehouse_file) in message
    assert f"{LOCK_TIMEOUT_VARIABLE}=1" in message and "devsignal read-path" in message
    assert progress and f"PID {holder} (duckdb " in progress[0] and "waiting" in progress[0]


def test_a_waiting_writer_gets_the_file_once_the_session_ends(warehouse_file: Path) -> None:
    reported = threading.Event()
    progress: list[str] = []

    def on_wait(line: str) -> None:
        progress.append(line)
        reported.set()

    warehouse = Warehouse(
        f"duckdb:///{warehouse_file}", lock_timeout_s=SAFETY_TIMEOUT_S, on_lock_wait=on_wait
    )
    warehouse.lock_report_after_s = 0.0
    outcome: list[object] = []

    def write() -> None:
        try:
            with warehouse.transaction() as tx:
                tx.execute_sql("CREATE TABLE core.written_after_wait AS SELECT 1 AS x")
            outcome.append("committed")
        except Exception as exc:  # surfaced by the assertion below
            outcome.append(exc)

    with duckdb_cli_session(warehouse_file, "-readonly") as holder:
        writer = threading.Thread(target=write)
        writer.start()
        assert reported.wait(SAFETY_TIMEOUT_S), "the writer never said it was waiting"
    writer.join(SAFETY_TIMEOUT_S)
    assert outcome == ["committed"]
    assert f"PID {holder}" in progress[0]
    assert warehouse.scalar("SELECT count(*) FROM core.written_after_wait") == 1


def test_the_holder_is_named_by_its_command_line_and_user() -> None:
    message = (
        'IO Error: Could not set lock on file "/x/warehouse.duckdb": Conflicting lock is held in '
        f"/usr/bin/python3 (PID {os.getpid()}). See also https://duckdb.org/docs"
    )
    described = lock_holder(message)
    assert described.startswith(f"PID {os.getpid()} (python")
    assert ", user " in described
    # A process this host cannot see is named by the executable DuckDB reports.
    assert lock_holder(message.replace(str(os.getpid()), "999999999")) == (
        "PID 999999999 (/usr/bin/python3)"
    )


def test_the_lock_timeout_is_configured_by_its_variable(monkeypatch) -> None:
    monkeypatch.setenv(LOCK_TIMEOUT_VARIABLE, "12.5")
    assert Warehouse("duckdb:///tmp/x.duckdb").lock_timeout_s == 12.5
    monkeypatch.setenv(LOCK_TIMEOUT_VARIABLE, "five minutes")
    with pytest.raises(SettingsError, match=LOCK_TIMEOUT_VARIABLE):
        load_settings()
