"""Records quarantined as malformed are fetched again by id on later runs until they load.

A post broken in one search response used to be lost for good: the cursor moved past it. The
sandbox breaks records at random (`malformed` fault); once it stops, the next run must bring back
every record that had an id to ask for, mark its quarantine rows resolved and say so.
"""

from __future__ import annotations

import pandas as pd
import pytest

from devsignal_pipelines.lib.quarantine import (
    MAX_MALFORMED_RETRIES,
    QuarantinedRecord,
    pending_refetch,
    settle_quarantine,
)
from devsignal_pipelines.lib.stores.warehouse import Warehouse
from devsignal_pipelines.sandbox.faults import Faults
from tests.integration.conftest import expected_tweet_ids
from tests.integration.test_stackoverflow_pipeline import expected_answers, expected_questions

DUCKDB_ONLY = pytest.mark.parametrize("stores", ["duckdb"], indirect=True)


def _quarantine(pipeline, organization_id: str, source: str) -> pd.DataFrame:
    return pipeline.warehouse.read_df(
        "SELECT * FROM raw.quarantine WHERE organization_id = :o AND source = :s",
        {"o": organization_id, "s": source},
    )


def _column(pipeline, table: str, column: str, organization_id: str) -> set[str]:
    frame = pipeline.warehouse.read_df(
        f"SELECT {column} FROM {table} WHERE organization_id = :o", {"o": organization_id}
    )
    return {str(v) for v in frame[column]}


@DUCKDB_ONLY
def test_x_posts_broken_in_a_search_are_looked_up_again_and_loaded(make_pipeline, world) -> None:
    pipeline = make_pipeline(Faults(malformed_rate=0.5, fault_seed=1))
    org = world.organizations[0].id
    expected = expected_tweet_ids(world, org, world.anchor)

    first = pipeline.sync(org)
    assert first.success, first.error
    broken = _quarantine(pipeline, org, "twitter")
    lost = expected - _column(pipeline, "raw.tweets", "tweet_id", org)
    assert lost, "the faults should have broken some posts (a seed that breaks none proves nothing)"
    # Every lost post is in the quarantine with the id to ask for.
    posts = broken[broken["record_type"] == "post"]
    assert lost <= set(posts["record_id"])
    assert posts["resolved_at"].isna().all()

    pipeline.server.state.faults = Faults()  # the API answers well again
    second = pipeline.sync(org)
    assert second.success, second.error
    assert _column(pipeline, "raw.tweets", "tweet_id", org) == expected  # nothing lost in the end
    meta = second.materializations["raw/tweets"]
    assert meta["quarantined_refetched"] == posts["record_id"].nunique()
    assert meta["quarantined_recovered"] == posts["record_id"].nunique()
    after = _quarantine(pipeline, org, "twitter")
    assert after.loc[after["record_type"] == "post", "resolved_at"].notna().all()
    # Recovered posts became signals like any other.
    signals = _column(pipeline, "core.signals", "signal_id", org)
    assert {f"twitter:{post}" for post in lost} <= signals

    third = pipeline.sync(org)
    assert third.materializations["raw/tweets"]["quarantined_refetched"] == 0


@DUCKDB_ONLY
def test_stack_overflow_records_broken_in_a_listing_are_read_again_by_id(
    make_pipeline, world
) -> None:
    pipeline = make_pipeline(Faults(backoff_rate=0.0, malformed_rate=0.5, fault_seed=3))
    org = world.organizations[2].id
    first = pipeline.sync(org, "stackoverflow")
    assert first.success, first.error
    broken = _quarantine(pipeline, org, "stackoverflow")
    askable = broken.dropna(subset=["record_id"])
    assert len(askable), "the faults should have broken some records"

    pipeline.server.state.faults = Faults(backoff_rate=0.0)
    second = pipeline.sync(org, "stackoverflow")
    assert second.success, second.error
    questions = {int(q) for q in _column(pipeline, "raw.so_questions", "question_id", org)}
    answers = {int(a) for a in _column(pipeline, "raw.so_answers", "answer_id", org)}
    assert questions == expected_questions(world, org, world.anchor)
    assert answers == expected_answers(world, org, world.anchor)
    meta = second.materializations["raw/so_questions"]
    distinct = askable[["record_type", "record_id"]].drop_duplicates()
    assert meta["quarantined_refetched"] == len(distinct)
    assert meta["quarantined_recovered"] == len(distinct)
    assert pending_refetch(pipeline.warehouse, org, "stackoverflow") == {}


@DUCKDB_ONLY
def test_a_record_that_keeps_coming_back_broken_is_given_up_after_the_retry_limit(
    stores,
) -> None:
    warehouse = Warehouse(stores["warehouse"])
    warehouse.ensure_tables()
    org, source = "acme", "twitter"
    no_rows = pd.DataFrame({"record_type": [], "record_id": []}, dtype=object)
    given_up = []
    for run in range(MAX_MALFORMED_RETRIES + 2):
        asked = pending_refetch(warehouse, org, source).get("post", [])
        # Run 0 finds the post broken in a search; every later lookup breaks it again.
        record = QuarantinedRecord("missing 'text'", f'{{"id": "42", "run": {run}}}', "post", "42")
        with warehouse.transaction() as tx:
            counts = settle_quarantine(
                tx, org, source, [record] if run == 0 or asked else [],
                asked=[("post", i) for i in asked], loaded=no_rows, refetchable={"post"},
                now=pd.Timestamp.now(tz="UTC"),
            )  # fmt: skip
        given_up.append(counts.given_up)
        assert asked == ([] if run == 0 or run > MAX_MALFORMED_RETRIES - 1 else ["42"])
    # Given up once, at the limit; never asked for again after that.
    assert given_up == [0] * (MAX_MALFORMED_RETRIES - 1) + [1, 0, 0]
    rows = warehouse.read_df("SELECT attempts, resolved_at FROM raw.quarantine")
    assert rows["attempts"].max() == MAX_MALFORMED_RETRIES
    assert rows["resolved_at"].isna().all()
