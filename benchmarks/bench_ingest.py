"""Benchmark: 1,000,000 Segment `track` events through `devsignal api` into core.signals.

    make bench-ingest          # DuckDB warehouse + SQLite control DB in a temporary DEVSIGNAL_HOME
    python -m benchmarks.bench_ingest --events 200000 --connections 32 --workers 1
    python -m benchmarks.bench_ingest --postgres          # a fresh database on 127.0.0.1:5432
    python -m benchmarks.bench_ingest --warehouse-url postgresql://... --control-db-url postgresql://...

`devsignal api` runs in its own process, as in production; the load generator (asyncio + aiohttp,
N keep-alive connections) runs in another, so neither steals the other's interpreter. It POSTs
/v1/batch bodies of `--batch` track messages (unique messageIds, 3-5 properties,
context.library, timestamps) with the organization's API key as the Basic auth user name until
`--events` are accepted (a non-200 batch is retried, as the SDKs do). Then:

- the first 10% of the batches are sent again: the intake must not grow (same messageIds);
- this process loads the intake into raw.product_events with `load_events` (the
  raw/product_events asset's body) and rebuilds core.signals for the organization as the
  core/signals asset does (`--emit-webhooks` also diffs the partition into signal.created outbox
  events, as the asset does; off by default, it is not intake);
- the same 10% are sent and loaded once more: the warehouse must skip every one of them.

Every event is accounted for: accepted (batch sizes answered 200) == intake rows == rows of
raw.product_events == product signals in core.signals, per signal type; the intake is empty at
the end. Exits 1 if any check fails. Goal: >= 20,000 accepted events/s on 2 cores.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import multiprocessing
import os
import random
import resource
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psutil

# name -> (weight, signal type it maps to with the built-in mapping of events/mapping.py)
EVENTS = {
    "API Call Made": (55, "api_call"),
    "Feature Used": (25, "feature_usage"),
    "Signed In": (10, "login"),
    "Docs Viewed": (5, "docs_view"),
    "Signed Up": (3, "signup"),
    "Repository Starred": (2, "github_star"),
}
LIBRARY = {"name": "analytics-python", "version": "2.3.2"}
USERS = 50_000
RESEND_SHARE = 0.10
MAX_ATTEMPTS = 8
PG_ADMIN_URL = os.environ.get(
    "DEVSIGNAL_TEST_PG_URL", "postgresql+psycopg2://postgres@127.0.0.1:5432/postgres"
)


# --- the messages ------------------------------------------------------------------------------


def _properties(event: str, rng: random.Random) -> dict[str, Any]:
    plan = rng.choice(("free", "team", "pro", "enterprise"))
    workspace = f"ws-{rng.randrange(5000):04d}"
    if event == "API Call Made":
        return {
            "endpoint": rng.choice(("/v1/query", "/v1/ingest", "/v1/tables", "/v1/auth/token")),
            "method": rng.choice(("GET", "POST")),
            "status": rng.choice((200, 200, 200, 201, 400, 429)),
            "duration_ms": rng.randrange(3, 900),
            "region": rng.choice(("us-east-1", "eu-west-1", "ap-south-1")),
        }
    if event == "Feature Used":
        return {
            "feature": rng.choice(("dashboards", "alerts", "sql_editor", "exports", "sso")),
            "plan": plan,
            "workspace_id": workspace,
            "first_time": rng.random() < 0.1,
        }
    if event == "Signed In":
        return {
            "method": rng.choice(("github", "google", "password")),
            "plan": plan,
            "workspace_id": workspace,
        }
    if event == "Docs Viewed":
        page = rng.choice(("quickstart", "sdk/python", "sql/joins", "self-hosting"))
        return {
            "path": f"/docs/{page}",
            "title": page.title(),
            "referrer": "https://www.google.com/",
        }
    if event == "Signed Up":
        return {
            "plan": plan,
            "source": rng.choice(("organic", "github", "newsletter")),
            "utm_campaign": rng.choice(("launch-week", "none", "hn")),
        }
    return {"repository": "acme/acmedb", "stars": rng.randrange(1000, 20000), "source": "github"}


class Messages:
    """Batches of track messages, cheap enough not to compete with the API for the CPU.

    Every message is distinct (its messageId, from the run and its position) and draws its user
    (of 50,000), event, properties and timestamp from pools made once; batch `index` has the same
    bytes every time it is asked for, so a re-send carries the same messageIds.
    """

    POOL = 8192

    def __init__(self, run: int, base: datetime):
        import msgspec

        rng = random.Random(run)
        names, weights = list(EVENTS), [w for w, _ in EVENTS.values()]
        self.run = run
        self.pool: list[tuple[str, bytes]] = []
        for _ in range(self.POOL):
            event = rng.choices(names, weights)[0]
            happened = base - timedelta(
                seconds=rng.randrange(7 * 86400), milliseconds=rng.randrange(1000)
            )
            rest = {
                "event": event,
                "properties": _properties(event, rng),
                "context": {
                    "library": LIBRARY,
                    "ip": f"10.{rng.randrange(256)}.{rng.randrange(256)}.7",
                },
                "timestamp": happened.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
            }
            self.pool.append((event, msgspec.json.encode(rest)[1:]))  # without its opening brace

    def message(self, k: int) -> tuple[str, bytes]:
        event, rest = self.pool[(k * 2654435761 >> 7) % self.POOL]
        ident = f"{self.run:012x}{k:020x}"
        message_id = f"{ident[:8]}-{ident[8:12]}-{ident[12:16]}-{ident[16:20]}-{ident[20:]}"
        user = (k * 40503 + k // 7) % USERS
        head = f'{{"type":"track","messageId":"{message_id}","userId":"user-{user}",'
        return event, head.encode() + rest

    def batch(self, index: int, size: int, count: int) -> tuple[bytes, Counter]:
        """The JSON array of batch `index` (positions index * size ...) and its events by name."""
        start = index * size
        made = [self.message(k) for k in range(start, start + count)]
        return b"[" + b",".join(m for _, m in made) + b"]", Counter(e for e, _ in made)


# --- the load generator (its own process) ------------------------------------------------------


def _generate(spec: dict[str, Any], results: Any) -> None:
    """Send batches [first, first + batches) with `connections` concurrent connections."""
    try:
        import uvloop

        runner = uvloop.run
    except ImportError:  # pragma: no cover
        runner = asyncio.run
    usage = resource.getrusage(resource.RUSAGE_SELF)
    cpu_before = usage.ru_utime + usage.ru_stime
    outcome = runner(_send_all(spec))
    usage = resource.getrusage(resource.RUSAGE_SELF)
    outcome["cpu_s"] = usage.ru_utime + usage.ru_stime - cpu_before
    results.send(outcome)
    results.close()


async def _send_all(spec: dict[str, Any]) -> dict[str, Any]:
    import aiohttp

    messages = Messages(spec["run"], datetime.fromisoformat(spec["base"]))
    url = f"http://127.0.0.1:{spec['port']}/v1/batch"
    first, batches, size, events = spec["first"], spec["batches"], spec["batch"], spec["events"]
    queue = iter(range(first, first + batches))
    latencies: list[float] = []
    statuses: Counter = Counter()
    by_event: Counter = Counter()
    state = {"accepted": 0, "failed_batches": 0, "errors": 0, "failing": 0, "aborted": False}
    give_up_after = max(100, 4 * spec["connections"])  # failures in a row: the API is gone
    connector = aiohttp.TCPConnector(limit=spec["connections"], limit_per_host=0)
    auth = aiohttp.BasicAuth(spec["key"], "")
    headers = {"Content-Type": "application/json"}
    timeout = aiohttp.ClientTimeout(total=120)

    async def worker(session: aiohttp.ClientSession) -> None:
        for index in queue:
            count = min(size, events - index * size)
            batch, names = messages.batch(index, size, count)
            for attempt in range(MAX_ATTEMPTS):
                if state["aborted"]:
                    return
                sent_at = datetime.now(UTC).isoformat(timespec="milliseconds")
                body = b'{"batch":' + batch + b',"sentAt":"' + sent_at.encode() + b'"}'
                started = time.perf_counter()
                try:
                    async with session.post(url, data=body, headers=headers) as response:
                        answer = await response.read()
                        status = response.status
                except (aiohttp.ClientError, TimeoutError) as exc:
                    status, answer = 0, f"{type(exc).__name__}: {exc}".encode()
                latencies.append(time.perf_counter() - started)
                statuses[status] += 1
                if status == 200:
                    state["accepted"] += count
                    state["failing"] = 0
                    by_event.update(names)
                    break
                state["errors"] += 1
                state["failing"] += 1
                if state["errors"] <= 3:
                    print(
                        f"  answer {status}: {answer[:300].decode(errors='replace')}",
                        file=sys.stderr,
                    )
                if state["failing"] >= give_up_after:
                    state["aborted"] = True
                    print(f"  {give_up_after} failures in a row: giving up", file=sys.stderr)
                    return
                await asyncio.sleep(min(0.1 * 2**attempt, 2.0))
            else:
                state["failed_batches"] += 1

    async def progress(started: float) -> None:
        while True:
            await asyncio.sleep(5)
            elapsed = time.perf_counter() - started
            print(
                f"  {spec['label']}: {state['accepted']:,} accepted in {elapsed:.0f} s "
                f"({state['accepted'] / elapsed:,.0f}/s)",
                file=sys.stderr,
                flush=True,
            )

    async with aiohttp.ClientSession(
        connector=connector, auth=auth, timeout=timeout, skip_auto_headers=("User-Agent",)
    ) as session:
        started = time.perf_counter()
        ticker = asyncio.create_task(progress(started))
        await asyncio.gather(*(worker(session) for _ in range(spec["connections"])))
        elapsed = time.perf_counter() - started
        ticker.cancel()
    return {
        **state,
        "elapsed_s": elapsed,
        "latencies": latencies,
        "statuses": dict(statuses),
        "by_event": dict(by_event),
    }


def send_batches(spec: dict[str, Any]) -> dict[str, Any]:
    """Run the load generator in a fresh process (spawned: nothing of this one is inherited)."""
    ctx = multiprocessing.get_context("spawn")
    receive, send = ctx.Pipe(duplex=False)
    process = ctx.Process(target=_generate, args=(spec, send), name="bench-ingest-client")
    process.start()
    send.close()
    try:
        outcome = receive.recv()
    except EOFError:
        process.join()
        raise RuntimeError(f"the load generator died (exit code {process.exitcode})") from None
    process.join()
    return outcome


# --- the API process ---------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_api(port: int, workers: int, env: dict[str, str], log: Path) -> subprocess.Popen:
    """`devsignal api` in its own process; waits until GET /healthz answers."""
    import httpx

    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "devsignal_pipelines.cli",
            "api",
            "--port",
            str(port),
            "--workers",
            str(workers),
        ],
        env=env,
        stdout=log.open("wb"),
        stderr=subprocess.STDOUT,
    )
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"devsignal api exited ({process.returncode}):\n{log.read_text()}")
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                return process
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    process.kill()
    raise RuntimeError(f"devsignal api did not answer /healthz within 120 s:\n{log.read_text()}")


def _tree(pid: int) -> list[psutil.Process]:
    try:
        root = psutil.Process(pid)
        return [root, *root.children(recursive=True)]
    except psutil.NoSuchProcess:
        return []


def tree_cpu_s(pid: int) -> float:
    total = 0.0
    for proc in _tree(pid):
        with suppress(psutil.NoSuchProcess):
            times = proc.cpu_times()
            total += times.user + times.system
    return total


class RssSampler:
    """Peak RSS of the API process (with its workers) and of this process, every 0.2 s, per phase;
    during the intake also how many client connections each API process holds (uvicorn's workers
    share one listening socket and the kernel need not spread connections evenly)."""

    def __init__(self, api_pid: int, port: int, interval_s: float = 0.2):
        self.api_pid, self.port, self.interval_s = api_pid, port, interval_s
        self.phase = "setup"
        self.api_peak: dict[str, int] = {}
        self.self_peak: dict[str, int] = {}
        self.connections: dict[int, int] = {}  # API process id -> most connections seen
        self._stop = threading.Event()
        self._me = psutil.Process()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            api = 0
            phase = self.phase
            for proc in _tree(self.api_pid):
                with suppress(psutil.NoSuchProcess):
                    api += proc.memory_info().rss
                    if phase == "intake":
                        held = sum(
                            1
                            for c in proc.net_connections("tcp")
                            if c.status == psutil.CONN_ESTABLISHED and c.laddr.port == self.port
                        )
                        worker = "resource_tracker" not in " ".join(proc.cmdline())
                        if held or (proc.pid != self.api_pid and worker):
                            self.connections[proc.pid] = max(
                                self.connections.get(proc.pid, 0), held
                            )
            me = self._me.memory_info().rss
            self.api_peak[phase] = max(self.api_peak.get(phase, 0), api)
            self.self_peak[phase] = max(self.self_peak.get(phase, 0), me)
            self._stop.wait(self.interval_s)

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()


# --- stores ------------------------------------------------------------------------------------


@contextmanager
def fresh_pg_database(admin_url: str, keep: bool) -> Iterator[str]:
    """An empty PostgreSQL database for this run (as tests/conftest.py), dropped afterwards."""
    import sqlalchemy as sa

    name = f"devsignal_bench_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    try:
        yield admin_url.rsplit("/", 1)[0] + f"/{name}"
    finally:
        if keep:
            print(f"kept database {name}", file=sys.stderr)
        else:
            with admin.connect() as conn:
                conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def _count(control: Any, sql: str, org: str) -> int:
    import sqlalchemy as sa

    with control.engine.connect() as conn:
        return int(conn.execute(sa.text(sql), {"o": org}).scalar_one())


def _busy(times: Any) -> float:
    """CPU seconds the whole machine spent on anything but idling and waiting for I/O."""
    busy = ("user", "nice", "system", "irq", "softirq", "steal")  # guest time is in user already
    return sum(getattr(times, name, 0.0) for name in busy)


def _pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, math.ceil(q * len(ordered)) - 1))]


# --- the run -----------------------------------------------------------------------------------


def run(args: argparse.Namespace, home: Path, warehouse_url: str, control_url: str) -> dict:
    from devsignal_pipelines.lib.signals import SignalSettings, build_signals
    from devsignal_pipelines.lib.sources.events.load import load_events
    from devsignal_pipelines.lib.sources.events.mapping import EventSettings
    from devsignal_pipelines.lib.stores.control import ControlDB
    from devsignal_pipelines.lib.stores.tables import CORE_SIGNALS
    from devsignal_pipelines.lib.stores.warehouse import Warehouse, safe_url
    from devsignal_pipelines.lib.webhooks import store
    from devsignal_pipelines.lib.webhooks.emit import emit_changes

    org = f"bench-{uuid.uuid4().hex[:8]}"
    control = ControlDB(control_url)
    control.create_all()
    control.add_organization(org)
    _, key = store.create_api_key(control, org)
    warehouse = Warehouse(warehouse_url)
    warehouse.ensure_tables()

    env = {
        **os.environ,
        "DEVSIGNAL_HOME": str(home),
        "DEVSIGNAL_WAREHOUSE_URL": warehouse_url,
        "DEVSIGNAL_CONTROL_DB_URL": control_url,
    }
    port = _free_port()
    api = start_api(port, args.workers, env, home / "api.log")
    sampler = RssSampler(api.pid, port)
    batches = math.ceil(args.events / args.batch)
    resend_batches = max(1, math.ceil(batches * RESEND_SHARE))
    resend_events = min(args.events, resend_batches * args.batch)
    spec = {
        "port": port,
        "key": key,
        "run": random.getrandbits(48),
        "base": datetime.now(UTC).replace(microsecond=0).isoformat(),
        "batch": args.batch,
        "events": args.events,
        "connections": args.connections,
    }
    intake_sql = "SELECT count(*) FROM event_intake WHERE organization_id = :o"
    raw_sql = "SELECT count(*) FROM raw.product_events WHERE organization_id = :o"
    try:
        sampler.phase = "intake"
        cpu_before = tree_cpu_s(api.pid)
        machine_before = psutil.cpu_times()
        load_before = os.getloadavg()[0]
        sent = send_batches({**spec, "first": 0, "batches": batches, "label": "intake"})
        api_cpu_s = tree_cpu_s(api.pid) - cpu_before
        machine_after = psutil.cpu_times()
        machine_busy_s = _busy(machine_after) - _busy(machine_before)
        intake_rows = _count(control, intake_sql, org)

        sampler.phase = "resend"
        resend = {**spec, "first": 0, "batches": resend_batches}
        resent = send_batches({**resend, "label": "re-send"})
        intake_after_resend = _count(control, intake_sql, org)

        # raw/product_events, as the asset runs it.
        sampler.phase = "load"
        started = time.perf_counter()
        load = load_events(warehouse, control, org)
        load_s = time.perf_counter() - started
        raw_rows = int(warehouse.scalar(raw_sql, {"o": org}))
        raw_distinct = int(
            warehouse.scalar(
                "SELECT count(DISTINCT message_id) FROM raw.product_events "
                "WHERE organization_id = :o",
                {"o": org},
            )
        )
        intake_after_load = _count(control, intake_sql, org)

        # core/signals, as the asset builds one organization's partition.
        sampler.phase = "signals"
        started = time.perf_counter()
        settings = SignalSettings(
            events=EventSettings.from_settings(control.connector_settings(org, "events"))
        )
        webhook_events = None
        if args.emit_webhooks:
            with (
                warehouse.transaction() as tx,
                emit_changes(tx, control, CORE_SIGNALS, org) as emitted,
            ):
                frame_rows = build_signals(tx, org, settings)
            webhook_events = emitted.new
        else:
            with warehouse.transaction() as tx:
                frame_rows = build_signals(tx, org, settings)
        signals_s = time.perf_counter() - started
        by_type = warehouse.read_df(
            "SELECT signal_type, count(*) AS n FROM core.signals "
            "WHERE organization_id = :o AND source = 'product' GROUP BY signal_type",
            {"o": org},
        )
        signals_by_type = {row.signal_type: int(row.n) for row in by_type.itertuples()}
        signals_distinct = int(
            warehouse.scalar(
                "SELECT count(DISTINCT signal_id) FROM core.signals "
                "WHERE organization_id = :o AND source = 'product'",
                {"o": org},
            )
        )

        # The same messages once more, after they were loaded: the warehouse must skip them all.
        sampler.phase = "resend-after-load"
        resent_late = send_batches({**resend, "label": "re-send after load"})
        reload = load_events(warehouse, control, org)
        raw_rows_final = int(warehouse.scalar(raw_sql, {"o": org}))
        intake_final = _count(control, intake_sql, org)
    finally:
        sampler.stop()
        api.terminate()
        try:
            api.wait(timeout=30)
        except subprocess.TimeoutExpired:
            api.kill()
            api.wait()

    accepted = sent["accepted"]
    expected_types: Counter = Counter()
    for name, n in sent["by_event"].items():
        expected_types[EVENTS[name][1]] += n
    checks = {
        "every event accepted (all batches 200 in the end)": accepted == args.events
        and sent["failed_batches"] == 0,
        "intake rows == accepted": intake_rows == accepted,
        "re-send: every batch answered 200": resent["accepted"] == resend_events,
        "re-send: intake unchanged (no duplicates)": intake_after_resend == accepted,
        "load: messages read == accepted": load.messages == accepted,
        "load: new rows == accepted": load.new == accepted,
        "raw.product_events rows == accepted": raw_rows == accepted,
        "raw.product_events: no duplicate messageId": raw_distinct == raw_rows,
        "intake empty after load": intake_after_load == 0,
        "core.signals product rows == accepted": sum(signals_by_type.values()) == accepted,
        "core.signals rows == frame rows": frame_rows == sum(signals_by_type.values()),
        "core.signals: no duplicate signal_id": signals_distinct == sum(signals_by_type.values()),
        "core.signals per signal_type == events sent": dict(expected_types) == signals_by_type,
        "re-send after load: every batch answered 200": resent_late["accepted"] == resend_events,
        "re-send after load: 0 new rows": reload.messages == resend_events and reload.new == 0,
        "re-send after load: raw.product_events unchanged": raw_rows_final == accepted,
        "intake empty at the end": intake_final == 0,
    }
    intake_s = sent["elapsed_s"]
    return {
        "warehouse": safe_url(warehouse_url),
        "control_db": safe_url(control_url),
        "organization": org,
        "events": args.events,
        "batch": args.batch,
        "connections": args.connections,
        "workers": args.workers,
        "cores": os.cpu_count(),
        "intake": {
            "accepted": accepted,
            "seconds": intake_s,
            "events_per_s": accepted / intake_s,
            "requests": len(sent["latencies"]),
            "requests_per_s": len(sent["latencies"]) / intake_s,
            "latency_ms": {
                "p50": _pct(sent["latencies"], 0.50) * 1000,
                "p90": _pct(sent["latencies"], 0.90) * 1000,
                "p99": _pct(sent["latencies"], 0.99) * 1000,
                "max": max(sent["latencies"], default=float("nan")) * 1000,
                "mean": statistics.fmean(sent["latencies"]) * 1000,
            },
            "statuses": sent["statuses"],
            "non_200": sum(n for s, n in sent["statuses"].items() if s != 200),
            "failed_batches": sent["failed_batches"],
            "api_cpu_cores": api_cpu_s / intake_s,
            "client_cpu_cores": sent["cpu_s"] / intake_s,
            "machine_cpu_cores": machine_busy_s / intake_s,
            "load_average_before": load_before,
            "api_peak_rss_mb": sampler.api_peak.get("intake", 0) / 2**20,
            "connections_per_api_process": sorted(sampler.connections.values(), reverse=True),
        },
        "resend": {
            "batches": resend_batches,
            "events": resend_events,
            "seconds": resent["elapsed_s"],
            "statuses": resent["statuses"],
            "intake_rows_before": intake_rows,
            "intake_rows_after": intake_after_resend,
        },
        "load": {
            "seconds": load_s,
            "events_per_s": load.messages / load_s if load_s else 0.0,
            "messages": load.messages,
            "new": load.new,
            "batches": load.batches,
            "phases_s": dict(load.seconds),
        },
        "signals": {
            "seconds": signals_s,
            "rows": frame_rows,
            "by_type": signals_by_type,
            "emit_webhooks": args.emit_webhooks,
            "webhook_events_new": webhook_events,
        },
        "resend_after_load": {
            "statuses": resent_late["statuses"],
            "messages_loaded": reload.messages,
            "new": reload.new,
            "raw_rows": raw_rows_final,
        },
        "api_peak_rss_mb_whole_run": max(sampler.api_peak.values(), default=0) / 2**20,
        "total_to_core_signals_s": intake_s + load_s + signals_s,
        "bench_peak_rss_mb": {
            "load": sampler.self_peak.get("load", 0) / 2**20,
            "signals": sampler.self_peak.get("signals", 0) / 2**20,
            "ru_maxrss": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        },
        "checks": checks,
        "ok": all(checks.values()),
    }


def report(r: dict) -> None:
    i, lat, ld, sg = r["intake"], r["intake"]["latency_ms"], r["load"], r["signals"]
    print(f"warehouse            {r['warehouse']}")
    print(f"control DB           {r['control_db']}")
    print(
        f"load                 {r['events']:,} track events, batches of {r['batch']}, "
        f"{r['connections']} connections, {r['workers']} API worker(s), {r['cores']} cores"
    )
    print(
        f"intake               {i['accepted']:,} accepted in {i['seconds']:.1f} s  ->  "
        f"{i['events_per_s']:,.0f} events/s ({i['requests_per_s']:,.0f} requests/s; goal 20,000/s)"
    )
    print(
        f"  latency            p50 {lat['p50']:.1f} ms, p90 {lat['p90']:.1f} ms, p99 {lat['p99']:.1f} ms, "
        f"max {lat['max']:.0f} ms"
    )
    statuses = ", ".join(f"{s}: {n:,}" for s, n in sorted(i["statuses"].items()))
    print(
        f"  answers            {statuses}  ({i['non_200']} non-200, {i['failed_batches']} batches given up)"
    )
    others = i["machine_cpu_cores"] - i["api_cpu_cores"] - i["client_cpu_cores"]
    print(
        f"  CPU (1 core=100%)  API {i['api_cpu_cores']:.0%}, load generator "
        f"{i['client_cpu_cores']:.0%}, rest of the machine {max(others, 0):.0%} (PostgreSQL, "
        f"if used); load average before {i['load_average_before']:.2f}"
    )
    if r["workers"] > 1:
        spread = ", ".join(str(n) for n in i["connections_per_api_process"])
        print(f"  connections        per API worker process (most seen): {spread}")
    print(
        f"  API peak RSS       {i['api_peak_rss_mb']:,.0f} MB during intake "
        f"({r['api_peak_rss_mb_whole_run']:,.0f} MB over the whole run)"
    )
    rs = r["resend"]
    print(
        f"re-send 10%          {rs['events']:,} events again in {rs['seconds']:.1f} s: intake rows "
        f"{rs['intake_rows_before']:,} -> {rs['intake_rows_after']:,}"
    )
    phases = ", ".join(f"{p} {s:.2f}" for p, s in ld["phases_s"].items())
    print(
        f"load_events          {ld['messages']:,} messages ({ld['new']:,} new, {ld['batches']} batches) "
        f"in {ld['seconds']:.1f} s  ->  {ld['events_per_s']:,.0f}/s"
    )
    print(f"  phases (s)         {phases}")
    emit = (
        f"with emit_changes ({sg['webhook_events_new']:,} signal.created outbox events)"
        if sg["emit_webhooks"]
        else "without emit_changes (no webhook outbox events)"
    )
    print(
        f"core.signals         {sg['rows']:,} rows in {sg['seconds']:.1f} s "
        f"(build_signals: one INSERT ... SELECT in the warehouse), {emit}"
    )
    print(
        f"  by type            {', '.join(f'{k} {v:,}' for k, v in sorted(sg['by_type'].items()))}"
    )
    ra = r["resend_after_load"]
    print(
        f"re-send after load   {ra['messages_loaded']:,} loaded again, {ra['new']} new, "
        f"raw.product_events {ra['raw_rows']:,} rows"
    )
    print(
        f"total                {r['total_to_core_signals_s']:.1f} s from the first request to "
        f"{i['accepted']:,} events in core.signals (intake + load + signals)"
    )
    rss = r["bench_peak_rss_mb"]
    print(
        f"benchmark peak RSS   {rss['ru_maxrss']:,.0f} MB (load {rss['load']:,.0f} MB, "
        f"signals {rss['signals']:,.0f} MB)"
    )
    for name, ok in r["checks"].items():
        print(f"  [{'ok' if ok else 'FAIL'}] {name}")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--batch", type=int, default=100, help="messages per /v1/batch request")
    parser.add_argument("--connections", type=int, default=32, help="concurrent connections")
    parser.add_argument("--workers", type=int, default=1, help="`devsignal api --workers`")
    parser.add_argument("--warehouse-url", help="default: DuckDB in the temporary DEVSIGNAL_HOME")
    parser.add_argument("--control-db-url", help="default: SQLite in the temporary DEVSIGNAL_HOME")
    parser.add_argument(
        "--postgres",
        nargs="?",
        const=PG_ADMIN_URL,
        metavar="ADMIN_URL",
        help=f"both stores in a fresh PostgreSQL database, dropped afterwards (default {PG_ADMIN_URL})",
    )
    parser.add_argument(
        "--emit-webhooks",
        action="store_true",
        help="rebuild core.signals inside emit_changes, as the asset does (1 outbox event a signal)",
    )
    parser.add_argument("--keep", action="store_true", help="keep the temporary directory")
    parser.add_argument("--json", action="store_true", help="print the result as JSON")
    args = parser.parse_args()
    if args.events < 1 or args.batch < 1 or args.connections < 1:
        parser.error("--events, --batch and --connections must be positive")

    home = Path(tempfile.mkdtemp(prefix="bench_ingest_"))
    try:
        if args.postgres:
            with fresh_pg_database(args.postgres, args.keep) as url:
                result = run(args, home, url, url)
        else:
            result = run(
                args,
                home,
                args.warehouse_url or f"duckdb:///{home / 'warehouse.duckdb'}",
                args.control_db_url or f"sqlite:///{home / 'control.db'}",
            )
    finally:
        if args.keep:
            print(f"kept {home}", file=sys.stderr)
        else:
            shutil.rmtree(home, ignore_errors=True)
    if args.json:
        print(json.dumps(result, indent=2, default=str))
    else:
        report(result)
    sys.exit(0 if result["ok"] else 1)


if __name__ == "__main__":
    main()
