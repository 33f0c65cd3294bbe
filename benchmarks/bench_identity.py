"""Benchmark: resolve 1,000,000 author profiles against 200,000 contacts and 50,000 companies.

    python -m benchmarks.bench_identity                      # DuckDB warehouse, SQLite control DB
    python -m benchmarks.bench_identity --authors 100000     # smaller
    python -m benchmarks.bench_identity --warehouse-url postgresql://postgres@127.0.0.1/bench \\
        --control-url postgresql://postgres@127.0.0.1/bench

The world comes from devsignal_pipelines.sandbox.identity_scale (70% X, 30% Stack Overflow, one
organization, ground truth per profile). Each phase runs in a fresh process, so the peak RSS
printed for the resolution is the resolution's own (imports included), not the generator's:
  prepare   generate the world, load raw.twitter_users / raw.so_users and the control DB
  resolve   lib.identity_resolve.resolve_identities: resolution (read CRM inputs, stage them,
            set-based SQL) and write-back (new contacts + identities into the control DB,
            core.identity_links replaced) timed separately
  rerun     the same again: nothing new, links rewritten identically
then precision and recall per platform and per kind of profile.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd

ORG = "scale"


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _stores(args: argparse.Namespace) -> tuple[str, str]:
    directory = Path(args.dir)
    warehouse = args.warehouse_url or f"duckdb:///{directory / 'warehouse.duckdb'}"
    control = args.control_url or f"sqlite:///{directory / 'control.db'}"
    return warehouse, control


def prepare(args: argparse.Namespace) -> dict:
    from devsignal_pipelines.lib.sources.crm.frames import insert_missing_frame
    from devsignal_pipelines.lib.stores import control as c
    from devsignal_pipelines.lib.stores.control import ControlDB
    from devsignal_pipelines.lib.stores.tables import RAW_SO_USERS, RAW_TWITTER_USERS
    from devsignal_pipelines.lib.stores.warehouse import Warehouse
    from devsignal_pipelines.sandbox.identity_scale import generate_identity_scale

    started = time.perf_counter()
    world = generate_identity_scale(
        args.authors, args.contacts, args.companies, args.twitter_share, args.seed
    )
    generated = time.perf_counter() - started
    world.truth.to_parquet(Path(args.dir) / "truth.parquet")

    started = time.perf_counter()
    warehouse_url, control_url = _stores(args)
    warehouse = Warehouse(warehouse_url)
    warehouse.ensure_tables()
    with warehouse.transaction() as tx:
        tx.execute("DELETE FROM core.identity_links WHERE organization_id = :o", {"o": ORG})
        tx.merge(RAW_TWITTER_USERS, world.twitter_users)
        tx.merge(RAW_SO_USERS, world.so_users)
    control = ControlDB(control_url)
    control.create_all()
    control.add_organization(ORG)
    now = pd.Timestamp("2026-11-01", tz="UTC")
    with control.begin() as conn:
        insert_missing_frame(
            control, conn, c.companies, world.companies.assign(created_at=now, updated_at=now)
        )
        insert_missing_frame(
            control, conn, c.contacts, world.contacts.assign(created_at=now, updated_at=now)
        )
        insert_missing_frame(
            control,
            conn,
            c.contact_identities,
            world.identities.assign(method="crm", confidence=1.0, evidence="{}", created_at=now),
        )
    return {
        "generate_s": generated,
        "load_s": time.perf_counter() - started,
        "twitter_users": len(world.twitter_users),
        "so_users": len(world.so_users),
        "contacts": len(world.contacts),
        "companies": len(world.companies),
        "crm_identities": len(world.identities),
        "peak_rss_mb": _peak_rss_mb(),
    }


def resolve(args: argparse.Namespace) -> dict:
    from devsignal_pipelines.lib.identity.resolve import resolve_identities
    from devsignal_pipelines.lib.stores.control import ControlDB
    from devsignal_pipelines.lib.stores.warehouse import Warehouse

    warehouse_url, control_url = _stores(args)
    rss_before = _peak_rss_mb()
    report = resolve_identities(Warehouse(warehouse_url), ControlDB(control_url), ORG)
    return {
        "seconds": report.seconds,
        "resolution_s": report.resolution_seconds,
        "write_back_s": report.write_back_seconds,
        "contacts_created": report.contacts_created,
        "identities_created": report.identities_created,
        "links_inserted": report.links_inserted,
        "links_deleted": report.links_deleted,
        "links": report.links,
        "rss_after_imports_mb": rss_before,
        "peak_rss_mb": _peak_rss_mb(),
    }


def score(args: argparse.Namespace) -> dict:
    from devsignal_pipelines.lib.identity.rules import score_links
    from devsignal_pipelines.lib.stores.warehouse import Warehouse

    warehouse_url, _ = _stores(args)
    links = Warehouse(warehouse_url).read_df(
        "SELECT platform, platform_user_id, contact_id, company_id, method "
        "FROM core.identity_links WHERE organization_id = :o",
        {"o": ORG},
    )
    truth = pd.read_parquet(Path(args.dir) / "truth.parquet")
    result: dict = {}
    for platform, mine in links.groupby("platform"):
        expected = truth[truth["platform"] == platform]
        per_kind = {}
        for kind, of_kind in expected.groupby("kind"):
            kind_links = mine[mine["platform_user_id"].isin(of_kind["platform_user_id"])]
            per_kind[kind] = {
                **score_links(
                    kind_links, of_kind[["platform_user_id", "contact_id", "company_id"]]
                ),
                "methods": kind_links["method"].value_counts().to_dict(),
            }
        result[platform] = {
            **score_links(mine, expected[["platform_user_id", "contact_id", "company_id"]]),
            "by_kind": per_kind,
        }
    return result


PHASES = {"prepare": prepare, "resolve": resolve, "score": score}


def _run_phase(phase: str, argv: list[str]) -> dict:
    """Run one phase in a fresh interpreter; it prints its result as the last line of JSON."""
    completed = subprocess.run(
        [sys.executable, "-m", "benchmarks.bench_identity", "--phase", phase, *argv],
        check=True,
        capture_output=True,
        text=True,
    )
    return json.loads(completed.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--authors", type=int, default=1_000_000)
    parser.add_argument("--contacts", type=int, default=200_000)
    parser.add_argument("--companies", type=int, default=50_000)
    parser.add_argument("--twitter-share", type=float, default=0.7)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--warehouse-url", help="default: DuckDB file in --dir")
    parser.add_argument("--control-url", help="default: SQLite file in --dir")
    parser.add_argument("--dir", help="working directory (default: a temporary one)")
    parser.add_argument("--phase", choices=sorted(PHASES), help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.phase:
        print(json.dumps(PHASES[args.phase](args), default=str))
        return

    with tempfile.TemporaryDirectory() as tmp:
        args.dir = args.dir or tmp
        argv = [
            f"--authors={args.authors}", f"--contacts={args.contacts}",
            f"--companies={args.companies}", f"--twitter-share={args.twitter_share}",
            f"--seed={args.seed}", f"--dir={args.dir}",
            *([f"--warehouse-url={args.warehouse_url}"] if args.warehouse_url else []),
            *([f"--control-url={args.control_url}"] if args.control_url else []),
        ]  # fmt: skip
        prepared = _run_phase("prepare", argv)
        first = _run_phase("resolve", argv)
        again = _run_phase("resolve", argv)
        scores = _run_phase("score", argv)
    _print(args, prepared, first, again, scores)


def _print(args, prepared: dict, first: dict, again: dict, scores: dict) -> None:
    authors = prepared["twitter_users"] + prepared["so_users"]
    s = first["seconds"]
    print(
        f"warehouse            {_stores(args)[0].split(':', 1)[0]}  control {_stores(args)[1].split(':', 1)[0]}"
    )
    print(
        f"world                {authors:,} authors ({prepared['twitter_users']:,} X, "
        f"{prepared['so_users']:,} Stack Overflow), {prepared['contacts']:,} contacts, "
        f"{prepared['companies']:,} companies, {prepared['crm_identities']:,} CRM identities"
    )
    print(f"  generated in {prepared['generate_s']:.1f} s, loaded in {prepared['load_s']:.1f} s")
    print(
        f"resolution           {first['resolution_s']:.2f} s  "
        f"({authors / first['resolution_s']:,.0f} authors/s)"
    )
    print(f"  CRM inputs         {s['inputs']:.2f} s  (control DB -> warehouse temp tables)")
    print(f"  rules (SQL)        {s['resolve']:.2f} s")
    print(f"write-back           {first['write_back_s']:.2f} s")
    print(
        f"  control DB         {s['write_control']:.2f} s  ({first['contacts_created']:,} contacts, "
        f"{first['identities_created']:,} identities inserted)"
    )
    print(f"  identity_links     {s['write_links']:.2f} s")
    print(
        f"peak RSS             {first['peak_rss_mb']:,.0f} MB "
        f"(of which {first['rss_after_imports_mb']:,.0f} MB after imports)"
    )
    print(
        f"re-run               resolution {again['resolution_s']:.2f} s, write-back "
        f"{again['write_back_s']:.2f} s, {again['contacts_created']} contacts / "
        f"{again['identities_created']} identities created, {again['links_inserted']} links "
        f"inserted, {again['links_deleted']} deleted"
    )
    for platform, result in scores.items():
        print(
            f"{platform:<20} precision {result['precision']:.4f}  recall {result['recall']:.4f}  "
            f"({result['links_scored']:,} links claim a contact or company)"
        )
        for kind, k in result["by_kind"].items():
            methods = ", ".join(f"{m} {n:,}" for m, n in sorted(k["methods"].items()))
            print(
                f"  {kind:<14} precision {k['precision']:.4f} recall {k['recall']:.4f}  [{methods}]"
            )


if __name__ == "__main__":
    main()
