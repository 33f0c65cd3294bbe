"""A run killed with kill -9 while it holds the `warehouse` pool never blocks later runs, and a run
waiting for that pool says who holds it and stops on SIGTERM.

Real processes throughout: the sandbox (`devsignal sandbox serve --seed-control-db`) and every
`devsignal sync` run in their own processes on a fresh DEVSIGNAL_HOME. To have a run hold the
warehouse slot for as long as the test needs, the test holds the DuckDB file's write lock: the
run's first warehouse step claims the slot, then waits for the file.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import dagster as dg
import duckdb
import httpx
import pytest

from devsignal_pipelines.instance import PID_TAG, open_instance
from tests.conftest import REPO_ROOT

TOKEN_ENV = "DEVSIGNAL_TEST_SANDBOX_TOKEN"
POOL = "warehouse"
SAFETY_TIMEOUT_S = 120  # only against hangs: each wait below ends long before


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(condition: Callable[[], object], what: str) -> object:
    deadline = time.monotonic() + SAFETY_TIMEOUT_S
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.2)
    pytest.fail(f"gave up waiting for {what}")


class Cli:
    """One `devsignal ...` process; its output (stdout and stderr) collected line by line."""

    def __init__(self, env: dict[str, str], *args: str) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "devsignal_pipelines.cli", *args],
            env=env, cwd=REPO_ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        )  # fmt: skip
        self.lines: list[str] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        for line in self.process.stdout:
            self.lines.append(line.rstrip("\n"))

    @property
    def output(self) -> str:
        return "\n".join(self.lines)

    def line_with(self, text: str) -> str:
        return wait_for(
            lambda: next((line for line in self.lines if text in line), None),
            f"a line with {text!r} from devsignal:\n{self.output}",
        )

    def wait(self) -> int:
        code = self.process.wait(timeout=SAFETY_TIMEOUT_S)
        self._reader.join(timeout=10)
        return code

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
        self.wait()


@pytest.fixture
def home(tmp_path: Path) -> Iterator[dict[str, str]]:
    """A fresh DEVSIGNAL_HOME whose control DB the sandbox (its own process) seeded; the
    environment every `devsignal` process of the test gets."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DEVSIGNAL_", "DAGSTER_"))}
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    env |= {"DEVSIGNAL_HOME": str(tmp_path / "home"), TOKEN_ENV: "test-token"}
    env |= {
        f"DEVSIGNAL_{api}_API_URL": url for api in ("X", "STACKEXCHANGE", "GITHUB", "ENRICHMENT")
    }
    sandbox = Cli(
        env, "sandbox", "serve", "--port", str(port), "--scale", "0.3", "--seed-control-db",
        "--token-env", TOKEN_ENV,
    )  # fmt: skip
    try:
        wait_for(lambda: _answers(url), f"the sandbox on {url}")
        yield env
    finally:
        sandbox.process.terminate()
        sandbox.wait()


def _answers(url: str) -> bool:
    try:
        httpx.get(f"{url}/2/tweets/search/recent", timeout=1)
        return True
    except httpx.TransportError:
        return False


@pytest.fixture
def warehouse_lock(home: dict[str, str]) -> Iterator[duckdb.DuckDBPyConnection]:
    """The DuckDB file's write lock, held by the test until it closes the connection."""
    connection = duckdb.connect(str(Path(home["DEVSIGNAL_HOME"]) / "warehouse.duckdb"))
    yield connection
    connection.close()


def _instance(home: dict[str, str]) -> dg.DagsterInstance:
    config_dir = Path(home["DEVSIGNAL_HOME"]) / "dagster"
    wait_for(lambda: (config_dir / "dagster.yaml").exists(), "the instance's dagster.yaml")
    return open_instance(config_dir)


def _slot_holders(instance: dg.DagsterInstance) -> set[str]:
    info = instance.event_log_storage.get_concurrency_info(POOL)
    return {slot.run_id for slot in info.claimed_slots}


def _queued_runs(instance: dg.DagsterInstance) -> set[str]:
    return {p.run_id for p in instance.event_log_storage.get_concurrency_info(POOL).pending_steps}


@pytest.fixture
def holding_sync(home, warehouse_lock) -> Iterator[tuple[Cli, str, dg.DagsterInstance]]:
    """A `devsignal sync acme --source events` that holds the warehouse slot (and waits for the
    DuckDB file the test holds): the process, its run id and the instance, to look at."""
    first = Cli(home, "sync", "acme", "--source", "events")
    instance = _instance(home)
    try:
        holder = wait_for(lambda: next(iter(_slot_holders(instance)), None), "the run's slot")
        assert instance.get_run_by_id(holder).tags[PID_TAG] == str(first.process.pid)
        yield first, holder, instance
    finally:
        first.kill()
        instance.dispose()


def test_a_sync_killed_with_kill_9_while_holding_the_warehouse_slot_blocks_no_later_sync(
    home, warehouse_lock, holding_sync
) -> None:
    first, killed_run, instance = holding_sync
    os.kill(first.process.pid, signal.SIGKILL)
    assert first.wait() == -signal.SIGKILL
    warehouse_lock.close()  # the killed run's slot is the only thing in the way now

    second = Cli(home, "sync", "acme", "--source", "twitter")
    assert second.wait() == 0, second.output
    assert f"freed the concurrency slots of run {killed_run[:8]}" in second.output
    assert f"process {first.process.pid} on" in second.output
    assert "twitter_sync succeeded" in second.output
    assert killed_run not in _slot_holders(instance) | _queued_runs(instance)
    assert instance.get_run_by_id(killed_run).status == dg.DagsterRunStatus.FAILURE


def test_a_sync_waiting_for_the_warehouse_slot_says_who_holds_it_and_stops_on_sigterm(
    home, holding_sync
) -> None:
    first, holder, instance = holding_sync
    waiting = Cli(home, "sync", "nimbus", "--source", "events")
    line = waiting.line_with(f"waiting for pool '{POOL}'")
    assert f"held by run {holder[:8]} (first_party_sync, organization acme" in line
    assert f"devsignal pid {first.process.pid}" in line

    waiting.process.send_signal(signal.SIGTERM)
    assert waiting.wait() == 128 + signal.SIGTERM, waiting.output
    assert "sync failed for nimbus, stopped by SIGTERM" in waiting.output
    canceled = [r for r in instance.get_runs() if r.tags.get("dagster/partition") == "nimbus"]
    assert [r.status for r in canceled] == [dg.DagsterRunStatus.CANCELED]
    assert canceled[0].run_id not in _queued_runs(instance)
    # The live run keeps its slot: only a run whose process is gone is ever freed.
    assert _slot_holders(instance) == {holder}
