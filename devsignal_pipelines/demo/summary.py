"""The demo's closing summary: what landed in the warehouse and how good the identity links are."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path

import pandas as pd

from devsignal_pipelines.lib.identity.rules import score_links
from devsignal_pipelines.lib.stores.tables import WAREHOUSE_TABLES
from devsignal_pipelines.lib.stores.warehouse import Warehouse
from devsignal_pipelines.sandbox.first_party import crm_company_id, crm_contact_id
from devsignal_pipelines.sandbox.world import World
from devsignal_pipelines.settings import Settings


def identity_truth(
    world: World,
    organization_id: str,
    platform: str = "twitter",
    linked_x_contacts: dict[str, str] | None = None,
) -> pd.DataFrame:
    """Ground truth for one organization and platform: the contact / company each account should
    be linked to (None = nobody the organization can know).

    Stack Overflow users the CRM does not hold but who are on X too (``twitter_user_id``) should
    land on whatever contact the organization linked that X account to (`linked_x_contacts`,
    X user id -> contact id): merging them is right, anything else is wrong.
    """
    columns = ["platform_user_id", "contact_id", "company_id"]
    truth = {
        "twitter": world.twitter_truth,
        "stackoverflow": getattr(world, "so_truth", None) or {},
        "github": getattr(world, "github_truth", None) or {},
    }[platform]
    linked = linked_x_contacts or {}
    rows = []
    for uid, t in truth.items():
        own = t.organization_id == organization_id
        # The world's records are the CRM's; DevSignal's ids derive from the CRM's ids.
        contact = crm_contact_id(organization_id, t.contact_id) if own else None
        twin = getattr(t, "twitter_user_id", None)
        if contact is None and twin:
            contact = linked.get(twin)
        company = crm_company_id(organization_id, t.company_id) if own else None
        rows.append((str(uid), contact, company))
    return pd.DataFrame(rows, columns=columns)


def _links(warehouse: Warehouse, organization_id: str, platform: str) -> pd.DataFrame:
    return warehouse.read_df(
        "SELECT platform_user_id, contact_id, company_id, method FROM core.identity_links "
        "WHERE organization_id = :o AND platform = :p",
        {"o": organization_id, "p": platform},
    )


def identity_scores_by_platform(
    warehouse: Warehouse, world: World
) -> dict[str, dict[str, dict[str, float | int]]]:
    """organization -> platform -> precision, recall, links; Stack Overflow only when the world
    has its ground truth (``so_truth``)."""
    platforms = (
        ["twitter"]
        + (["stackoverflow"] if getattr(world, "so_truth", None) else [])
        + (["github"] if getattr(world, "github_truth", None) else [])
    )
    scores: dict[str, dict[str, dict[str, float | int]]] = {}
    for org in world.organizations:
        x_links = _links(warehouse, org.id, "twitter")
        linked = dict(zip(x_links["platform_user_id"], x_links["contact_id"], strict=True))
        for platform in platforms:
            links = x_links if platform == "twitter" else _links(warehouse, org.id, platform)
            truth = identity_truth(world, org.id, platform, linked)
            scores.setdefault(org.id, {})[platform] = {
                **score_links(links, truth),
                "authors": len(links),
            }
    return scores


def identity_scores(
    warehouse: Warehouse, world: World, platform: str = "twitter"
) -> dict[str, dict[str, float | int]]:
    """organization -> precision, recall and links for one platform."""
    return {
        org: by_platform[platform]
        for org, by_platform in identity_scores_by_platform(warehouse, world).items()
        if platform in by_platform
    }


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
    for org_id, by_platform in identity_scores_by_platform(warehouse, world).items():
        for platform, s in by_platform.items():
            echo(
                f"  {org_id:<8} {platform:<13} {s['authors']:>5} authors, {s['links_scored']:>4} "
                f"matched links: precision {s['precision']:.3f}, recall {s['recall']:.3f}"
            )

    echo("\nEnrichment coverage (analytics.enrichment_coverage)")
    # A person is looked up by email: contacts known only by a handle (most X, Stack Overflow and
    # GitHub authors) cannot be enriched, so the person share is read against those with one.
    coverage = warehouse.read_df(
        "SELECT e.organization_id, e.kind, e.records, e.enriched, e.enriched_share, e.queued, "
        "e.not_found, e.invalid, c.with_email FROM analytics.enrichment_coverage e LEFT JOIN ("
        "SELECT organization_id, count(email) AS with_email FROM core.contacts GROUP BY 1) c "
        "USING (organization_id) ORDER BY e.organization_id, e.kind"
    )
    for row in coverage.itertuples(index=False):
        lookable = ""
        if row.kind == "person" and row.with_email == row.with_email:  # not NaN
            lookable = f"; {int(row.with_email):,} have an email, the only ones a lookup can find"
        echo(
            f"  {row.organization_id:<8} {row.kind:<8} {row.enriched:>4,}/{row.records:<5,} enriched "
            f"({row.enriched_share:.0%}); queued {row.queued}, not found {row.not_found}, "
            f"invalid {row.invalid}{lookable}"
        )
    print_model_summary(warehouse, echo)
    # The published read path: sessions on it never block the pipeline (lib/stores/published.py).
    db = settings.read_path
    duckdb_cli = Path(sys.executable).parent / "duckdb"  # installed with the project (duckdb-cli)
    echo(
        "\nQuery it (a published copy: your session never blocks a sync; `devsignal read-path`):\n"
        f'  {duckdb_cli} -readonly {db} "SELECT signal_type, count(*) FROM core.signals GROUP BY 1"\n'
        f"  python -c \"import duckdb; print(duckdb.connect('{db}', read_only=True).sql('FROM core.signals LIMIT 5'))\"\n"
        "Open the UI (runs, materializations, metadata, checks): make dev  ->  http://127.0.0.1:3000"
    )


def print_model_summary(warehouse: Warehouse, echo: Callable[[str], None]) -> None:
    """Scores, the funnel and attribution, from the dbt_like_sql tables."""
    echo("\nAccount scores (core.account_scores): tiers, and the hottest accounts")
    scores = warehouse.read_df(
        "SELECT organization_id, company_name, score, tier, trend, score_change "
        "FROM core.account_scores ORDER BY organization_id, score DESC, company_name"
    )
    for org_id, frame in scores.groupby("organization_id"):
        tiers = frame["tier"].value_counts().to_dict()
        top = ", ".join(
            f"{r.company_name} {r.score:.0f} {r.trend.lower()}"
            for r in frame.head(3).itertuples(index=False)
        )
        echo(f"  {org_id:<8} {_fmt(tiers)} | top: {top}")
    echo("\nProduct funnel (analytics.signal_funnel, accounts; 30-day window)")
    funnel = warehouse.read_df(
        "SELECT organization_id, stage, accounts, conversion_from_first, in_progress "
        "FROM analytics.signal_funnel ORDER BY organization_id, funnel, step_order"
    )
    for org_id, frame in funnel.groupby("organization_id"):
        steps = " -> ".join(
            f"{r.stage} {r.accounts} ({r.conversion_from_first:.0%})"
            for r in frame.itertuples(index=False)
        )
        echo(f"  {org_id:<8} {steps}")
    echo("\nPipeline value by source, linear multi-touch (analytics.source_attribution)")
    attribution = warehouse.read_df(
        "SELECT organization_id, source, deals_touched, pipeline_value_linear "
        "FROM analytics.source_attribution ORDER BY organization_id, source"
    )
    for org_id, frame in attribution.groupby("organization_id"):
        parts = ", ".join(
            f"{r.source} {r.deals_touched} deals ${r.pipeline_value_linear:,.0f}"
            for r in frame.itertuples(index=False)
        )
        echo(f"  {org_id:<8} {parts}")


def _fmt(counts: dict) -> str:
    return ", ".join(f"{k} {v}" for k, v in sorted(counts.items()))
