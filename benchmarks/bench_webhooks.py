"""Benchmark: fan 100,000 webhook events out to a local receiver, signed, and log every delivery.

    python -m benchmarks.bench_webhooks [--events 100000] [--orgs 4] [--concurrency 64]
                                        [--batch-size 5000]

The receiver is a separate uvicorn process on loopback that verifies every request with the
`standardwebhooks` library (as a real receiver would) and counts distinct webhook ids per
endpoint. The events are written to a fresh SQLite control DB's outbox in bulk, one organization
per endpoint; then one `deliver_due` run (the delivery job's body) fans them out and sends them.
Target: >= 1,000 signed deliveries per second on 2 cores, receiver count == delivery log.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import socket
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime

import httpx
import psutil
import sqlalchemy as sa
from cryptography.fernet import Fernet

from devsignal_pipelines.lib.stores import control as c
from devsignal_pipelines.lib.stores.control import ControlDB
from devsignal_pipelines.lib.webhooks import store
from devsignal_pipelines.lib.webhooks.delivery import deliver_due
from devsignal_pipelines.lib.webhooks.events import Event
from devsignal_pipelines.lib.webhooks.outbox import write_events
from devsignal_pipelines.lib.webhooks.settings import WebhookSettings, parse_networks

RECEIVER = """
import json
from standardwebhooks import Webhook
secrets = json.loads(SECRETS)
hooks = {path: Webhook(s) for path, s in secrets.items()}
seen = {path: set() for path in secrets}
stats = {"requests": 0, "bad": 0}

async def app(scope, receive, send):
    if scope["type"] != "http":
        return
    body = b""
    while True:
        message = await receive()
        body += message.get("body", b"")
        if not message.get("more_body"):
            break
    path = scope["path"]
    if scope["method"] == "GET":
        reply = json.dumps({**stats, "distinct": {p: len(s) for p, s in seen.items()}}).encode()
        status = 200
    else:
        stats["requests"] += 1
        headers = {k.decode(): v.decode() for k, v in scope["headers"]}
        try:
            hooks[path].verify(body, headers)
            seen[path].add(headers["webhook-id"])
            status, reply = 204, b""
        except Exception:
            stats["bad"] += 1
            status, reply = 401, b"bad signature"
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-length", str(len(reply)).encode())]})
    await send({"type": "http.response.body", "body": reply})
"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--orgs", type=int, default=4)
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--batch-size", type=int, default=5000)
    args = parser.parse_args()

    os.environ["DEVSIGNAL_SECRET_KEY"] = Fernet.generate_key().decode()
    tmp = tempfile.mkdtemp(prefix="bench_webhooks_")
    control = ControlDB(f"sqlite:///{tmp}/control.db")
    control.create_all()
    port = _free_port()
    settings = WebhookSettings(
        allowed_networks=parse_networks("127.0.0.1/32"),
        concurrency=args.concurrency,
        retry_schedule_s=(1, 5, 30),
    )
    orgs = [f"org-{i}" for i in range(args.orgs)]
    secrets = {}
    for org in orgs:
        control.add_organization(org)
        sub = store.subscribe(
            control, org, "signal.created", f"http://127.0.0.1:{port}/{org}", settings
        )
        secrets[f"/{org}"] = sub.secret

    receiver_dir = tempfile.mkdtemp(prefix="bench_receiver_")
    with open(f"{receiver_dir}/bench_receiver.py", "w") as f:
        f.write(RECEIVER.replace("SECRETS", repr(json.dumps(secrets))))
    receiver = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "uvicorn",
            "bench_receiver:app",
            "--port",
            str(port),
            "--log-level",
            "warning",
            "--no-access-log",
            "--loop",
            "uvloop",
            "--http",
            "httptools",
            "--app-dir",
            receiver_dir,
        ]
    )
    try:
        for _ in range(100):
            try:
                httpx.get(f"http://127.0.0.1:{port}/", timeout=1)
                break
            except httpx.HTTPError:
                time.sleep(0.1)

        now = datetime.now(UTC)
        started = time.perf_counter()
        events = [
            Event.build(
                orgs[i % len(orgs)],
                "signal.created",
                (f"sig-{i}",),
                now,
                {
                    "signal_id": f"sig-{i}",
                    "source": "twitter",
                    "signal_type": "twitter_mention",
                    "metadata": {"text": f"mention number {i} of acmedb"},
                },
            )
            for i in range(args.events)
        ]
        written = write_events(control, events)
        outbox_s = time.perf_counter() - started

        me, them = psutil.Process(), psutil.Process(receiver.pid)
        cpu_before = (sum(me.cpu_times()[:2]), sum(them.cpu_times()[:2]))
        started = time.perf_counter()
        report = deliver_due(control, settings, batch_size=args.batch_size)
        deliver_s = time.perf_counter() - started
        sender_cpu = (sum(me.cpu_times()[:2]) - cpu_before[0]) / deliver_s
        receiver_cpu = (sum(them.cpu_times()[:2]) - cpu_before[1]) / deliver_s

        counts = httpx.get(f"http://127.0.0.1:{port}/", timeout=10).json()
        with control.engine.connect() as conn:
            logged = conn.execute(
                sa.select(sa.func.count())
                .select_from(c.webhook_deliveries)
                .where(c.webhook_deliveries.c.status == "succeeded")
            ).scalar_one()
            attempts = conn.execute(
                sa.select(sa.func.count()).select_from(c.webhook_delivery_attempts)
            ).scalar_one()
        received = sum(counts["distinct"].values())
        receiver_rss = psutil.Process(receiver.pid).memory_info().rss
    finally:
        receiver.terminate()
        receiver.wait()
    max_rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"events written to the outbox: {written:,} in {outbox_s:.1f} s")
    print(
        f"deliveries: {report.succeeded:,} succeeded, {report.retrying} retrying, {report.failed} failed "
        f"in {deliver_s:.1f} s = {report.succeeded / deliver_s:,.0f} signed deliveries/s (fan-out included)"
    )
    print(
        f"receiver: {counts['requests']:,} requests, {received:,} distinct verified webhook ids, "
        f"{counts['bad']} bad signatures; delivery log: {logged:,} succeeded, {attempts:,} attempts logged"
    )
    print(f"receiver count == delivery log: {received == logged == args.events}")
    print(
        f"CPU while delivering: sender {sender_cpu:.0%}, receiver {receiver_cpu:.0%} of one core; "
        f"load average {os.getloadavg()[0]:.2f} (other work on the machine skews the numbers)"
    )
    print(
        f"peak RSS: {max_rss_mb:,.0f} MB (benchmark process), receiver {receiver_rss / 2**20:,.0f} MB"
    )
    sys.exit(0 if received == logged == args.events and counts["bad"] == 0 else 1)


if __name__ == "__main__":
    main()
