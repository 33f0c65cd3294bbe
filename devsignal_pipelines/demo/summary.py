"""The demo's closing summary: what landed in the warehouse and how good the identity links are."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path

import pandas as pd

from devsignal_pipelines.lib.identity import score_links
from devsignal_pipelines.lib.stores.tables import WAREHOUSE_TABLES
from devsignal_pipelines.lib.stores.warehouse import Warehouse
from devsignal_pipelines.sandbox.world import World
from devsignal_pipelines.settings import Settings


def identity_truth(world: World, organization_id: str) -> pd.DataFrame:
    """Ground truth for one organization: who each X account really is (None = nobody it knows)."""
    rows = [
        {
            "platform_user_id": uid,
            "contact_id": t.contact_id if t.organization_id == organization_id else None,
            "company_id": t.company_id if t.organization_id == organization_id else None,
        }
        for uid, t in world.twitter_truth.items()
    ]
    return pd.DataFrame(rows, columns=["platform_user_id", "contact_id", "company_id"])


def identity_scores(warehouse: Warehouse, world: World) -> dict[str, dict[str, float | int]]:
    scores = {}
    for org in world.organizations:
        links = warehouse.read_df(
            "SELECT platform_user_id, contact_id, company_id, method FROM core.identity_links "
            "WHERE organization_id = :o AND platform = 'twitter'",
            {"o": org.id},
        )
        scores[org.id] = {
            **score_links(links, identity_truth(world, org.id)),
            "authors": len(links),
        }
    return scores


def print_summary(settings: Settings, world: World, echo: Callable[[str], None]) -> None:
    warehouse = Warehouse(settings.warehouse_url)
    echo("\nRows per table")
    for spec in WAREHOUSE_TABLES:
        echo(
            f"  {spec.qualified_name:<22} {int(warehouse.scalar(f'SELECT count(*) FROM {spec.qualified_name}')):>8,}"
        )

    echo("\nX mentions per organization: sentiment and type")
    mix = warehouse.read_df(
        "SELECT organization_id, sentiment, tweet_type, count(*) AS n FROM raw.tweets GROUP BY ALL ORDER BY ALL"
        if warehouse.dialect == "duckdb"
        else "SELECT organization_id, sentiment, tweet_type, count(*) AS n FROM raw.tweets GROUP BY 1, 2, 3 ORDER BY 1, 2, 3"
    )
    for org_id, frame in mix.groupby("organization_id"):
        sentiment = frame.groupby("sentiment")["n"].sum().to_dict()
        types = frame.groupby("tweet_type")["n"].sum().to_dict()
        echo(f"  {org_id:<8} sentiment {_fmt(sentiment)} | type {_fmt(types)}")

    echo("\nIdentity resolution against the sandbox's ground truth (new contacts are not scored)")
    for org_id, s in identity_scores(warehouse, world).items():
        echo(
            f"  {org_id:<8} {s['authors']} authors, {s['links_scored']} matched links: "
            f"precision {s['precision']:.3f}, recall {s['recall']:.3f}"
        )
    db = settings.home / "warehouse.duckdb"
    duckdb_cli = Path(sys.executable).parent / "duckdb"  # installed with the project (duckdb-cli)
    echo(
        "\nQuery it:\n"
        f'  {duckdb_cli} -readonly {db} "SELECT signal_type, count(*) FROM core.signals GROUP BY 1"\n'
        f"  python -c \"import duckdb; print(duckdb.connect('{db}', read_only=True).sql('FROM core.signals LIMIT 5'))\"\n"
        "Open the UI (runs, materializations, metadata, checks): make dev  ->  http://127.0.0.1:3000"
    )


def _fmt(counts: dict) -> str:
    return ", ".join(f"{k} {v}" for k, v in sorted(counts.items()))
