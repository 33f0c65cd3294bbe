"""X mentions end to end: sandbox over HTTP -> Dagster runs -> DuckDB / PostgreSQL."""

from __future__ import annotations

import json
from datetime import timedelta

import pandas as pd
import pytest

from devsignal_pipelines.demo.summary import identity_scores
from devsignal_pipelines.sandbox.faults import Faults
from devsignal_pipelines.sandbox.first_party import PRODUCT_SIGNAL_TYPES
from tests.integration.conftest import TOKEN, TOKEN_ENV, expected_tweet_ids

DUCKDB_ONLY = pytest.mark.parametrize("stores", ["duckdb"], indirect=True)
TABLES = {
    "raw.tweets": "organization_id, tweet_id",
    "raw.twitter_users": "organization_id, user_id",
    "raw.sync_cursors": "organization_id, source, cursor_name",
    "core.identity_links": "organization_id, platform, platform_user_id",
    "core.contacts": "organization_id, contact_id",
    "core.companies": "organization_id, company_id",
    "core.signals": "organization_id, signal_id",
}


def _ids(pipeline, organization_id: str) -> list[str]:
    frame = pipeline.warehouse.read_df(
        "SELECT tweet_id FROM raw.tweets WHERE organization_id = :o ORDER BY tweet_id",
        {"o": organization_id},
    )
    return frame["tweet_id"].tolist()


def test_full_sync_matches_the_sandbox_ground_truth(make_pipeline, world) -> None:
    pipeline = make_pipeline()
    for org in world.organizations:
        outcome = pipeline.sync(org.id)
        assert outcome.success, outcome.error
        assert not outcome.failed_checks
        # The product's Segment messages waiting in the intake: loaded by their own job.
        assert pipeline.sync(org.id, "events").success
        expected = expected_tweet_ids(world, org.id, world.anchor)
        assert expected, "the world should give every organization some mentions"
        assert set(_ids(pipeline, org.id)) == expected  # nothing lost, no other tenant's posts

    tweets = pipeline.warehouse.read_df("SELECT * FROM raw.tweets")
    assert tweets["sentiment"].isin(["positive", "negative", "neutral"]).all()
    assert tweets["tweet_type"].isin(["question", "complaint", "praise", "mention"]).all()
    assert (
        tweets["matched_keywords"]
        .map(lambda v: len(json.loads(v) if isinstance(v, str) else v) > 0)
        .all()
    )

    # Two tenants never share rows: every author row belongs to a post of the same organization.
    orphans = pipeline.warehouse.scalar(
        "SELECT count(*) FROM raw.twitter_users u WHERE NOT EXISTS (SELECT 1 FROM raw.tweets t "
        "WHERE t.organization_id = u.organization_id AND t.author_id = u.user_id)"
    )
    assert orphans == 0

    # Every post became exactly one signal, resolved to a contact; first-party signals are there too.
    signals = pipeline.warehouse.read_df("SELECT * FROM core.signals")
    twitter = signals[signals["source"] == "twitter"]
    assert len(twitter) == len(tweets) and twitter["contact_id"].notna().all()
    assert set(twitter["signal_type"]) <= {
        "twitter_mention",
        "twitter_question",
        "twitter_complaint",
        "twitter_praise",
    }
    product = signals[signals["source"] == "product"]
    # Stars come from the GitHub connector; the product sends the rest of its funnel.
    sent = [s for s in world.product_signals if s.signal_type in PRODUCT_SIGNAL_TYPES]
    assert len(product) == len(sent)
    assert product["contact_id"].notna().all()  # anonymous visits linked once identified

    for org_id, score in identity_scores(pipeline.warehouse, world).items():
        assert score["links_scored"] > 0, org_id
        assert score["precision"] >= 0.99, (org_id, score)


