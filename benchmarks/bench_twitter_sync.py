"""Benchmark: sync ~100,000 X posts for one organization from the sandbox on loopback.

    make bench                 # DuckDB warehouse in a temporary directory
    python -m benchmarks.bench_twitter_sync --warehouse-url postgresql://postgres@127.0.0.1/bench

The sandbox runs in its own process (as the real API would), so the numbers are the connector's:
tweets per second end to end (no rate-limit waits: the sandbox's window is set out of reach),
the split between HTTP, classification and writing, and this process's peak RSS.
"""

from __future__ import annotations

import argparse
import os
import resource
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

from devsignal_pipelines.lib.sources.twitter.client import XApiClient
from devsignal_pipelines.lib.sources.twitter.sync import sync_twitter_mentions
from devsignal_pipelines.lib.stores.warehouse import Warehouse
from devsignal_pipelines.sandbox.vocabulary import ORGANIZATIONS

# tweets=N generates N posts over all three products; ~38% match one organization's query.
WORLD_TWEETS = 265_000
TOKEN = "bench-token"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _start_sandbox(port: int, extra: list[str], faults: str) -> subprocess.Popen:
    """`devsignal sandbox serve` in its own process, as a real API would be; waits until healthy."""
    env = {**os.environ, "DEVSIGNAL_BENCH_TOKEN": TOKEN}
    process = subprocess.Popen(
        [sys.executable, "-m", "devsignal_pipelines.cli", "sandbox", "serve", "--port", str(port), *extra,
         "--faults", faults, "--token-env", "DEVSIGNAL_BENCH_TOKEN", "--anchor", "2026-11-20T00:00:00+00:00"],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/_sandbox/health", timeout=1).status_code == 200:
                return process
        except httpx.HTTPError:
            time.sleep(0.2)
    process.kill()
    raise RuntimeError("sandbox did not start within 180 s")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--world-tweets", type=int, default=WORLD_TWEETS)
    parser.add_argument("--warehouse-url", help="default: a DuckDB file in a temporary directory")
    args = parser.parse_args()

    port = _free_port()
    sandbox = _start_sandbox(port, ["--tweets", str(args.world_tweets)], faults="limit=1000000000")
    org = ORGANIZATIONS[0]
    try:
        with tempfile.TemporaryDirectory() as tmp:
            warehouse = Warehouse(args.warehouse_url or f"duckdb:///{Path(tmp) / 'bench.duckdb'}")
            warehouse.ensure_tables()

            def sync():
                with XApiClient(
                    f"http://127.0.0.1:{port}",
                    TOKEN,
                    organization_id=org.id,
                    token_env="DEVSIGNAL_BENCH_TOKEN",
                ) as client:
                    return sync_twitter_mentions(warehouse, client, org.id, org.keywords)

            report = sync()
            rerun_started = time.perf_counter()
            rerun = sync()  # incremental: asks only for posts newer than the saved since_id
            rerun_s = time.perf_counter() - rerun_started
    finally:
        sandbox.terminate()
        sandbox.wait(timeout=10)

    s = report.seconds
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"warehouse            {warehouse.dialect}")
    print(
        f"posts synced         {report.tweets_fetched:,} in {report.pages:,} pages ({report.tweets_new:,} new)"
    )
    print(f"authors              {report.users_new:,}")
    print(
        f"end to end           {s['total']:.2f} s  ->  {report.tweets_fetched / s['total']:,.0f} posts/s"
    )
    print(
        f"  fetch (HTTP+parse) {s['fetch']:.2f} s  (of which waiting on sockets {s['http']:.2f} s)"
    )
    print(f"  classify + frames  {s['classify']:.2f} s")
    print(f"  write (1 txn)      {s['write']:.2f} s")
    print(f"peak RSS             {peak_mb:,.0f} MB")
    print(
        f"incremental re-run   {rerun_s:.2f} s, {rerun.tweets_fetched} posts fetched (since_id {rerun.since_id_before})"
    )


if __name__ == "__main__":
    main()
