"""Benchmark: enrich 10,000 companies of which 80% are already cached.

    python -m benchmarks.bench_enrichment [--companies 10000] [--cached 0.8]

A world with N companies for one organization is served by the sandbox (in this process); the
cache is pre-filled with fresh answers for the first 80% of domains. The run must ask the API only
for the remaining ~20% and report calls per second with 5 requests in flight.
"""

from __future__ import annotations

import argparse
import dataclasses
import tempfile
import time
from pathlib import Path

import pandas as pd

from devsignal_pipelines.demo.seed import seed_first_party
from devsignal_pipelines.lib.sources.enrichment.client import EnrichmentClient
from devsignal_pipelines.lib.sources.enrichment.sync import sync_enrichment
from devsignal_pipelines.lib.stores.control import ControlDB
from devsignal_pipelines.lib.stores.tables import RAW_ENRICHMENT_CACHE
from devsignal_pipelines.lib.stores.warehouse import Warehouse
from devsignal_pipelines.sandbox.enrichment.api import enrichment_api
from devsignal_pipelines.sandbox.records import Company
from devsignal_pipelines.sandbox.server import SandboxServer
from devsignal_pipelines.sandbox.world import generate_world

TOKEN = "bench-key"


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--companies", type=int, default=10_000)
    parser.add_argument("--cached", type=float, default=0.8)
    args = parser.parse_args()

    base = generate_world(seed=7, scale=0.2, tweets=0, so_questions=0)
    org = base.organizations[0].id
    companies = [
        Company(f"bench-{i:06d}", org, f"Bench Co {i}", f"benchco{i:06d}.io")
        for i in range(args.companies)
    ]
    world = dataclasses.replace(
        base,
        companies=companies,
        contacts=[],
        identities=[],
        deals=[],
        product_signals=[],
        so_identities=[],
    )
    with tempfile.TemporaryDirectory() as tmp, SandboxServer(world, tokens=[TOKEN]) as server:
        control = ControlDB(f"sqlite:///{Path(tmp) / 'control.db'}")
        seed_first_party(control, world)
        warehouse = Warehouse(f"duckdb:///{Path(tmp) / 'warehouse.duckdb'}")
        warehouse.ensure_tables()
        cached = sorted(c.domain for c in companies)[: int(args.companies * args.cached)]
        with warehouse.transaction() as tx:
            tx.merge(
                RAW_ENRICHMENT_CACHE,
                pd.DataFrame({"organization_id": org, "kind": "company", "lookup_key": cached, "status": "not_found",
                              "http_status": 404, "fetched_at": pd.Timestamp.now(tz="UTC")}),
            )  # fmt: skip
        api = enrichment_api(server.state)
        started = time.perf_counter()
        with EnrichmentClient(
            server.base_url,
            TOKEN,
            organization_id=org,
            key_env="BENCH",
            max_in_flight=5,
            batch_pause_s=0.0,
        ) as client:
            report = sync_enrichment(warehouse, control, client, org, ["company"])
        seconds = time.perf_counter() - started
    calls = sum(api.calls.values())
    print(f"companies {args.companies:,}, cached beforehand {len(cached):,} ({args.cached:.0%})")
    print(f"API calls {calls:,} (lookups {report.looked_up:,}, cache hits {report.cache_hits:,})")
    print(f"answers {report.by_status}")
    print(
        f"{seconds:.2f} s -> {calls / seconds:,.0f} calls/s with 5 in flight; peak in flight {api.peak_in_flight}"
    )


if __name__ == "__main__":
    main()