def test_rerun_changes_no_table(make_pipeline, world) -> None:
    pipeline = make_pipeline()
    org = world.organizations[0].id
    assert pipeline.sync(org, "all").success
    # Enrichment lookups answered 202 (queued) the first time are asked again on the next run by
    # design; after that run every source is settled and another run must change nothing.
    assert pipeline.sync(org, "enrichment").success
    before = {name: pipeline.table(name, order) for name, order in TABLES.items()}
    outcome = pipeline.sync(org, "all")
    assert outcome.success
    assert outcome.materializations["raw/tweets"]["tweets_new"] == 0
    assert outcome.materializations["raw/tweets"]["tweets_updated"] == 0
    assert {name: pipeline.table(name, order) for name, order in TABLES.items()} == before


@DUCKDB_ONLY
def test_second_sync_asks_only_for_newer_posts(make_pipeline, world) -> None:
    pipeline = make_pipeline()
    org = world.organizations[1].id
    assert pipeline.sync(org).success
    cursor = pipeline.warehouse.get_cursor(org, "twitter", "since_id")
    assert cursor == max(expected_tweet_ids(world, org, world.anchor), key=int)

    later = world.anchor + timedelta(hours=12)
    pipeline.server.state.set_clock(later)
    pipeline.server.state.clear_requests()
    outcome = pipeline.sync(org)
    assert outcome.success
    searches = [r for r in pipeline.server.state.requests if r.path == "/2/tweets/search/recent"]
    assert searches and all(r.params.get("since_id") == cursor for r in searches)
    new = expected_tweet_ids(world, org, later) - expected_tweet_ids(world, org, world.anchor)
    assert new, "posts after the anchor should appear when the clock moves"
    assert outcome.materializations["raw/tweets"]["tweets_new"] == len(new)
    # Posts that aged out of X's window stay in the warehouse.
    assert set(_ids(pipeline, org)) == expected_tweet_ids(world, org, world.anchor) | new


@DUCKDB_ONLY
def test_rate_limit_storm_and_5xx_bursts_lose_and_duplicate_nothing(make_pipeline, world) -> None:
    faults = Faults(burst_429_rate=0.25, burst_429_reset_s=1.0, error_5xx_rate=0.25, fault_seed=3)
    pipeline = make_pipeline(faults)
    org = world.organizations[0].id
    outcome = pipeline.sync(org)
    assert outcome.success, outcome.error
    meta = outcome.materializations["raw/tweets"]
    assert meta["rate_limit_waits"] > 0 and meta["api_retries"] > 0
    ids = _ids(pipeline, org)
    assert len(ids) == len(set(ids))
    assert set(ids) == expected_tweet_ids(world, org, world.anchor)


@DUCKDB_ONLY
def test_spent_rate_window_waits_for_reset_then_resumes(make_pipeline, world) -> None:
    pipeline = make_pipeline(Faults(rate_limit=2, rate_window_s=2.0))
    org = world.organizations[0].id
    outcome = pipeline.sync(org)
    assert outcome.success, outcome.error
    meta = outcome.materializations["raw/tweets"]
    assert meta["pages"] > 2 and meta["rate_limit_waits"] >= 1
    assert 0 < meta["rate_limit_wait_seconds"] <= 3.0 * meta["rate_limit_waits"]
    assert set(_ids(pipeline, org)) == expected_tweet_ids(world, org, world.anchor)


@DUCKDB_ONLY
def test_malformed_records_are_quarantined_and_counted(make_pipeline, world) -> None:
    pipeline = make_pipeline(Faults(malformed_rate=0.5, partial_errors_rate=0.3, fault_seed=1))
    org = world.organizations[0].id
    outcome = pipeline.sync(org)
    assert outcome.success, outcome.error
    meta = outcome.materializations["raw/tweets"]
    quarantined = pipeline.warehouse.read_df(
        "SELECT * FROM raw.quarantine WHERE organization_id = :o", {"o": org}
    )
    assert meta["quarantined_records"] == len(quarantined) > 0
    assert meta["malformed_bodies"] > 0  # truncated bodies were asked again, not loaded
    assert meta["partial_errors"] > 0
    ids = set(_ids(pipeline, org))
    assert ids <= expected_tweet_ids(world, org, world.anchor)
    assert not pipeline.warehouse.read_df(
        "SELECT * FROM raw.tweets WHERE text IS NULL OR author_id IS NULL"
    ).shape[0]


