"""Benchmark: Stack Overflow sync throughput (items per second with pacing off).

    python -m benchmarks.bench_stackoverflow_sync [--scale 10]

The sandbox runs in its own process with backoff turned off; the sync reads one organization's
tracked tags by activity, their answers (100 questions a call) and owners' profiles (100 a call)
into a fresh DuckDB warehouse, as the Dagster asset does.
"""

from __future__ import annotations

import argparse
import resource
import tempfile
import time
from pathlib import Path

from benchmarks.bench_twitter_sync import TOKEN, _free_port, _start_sandbox
from devsignal_pipelines.lib.sources.stackoverflow.client import StackExchangeClient
from devsignal_pipelines.lib.sources.stackoverflow.sync import sync_stackoverflow
from devsignal_pipelines.lib.stores.warehouse import Warehouse
from devsignal_pipelines.sandbox.vocabulary import ORGANIZATIONS


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--scale", type=float, default=10.0, help="world scale (10 = ~3,000 questions per org)"
    )
    args = parser.parse_args()
    port = _free_port()
    sandbox = _start_sandbox(
        port,
        extra=["--scale", str(args.scale), "--tweets", "0"],
        faults="backoff=0,quota=100000000",
    )
    org = ORGANIZATIONS[0]
    try:
        with tempfile.TemporaryDirectory() as tmp:
            warehouse = Warehouse(f"duckdb:///{Path(tmp) / 'bench.duckdb'}")
            warehouse.ensure_tables()
            started = time.perf_counter()
            with StackExchangeClient(
                f"http://127.0.0.1:{port}",
                TOKEN,
                organization_id=org.id,
                key_env="BENCH",
                pace_s=0.0,
                quota_reserve=0,
            ) as client:
                report = sync_stackoverflow(warehouse, client, org.id, org.tags)
                calls = client.stats.calls
            seconds = time.perf_counter() - started
    finally:
        sandbox.terminate()
        sandbox.wait(timeout=10)
    items = report.questions_fetched + report.answers_new + report.users_new
    print(
        f"questions {report.questions_fetched:,}, answers {report.answers_new:,}, users {report.users_new:,}"
    )
    print(
        f"API calls {calls:,}; {seconds:.2f} s end to end -> {items / seconds:,.0f} items/s (pacing off)"
    )
    print(f"peak RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:,.0f} MB")


if __name__ == "__main__":
    main()
