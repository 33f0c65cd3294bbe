"""Enrichment end to end: sandbox Clearbit-style API -> cache -> enriched core tables and coverage."""

from __future__ import annotations

import json

import pandas as pd
import pytest
import sqlalchemy as sa

from devsignal_pipelines.lib.sources.enrichment.firmographics import map_company
from devsignal_pipelines.lib.stores import control as c
from devsignal_pipelines.sandbox.enrichment.api import enrichment_api
from devsignal_pipelines.sandbox.faults import Faults
from tests.integration.conftest import TOKEN_ENV

DUCKDB_ONLY = pytest.mark.parametrize("stores", ["duckdb"], indirect=True)
QUIET = Faults(backoff_rate=0.0)


def _none(value):
    return None if pd.isna(value) else value


def _companies(pipeline, org: str):
    return pipeline.warehouse.read_df(
        "SELECT * FROM core.companies WHERE organization_id = :o ORDER BY company_id", {"o": org}
    ).set_index("domain")


def test_companies_and_contacts_are_enriched_and_cached(make_pipeline, world) -> None:
    pipeline = make_pipeline(QUIET)
    api = enrichment_api(pipeline.server.state)
    org = world.organizations[0].id
    outcome = pipeline.sync(org, "enrichment")
    assert outcome.success, outcome.error

    companies = _companies(pipeline, org)
    truths = {t.key: t for t in api.truth.truths("company") if t.key in companies.index}
    found_now = [d for d, t in truths.items() if t.status == "found" and not t.queued_first]
    assert found_now
    for domain in found_now:
        expected = map_company(truths[domain].body)
        row = companies.loc[domain]
        for field in ("industry", "employees_range", "city", "twitter_handle"):
            assert _none(row[field]) == expected[field], (domain, field)
        stack = row["tech_stack"]
        assert (json.loads(stack) if isinstance(stack, str) else list(stack)) == expected[
            "tech_stack"
        ]
    contacts = pipeline.warehouse.read_df(
        "SELECT * FROM core.contacts WHERE organization_id = :o", {"o": org}
    )
    assert contacts["title"].notna().any() and contacts["employment_company_id"].notna().any()

    # A second run inside the TTL asks only for what was queued (202) the first time.
    queued = {
        (t.kind, t.key)
        for kind in ("company", "person")
        for t in api.truth.truths(kind)
        if t.queued_first
    }
    api.reset_counters()
    again = pipeline.sync(org, "enrichment")
    assert again.success
    assert set(api.calls) <= queued
    meta = again.materializations["raw/enrichment_cache"]
    assert meta["lookups"] == sum(api.calls.values()) and meta["cache_hits"] > 0
    # Steady state: found answers refreshed every 30 days, not found ones every 7, not daily.
    cached = pipeline.warehouse.read_df(
        "SELECT status, count(*) AS n FROM raw.enrichment_cache WHERE organization_id = :o "
        "AND status IN ('found', 'not_found') GROUP BY 1",
        {"o": org},
    ).set_index("status")["n"]
    assert (
        0
        < meta["expected_refresh_calls_per_day"]
        <= round(cached.get("found", 0) / 30 + cached.get("not_found", 0) / 7, 2) + 0.01
        < cached.sum()
    )

    coverage = pipeline.warehouse.read_df(
        "SELECT * FROM analytics.enrichment_coverage WHERE organization_id = :o", {"o": org}
    ).set_index("kind")
    assert 0 < coverage.loc["company", "enriched_share"] <= 1
    assert coverage.loc["company", "queued"] == 0  # the queued ones answered on the second run


@DUCKDB_ONLY
def test_user_edits_win_and_the_crm_is_never_overwritten(make_pipeline, world) -> None:
    pipeline = make_pipeline(QUIET)
    org = world.organizations[1].id
    api = enrichment_api(pipeline.server.state)
    domain = next(t.key for t in api.truth.truths("company") if t.status == "found" and not t.queued_first
                  and t.key in {x.domain for x in world.companies if x.organization_id == org})  # fmt: skip
    with pipeline.control.begin() as conn:
        conn.execute(
            sa.update(c.companies)
            .where(c.companies.c.organization_id == org, c.companies.c.domain == domain)
            .values(name="Our Name For Them", description="Hand-written account notes")
        )
    before = pipeline.control.read_df(sa.select(c.companies).order_by(c.companies.c.id))
    assert pipeline.sync(org, "enrichment").success
    row = _companies(pipeline, org).loc[domain]
    assert (row["name"], row["description"]) == ("Our Name For Them", "Hand-written account notes")
    assert row["industry"] is not None and row["enriched_at"] is not None
    after = pipeline.control.read_df(sa.select(c.companies).order_by(c.companies.c.id))
    assert before.equals(after)


@DUCKDB_ONLY
def test_bad_domains_and_emails_are_rejected_before_any_call(make_pipeline, world) -> None:
    pipeline = make_pipeline(QUIET)
    org = world.organizations[2].id
    with pipeline.control.begin() as conn:
        conn.execute(
            sa.insert(c.companies).values(
                id="bad-1", organization_id=org, name="Bad", domain="not a domain"
            )
        )
        conn.execute(
            sa.insert(c.contacts).values(
                id="bad-2", organization_id=org, full_name="X", email="nobody@", source="crm"
            )
        )
    api = enrichment_api(pipeline.server.state)
    outcome = pipeline.sync(org, "enrichment")
    assert outcome.success, outcome.error
    assert outcome.materializations["raw/enrichment_cache"]["rejected_before_call"] == 2
    assert ("company", "not a domain") not in api.calls
    cached = pipeline.warehouse.read_df(
        "SELECT status, http_status FROM raw.enrichment_cache WHERE organization_id = :o AND lookup_key IN "
        "('not a domain', 'nobody@')",
        {"o": org},
    )
    assert (
        cached["status"].tolist() == ["invalid", "invalid"] and cached["http_status"].isna().all()
    )


@DUCKDB_ONLY
def test_concurrency_refusals_are_waited_out_and_never_more_than_five_in_flight(
    make_pipeline, world
) -> None:
    pipeline = make_pipeline(QUIET)
    api = enrichment_api(pipeline.server.state)
    api.configure(
        max_concurrent=2, latency_s=0.02
    )  # stricter than our 5: force 429s and 400 rate_limits
    org = world.organizations[0].id
    outcome = pipeline.sync(org, "enrichment")
    assert outcome.success, outcome.error
    assert outcome.materializations["raw/enrichment_cache"]["rate_limit_waits"] > 0
    assert api.refusals and api.peak_in_flight <= 5
    statuses = pipeline.warehouse.read_df(
        "SELECT DISTINCT status FROM raw.enrichment_cache WHERE organization_id = :o", {"o": org}
    )["status"]
    assert "found" in set(statuses)


@DUCKDB_ONLY
def test_a_missing_or_revoked_key_names_the_organization_and_variable(
    make_pipeline, world, monkeypatch
) -> None:
    pipeline = make_pipeline(QUIET)
    org = world.organizations[0].id
    monkeypatch.setenv(TOKEN_ENV, "revoked-key")
    outcome = pipeline.sync(org, "enrichment")
    assert not outcome.success and f"'{org}'" in outcome.error and TOKEN_ENV in outcome.error
    assert "revoked-key" not in outcome.error
    monkeypatch.delenv(TOKEN_ENV)
    outcome = pipeline.sync(org, "enrichment")
    assert not outcome.success and f"{TOKEN_ENV} is not set" in outcome.error
