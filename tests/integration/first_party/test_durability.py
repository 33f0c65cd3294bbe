"""Durable before the 2xx: kill -9 of the API right after it answers, and of the loader mid-way."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import textwrap
import time

import httpx
import pytest

from devsignal_pipelines.lib.sources.events.intake import pending
from devsignal_pipelines.lib.sources.events.load import load_events
from tests.conftest import REPO_ROOT


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _start_api(stores: dict[str, str]) -> tuple[subprocess.Popen, str]:
    port = _free_port()
    env = {**os.environ, "DEVSIGNAL_CONTROL_DB_URL": stores["control"],
           "DEVSIGNAL_WAREHOUSE_URL": stores["warehouse"]}  # fmt: skip
    process = subprocess.Popen(
        [sys.executable, "-m", "devsignal_pipelines.cli", "api", "--port", str(port)],
        env=env, cwd=REPO_ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                return process, url
        except httpx.TransportError:
            time.sleep(0.1)
    process.kill()
    raise RuntimeError("devsignal api did not start")


def _batch(first: int, count: int) -> dict:
    return {"batch": [
        {"type": "track", "userId": f"u{i % 7}", "event": "API Call Made", "messageId": f"m-{i}",
         "timestamp": "2026-11-02T09:00:00Z", "properties": {"n": i}}
        for i in range(first, first + count)
    ]}  # fmt: skip


def test_a_200_survives_kill_9_of_the_api_and_the_event_is_loaded_once(
    stores, control, keys, warehouse
) -> None:
    process, url = _start_api(stores)
    try:
        response = httpx.post(f"{url}/v1/batch", json=_batch(0, 100), auth=(keys["acme"], ""))
        assert response.status_code == 200
    finally:
        os.kill(process.pid, signal.SIGKILL)  # right after the 200, nothing flushed on exit
        process.wait()
    # A new server; the client retries the same batch (as if it never saw the 200) plus more.
    process, url = _start_api(stores)
    try:
        for body in (_batch(0, 100), _batch(100, 50)):
            assert (
                httpx.post(f"{url}/v1/batch", json=body, auth=(keys["acme"], "")).status_code == 200
            )
    finally:
        process.terminate()
        process.wait()
    report = load_events(warehouse, control, "acme")
    assert report.new == 150
    ids = warehouse.read_df("SELECT message_id FROM raw.product_events ORDER BY message_id")
    assert sorted(ids["message_id"]) == sorted(f"m-{i}" for i in range(150))
    assert pending(control).empty


_LOADER = """
import os, signal, sys
from devsignal_pipelines.lib.sources.events import load
from devsignal_pipelines.lib.stores.control import ControlDB
from devsignal_pipelines.lib.stores.warehouse import Warehouse

def killed(*args, **kwargs):  # the warehouse has committed; the intake rows are still there
    os.kill(os.getpid(), signal.SIGKILL)

load.delete_loaded = killed
load.load_events(Warehouse(sys.argv[1]), ControlDB(sys.argv[2]), "acme", batch_rows=40)
"""


def test_a_loader_killed_between_its_commit_and_its_cleanup_loads_nothing_twice(
    stores, control, keys, warehouse, api
) -> None:
    for start in (0, 100):
        r = httpx.post(f"{api.base_url}/v1/batch", json=_batch(start, 100), auth=(keys["acme"], ""))
        assert r.status_code == 200
    crashed = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(_LOADER), stores["warehouse"], stores["control"]],
        cwd=REPO_ROOT, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert crashed.returncode == -signal.SIGKILL, crashed.stderr
    loaded_before = warehouse.scalar("SELECT count(*) FROM raw.product_events")
    assert loaded_before == 40  # the first batch committed, then the process died
    report = load_events(warehouse, control, "acme")
    assert (report.messages, report.new) == (200, 160)
    assert warehouse.scalar("SELECT count(DISTINCT message_id) FROM raw.product_events") == 200
    assert warehouse.scalar("SELECT count(*) FROM raw.product_events") == 200
    assert pending(control).empty


@pytest.mark.parametrize("stores", ["duckdb"], indirect=True)
def test_the_api_answers_503_when_the_store_cannot_take_the_write(api, keys, control) -> None:
    control.engine.dispose()
    import sqlalchemy as sa

    with control.engine.begin() as conn:  # a broken store: the client must hear "retry"
        conn.exec_driver_sql("DROP TABLE event_intake")
    r = httpx.post(
        f"{api.base_url}/v1/track", json={"userId": "u", "event": "x"}, auth=(keys["acme"], "")
    )
    assert r.status_code == 503 and r.headers["retry-after"]
    assert sa.inspect(control.engine).has_table("event_intake") is False


@pytest.mark.parametrize("stores", ["postgres"], indirect=True)
def test_a_request_the_store_refuses_fails_alone_not_the_requests_sharing_its_commit(
    control,
) -> None:
    """PostgreSQL text cannot hold NUL: rows with one (which the parser refuses, written here
    straight to the writer) fail their own request, and the requests committed with them pass."""
    import asyncio
    from datetime import UTC, datetime

    from devsignal_pipelines.lib.sources.events.intake import IntakeWriter
    from devsignal_pipelines.lib.sources.events.messages import INTAKE_COLUMNS, parse_body

    def rows(org: str, user: str, message_id: str) -> list[tuple]:
        body = f'{{"userId": "{user}", "event": "e", "messageId": "{message_id}"}}'.encode()
        row = list(parse_body(body, org, datetime.now(UTC), message_type="track").rows[0])
        row[INTAKE_COLUMNS.index("user_id")] = user.replace("NUL", "\x00")
        return [tuple(row)]

    async def send() -> list[BaseException | None]:
        writer = IntakeWriter(control)
        writes = [writer.write(rows("nimbus", f"n{i}", f"n{i}")) for i in range(20)]
        writes.insert(10, writer.write(rows("acme", "uNUL", "bad")))
        return await asyncio.gather(*writes, return_exceptions=True)

    outcomes = asyncio.run(send())
    assert [o is None for o in outcomes].count(False) == 1 and outcomes[10] is not None
    assert pending(control).set_index("organization_id")["messages"].to_dict() == {"nimbus": 20}