@DUCKDB_ONLY
def test_always_broken_bodies_fail_clearly_and_write_nothing(make_pipeline, world) -> None:
    pipeline = make_pipeline(Faults(error_5xx_rate=1.0))
    pipeline.configure(x_api={"max_attempts": 2})
    org = world.organizations[0].id
    outcome = pipeline.sync(org)
    assert not outcome.success
    assert "HTTP 5" in outcome.error
    assert pipeline.warehouse.scalar("SELECT count(*) FROM raw.tweets") == 0
    assert pipeline.warehouse.get_cursor(org, "twitter", "since_id") is None


@DUCKDB_ONLY
def test_unauthorized_names_organization_and_variable_never_the_token(
    make_pipeline, world, monkeypatch
) -> None:
    pipeline = make_pipeline(tokens=("some-other-token",))
    org = world.organizations[2].id
    outcome = pipeline.sync(org)
    assert not outcome.success
    assert f"'{org}'" in outcome.error and TOKEN_ENV in outcome.error and "401" in outcome.error
    assert TOKEN not in outcome.error
    assert pipeline.warehouse.scalar("SELECT count(*) FROM raw.tweets") == 0

    monkeypatch.delenv(TOKEN_ENV)
    outcome = pipeline.sync(org)
    assert not outcome.success and f"{TOKEN_ENV} is not set" in outcome.error


@DUCKDB_ONLY
def test_secrets_never_reach_metadata_tables_or_run_config(make_pipeline, world) -> None:
    pipeline = make_pipeline()
    org = world.organizations[0].id
    outcome = pipeline.sync(org, "all")
    assert outcome.success
    assert TOKEN not in json.dumps(outcome.materializations, default=str)
    run = pipeline.instance.get_run_by_id(outcome.run_id)
    assert TOKEN not in json.dumps(run.run_config, default=str)
    for name in TABLES:
        dump = pipeline.warehouse.read_df(f"SELECT * FROM {name}").to_csv()
        assert TOKEN not in dump, name


@DUCKDB_ONLY
def test_identity_links_are_stable_and_found_by_id_next_time(make_pipeline, world) -> None:
    pipeline = make_pipeline()
    org = world.organizations[0].id
    assert pipeline.sync(org).success
    first = pipeline.warehouse.read_df(
        "SELECT * FROM core.identity_links ORDER BY platform_user_id"
    )
    assert set(first["method"]) <= {"platform_id", "bio_domain_name", "bio_domain", "new_contact"}
    assert (first["method"] == "platform_id").any() and (first["method"] == "new_contact").any()
    outcome = pipeline.sync(org)
    assert outcome.materializations["core/identity_links"]["identities_created"] == 0
    pd.testing.assert_frame_equal(
        first,
        pipeline.warehouse.read_df("SELECT * FROM core.identity_links ORDER BY platform_user_id"),
    )


@DUCKDB_ONLY
def test_a_cursor_older_than_the_search_window_falls_back_to_the_full_window(
    make_pipeline, world
) -> None:
    pipeline = make_pipeline()
    org = world.organizations[0].id
    assert pipeline.sync(org).success
    # A week and a half-day on, the saved since_id is older than what recent search serves.
    later = world.anchor + timedelta(days=7, hours=12)
    pipeline.server.state.set_clock(later)
    outcome = pipeline.sync(org)
    assert outcome.success, outcome.error
    assert outcome.materializations["raw/tweets"]["since_id_expired"] is True
    assert set(_ids(pipeline, org)) == expected_tweet_ids(
        world, org, world.anchor
    ) | expected_tweet_ids(world, org, later)
    assert pipeline.sync(org).materializations["raw/tweets"]["since_id_expired"] is False
