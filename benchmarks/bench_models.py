"""Benchmark: the dbt_like_sql models over 10,000,000 signals and 100,000 accounts.

    python -m benchmarks.bench_models                          # DuckDB (make bench-models)
    python -m benchmarks.bench_models --signals 1000000         # smaller
    python -m benchmarks.bench_models --warehouse-url postgresql://postgres@127.0.0.1:5432/bench

Inputs come from devsignal_pipelines.sandbox.analytics_world (the generator the model tests
use). Two processes, so the refresh's peak RSS is its own, not the generator's:
  prepare   generate core.signals / companies / contacts / deals and bulk-load them
  measure   in one run, each printed in seconds:
            floor        one group-by scan of core.signals (best of 3)
            direct       every model's compiled SQL run straight in the warehouse (CREATE TABLE AS),
                         per model
            dagster      a full refresh of all models through Dagster (the sql_models_refresh
                         job, execute_in_process), per model from its metadata
            incremental  1% more signals (newly ingested), then a normal (incremental) run
Targets (issue 5): dagster <= 10x floor; dagster overhead over direct < 30%; incremental <= 20% of
the full refresh; peak RSS < 4 GB.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pandas as pd

ANCHOR = datetime(2026, 11, 20, tzinfo=UTC)


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _warehouse_url(args: argparse.Namespace) -> str:
    return args.warehouse_url or f"duckdb:///{Path(args.dir) / 'warehouse.duckdb'}"


def load_frame(warehouse, spec, frame: pd.DataFrame) -> None:
    """Bulk-load a generated frame (DuckDB: INSERT from the Arrow-backed frame; PostgreSQL: COPY)."""
    with warehouse.transaction() as tx:
        if warehouse.dialect == "duckdb":
            tx.con.register("_bench_frame", frame)
            columns = ", ".join(spec.column_names)
            casts = ", ".join(
                f"CAST({c} AS {spec.column_type(c, 'duckdb')})" for c in spec.column_names
            )
            tx.execute_sql(
                f"INSERT INTO {spec.qualified_name} ({columns}) SELECT {casts} FROM _bench_frame"
            )
            tx.con.unregister("_bench_frame")
        else:
            tx.merge(spec, frame)
            tx.execute_sql(f"ANALYZE {spec.qualified_name}")


def prepare(args: argparse.Namespace) -> dict:
    from devsignal_pipelines.lib.stores.tables import (
        CORE_COMPANIES,
        CORE_CONTACTS,
        CORE_DEALS,
        CORE_SIGNALS,
    )
    from devsignal_pipelines.lib.stores.warehouse import Warehouse
    from devsignal_pipelines.sandbox.analytics_world import generate_analytics_inputs

    started = time.perf_counter()
    frames = generate_analytics_inputs(
        seed=args.seed, accounts=args.accounts, signals=args.signals, anchor=ANCHOR
    )
    generated = time.perf_counter() - started
    warehouse = Warehouse(_warehouse_url(args))
    warehouse.ensure_tables()
    started = time.perf_counter()
    for spec in (CORE_COMPANIES, CORE_CONTACTS, CORE_DEALS, CORE_SIGNALS):
        load_frame(warehouse, spec, frames[spec.qualified_name])
    return {
        "signals": len(frames["core.signals"]),
        "companies": len(frames["core.companies"]),
        "generate_s": round(generated, 2),
        "load_s": round(time.perf_counter() - started, 2),
        "peak_rss_mb": round(_peak_rss_mb()),
    }


def _timed(fn) -> float:
    started = time.perf_counter()
    fn()
    return time.perf_counter() - started


def measure(args: argparse.Namespace) -> dict:
    import dagster as dg

    from devsignal_pipelines.definitions import build_definitions
    from devsignal_pipelines.defs.resources import ControlDBResource, WarehouseResource
    from devsignal_pipelines.lib.sql_models import compile_model, load_project
    from devsignal_pipelines.lib.stores.tables import CORE_SIGNALS
    from devsignal_pipelines.lib.stores.warehouse import Warehouse
    from devsignal_pipelines.runner import run_sql_models

    url = _warehouse_url(args)
    warehouse = Warehouse(url)
    project = load_project()
    report: dict = {"engine": warehouse.dialect}

    floor_sql = "SELECT organization_id, signal_type, count(*) AS n FROM core.signals GROUP BY 1, 2"
    report["floor_s"] = round(
        min(_timed(lambda: warehouse.read_df(floor_sql)) for _ in range(3)), 3
    )

    direct: dict[str, float] = {}
    for model in project.order():
        sql = compile_model(project, model, as_of=ANCHOR, dialect=warehouse.dialect)
        kind = "VIEW" if model.materialized == "view" else "TABLE"

        def build(model=model, sql=sql, kind=kind) -> None:
            with warehouse.transaction() as tx:
                tx.execute_sql(f"CREATE SCHEMA IF NOT EXISTS {model.layer}")
                if warehouse.dialect == "postgres":
                    for name, value in model.postgres_settings.items():
                        tx.execute_sql(f"SET LOCAL {name} = '{value}'")
                tx.execute_sql(f"DROP {kind} IF EXISTS {model.relation} CASCADE")
                tx.execute_sql(f"CREATE {kind} {model.relation} AS {sql}")

        direct[model.relation] = round(_timed(build), 3)
    report["direct_s"] = round(sum(direct.values()), 3)
    report["direct_per_model_s"] = direct

    control_url = f"sqlite:///{Path(args.dir) / 'control.db'}"
    defs = build_definitions(
        warehouse=WarehouseResource(url=url), control_db=ControlDBResource(url=control_url)
    )
    with dg.DagsterInstance.ephemeral() as instance:

        def dagster_run(full_refresh: bool) -> tuple[float, dict[str, float]]:
            outcome = run_sql_models(
                defs, instance, full_refresh=full_refresh, as_of=ANCHOR.isoformat()
            )
            if not outcome.success:
                raise SystemExit(f"models failed: {outcome.error}")
            per_model = {
                key.replace("/", "."): meta.get("build_seconds")
                for key, meta in outcome.materializations.items()
            }
            return outcome.seconds, per_model

        report["dagster_full_s"], report["dagster_per_model_s"] = dagster_run(True)
        report["dagster_full_s"] = round(report["dagster_full_s"], 3)
        report["sql_in_dagster_s"] = round(sum(report["dagster_per_model_s"].values()), 3)

        new = warehouse.read_df(
            f"SELECT * FROM core.signals USING SAMPLE {args.increment_pct}% (bernoulli)"
            if warehouse.dialect == "duckdb"
            else f"SELECT * FROM core.signals TABLESAMPLE BERNOULLI ({args.increment_pct})"
        )
        shift = timedelta(hours=6)
        new["signal_id"] = "inc:" + new["signal_id"].astype(str)
        new["occurred_at"] = (
            pd.to_datetime(new["occurred_at"], utc=True).clip(
                lower=pd.Timestamp(ANCHOR - timedelta(days=3))
            )
            - shift
        )
        new["ingested_at"] = pd.Timestamp(ANCHOR)
        load_frame(warehouse, CORE_SIGNALS, new)
        report["increment_signals"] = len(new)
        report["dagster_incremental_s"], report["incremental_per_model_s"] = dagster_run(False)
        report["dagster_incremental_s"] = round(report["dagster_incremental_s"], 3)

    report["peak_rss_mb"] = round(_peak_rss_mb())
    report["targets"] = {
        "full_within_10x_floor": report["dagster_full_s"] <= 10 * report["floor_s"],
        "full_vs_floor_x": round(report["dagster_full_s"] / report["floor_s"], 1),
        "overhead_over_direct_pct": round(
            100 * (report["dagster_full_s"] / report["direct_s"] - 1), 1
        ),
        "incremental_share_of_full_pct": round(
            100 * report["dagster_incremental_s"] / report["dagster_full_s"], 1
        ),
        "peak_rss_under_4gb": report["peak_rss_mb"] < 4096,
    }
    return report


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--signals", type=int, default=10_000_000)
    parser.add_argument("--accounts", type=int, default=100_000)
    parser.add_argument("--increment-pct", type=float, default=1.0)
    parser.add_argument("--seed", type=int, default=5)
    parser.add_argument("--warehouse-url", help="default: a DuckDB file in a temp directory")
    parser.add_argument("--phase", choices=["prepare", "measure"], help=argparse.SUPPRESS)
    parser.add_argument("--dir", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.phase:
        result = prepare(args) if args.phase == "prepare" else measure(args)
        print(json.dumps(result))
        return
    with tempfile.TemporaryDirectory(prefix="bench_models_") as directory:
        os.environ.setdefault("DEVSIGNAL_HOME", directory)
        for phase in ("prepare", "measure"):
            command = [sys.executable, "-m", "benchmarks.bench_models", "--phase", phase]
            command += ["--dir", directory, "--signals", str(args.signals)]
            command += ["--accounts", str(args.accounts), "--seed", str(args.seed)]
            command += ["--increment-pct", str(args.increment_pct)]
            if args.warehouse_url:
                command += ["--warehouse-url", args.warehouse_url]
            output = subprocess.run(command, check=True, capture_output=True, text=True).stdout
            print(f"{phase}: {json.dumps(json.loads(output.splitlines()[-1]), indent=2)}")


if __name__ == "__main__":
    main()
