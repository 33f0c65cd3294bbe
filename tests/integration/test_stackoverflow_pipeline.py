"""Stack Overflow end to end: sandbox Stack Exchange API over HTTP -> Dagster runs -> the warehouse."""

from __future__ import annotations

import json
from datetime import datetime, timedelta

import pytest

from devsignal_pipelines.sandbox.faults import Faults
from devsignal_pipelines.sandbox.world import World

DUCKDB_ONLY = pytest.mark.parametrize("stores", ["duckdb"], indirect=True)
NO_BACKOFF = Faults(backoff_rate=0.0)


def expected_questions(world: World, organization_id: str, now: datetime) -> set[int]:
    tags = set(next(o for o in world.organizations if o.id == organization_id).tags)
    cutoff = int(now.timestamp())
    return {
        q["question_id"]
        for q in world.so_questions
        if q["creation_date"] <= cutoff and tags & set(q["tags"])
    }


def expected_answers(world: World, organization_id: str, now: datetime) -> set[int]:
    questions, cutoff = expected_questions(world, organization_id, now), int(now.timestamp())
    return {
        a["answer_id"]
        for a in world.so_answers
        if a["question_id"] in questions and a["creation_date"] <= cutoff
    }


def _ids(pipeline, table: str, column: str, organization_id: str) -> list[int]:
    frame = pipeline.warehouse.read_df(
        f"SELECT {column} FROM {table} WHERE organization_id = :o ORDER BY {column}",
        {"o": organization_id},
    )
    return [int(v) for v in frame[column]]


def test_full_sync_reads_every_tracked_question_and_answer(make_pipeline, world) -> None:
    pipeline = make_pipeline(NO_BACKOFF)
    for org in world.organizations:
        outcome = pipeline.sync(org.id, "stackoverflow")
        assert outcome.success, outcome.error
        assert not outcome.failed_checks
        assert set(_ids(pipeline, "raw.so_questions", "question_id", org.id)) == expected_questions(
            world, org.id, world.anchor
        )
        assert set(_ids(pipeline, "raw.so_answers", "answer_id", org.id)) == expected_answers(
            world, org.id, world.anchor
        )

    # Owners' full profiles (with website_url) for every owner that still exists.
    owners = pipeline.warehouse.scalar(
        "SELECT count(*) FROM (SELECT organization_id, owner_user_id FROM raw.so_questions "
        "WHERE owner_user_id IS NOT NULL UNION SELECT organization_id, owner_user_id FROM raw.so_answers "
        "WHERE owner_user_id IS NOT NULL) o WHERE NOT EXISTS (SELECT 1 FROM raw.so_users u "
        "WHERE u.organization_id = o.organization_id AND u.user_id = o.owner_user_id)"
    )
    assert owners == 0

    signals = pipeline.warehouse.read_df(
        "SELECT * FROM core.signals WHERE source = 'stackoverflow'"
    )
    questions = pipeline.warehouse.scalar("SELECT count(*) FROM raw.so_questions")
    answers = pipeline.warehouse.scalar("SELECT count(*) FROM raw.so_answers")
    assert (signals["signal_type"] == "stackoverflow_question").sum() == questions
    assert (signals["signal_type"] == "stackoverflow_answer").sum() == answers
    metadata = signals["metadata"].map(lambda v: json.loads(v) if isinstance(v, str) else v)
    assert {
        "title",
        "url",
        "tags",
        "score",
        "view_count",
        "answer_count",
        "is_answered",
        "is_accepted",
    } <= set(metadata.iloc[0])
    # Deleted owners are kept as anonymous signals.
    deleted = metadata.map(lambda m: m.get("owner_user_type") == "does_not_exist")
    assert deleted.any() and signals.loc[deleted, "contact_id"].isna().all()


@DUCKDB_ONLY
def test_two_organizations_tracking_one_tag_keep_separate_rows(make_pipeline, world) -> None:
    pipeline = make_pipeline(NO_BACKOFF)
    shared = set(world.organizations[0].tags) & set(world.organizations[1].tags)
    assert shared, "the sandbox world gives acme and nimbus a common tag"
    for org in world.organizations[:2]:
        assert pipeline.sync(org.id, "stackoverflow").success
    both = pipeline.warehouse.scalar(
        "SELECT count(*) FROM raw.so_questions a JOIN raw.so_questions b ON a.question_id = b.question_id "
        "AND a.organization_id = :a AND b.organization_id = :b",
        {"a": world.organizations[0].id, "b": world.organizations[1].id},
    )
    assert both > 0


@DUCKDB_ONLY
def test_backoff_is_honoured_and_no_throttle_violation_ever_happens(make_pipeline, world) -> None:
    pipeline = make_pipeline(Faults(backoff_rate=0.4, backoff_s=1))
    outcome = pipeline.sync(world.organizations[2].id, "stackoverflow")
    assert outcome.success, outcome.error
    assert outcome.materializations["raw/so_questions"]["backoff_waits"] > 0
    assert pipeline.server.state.throttle_violations == 0


@DUCKDB_ONLY
def test_late_answers_and_edits_bring_old_questions_back(make_pipeline, world) -> None:
    pipeline = make_pipeline(NO_BACKOFF)
    org = world.organizations[0].id
    assert pipeline.sync(org, "stackoverflow").success
    before = pipeline.warehouse.read_df(
        "SELECT question_id, answer_count, last_activity_date FROM raw.so_questions WHERE organization_id = :o",
        {"o": org},
    ).set_index("question_id")

    later = world.anchor + timedelta(days=1)
    pipeline.server.state.set_clock(later)
    pipeline.server.state.clear_requests()
    outcome = pipeline.sync(org, "stackoverflow")
    assert outcome.success, outcome.error
    question_calls = [r for r in pipeline.server.state.requests if r.path == "/2.3/questions"]
    assert question_calls and all("min" in r.params for r in question_calls)
    assert set(_ids(pipeline, "raw.so_answers", "answer_id", org)) == expected_answers(
        world, org, later
    )
    after = pipeline.warehouse.read_df(
        "SELECT question_id, answer_count FROM raw.so_questions WHERE organization_id = :o",
        {"o": org},
    ).set_index("question_id")
    old = after.index.intersection(before.index)
    assert (after.loc[old, "answer_count"] > before.loc[old, "answer_count"]).any()
    assert outcome.materializations["raw/so_questions"]["questions_updated"] > 0


@DUCKDB_ONLY
def test_quota_reserve_stops_cleanly_and_the_next_run_resumes(make_pipeline, world) -> None:
    pipeline = make_pipeline(Faults(backoff_rate=0.0, se_quota=10_000))
    org = world.organizations[0].id
    pipeline.configure(stackexchange={"quota_reserve": 9_996})
    first = pipeline.sync(org, "stackoverflow")
    assert first.success, first.error
    assert first.materializations["raw/so_questions"]["stopped_early"]
    stored = set(_ids(pipeline, "raw.so_questions", "question_id", org))
    assert stored < expected_questions(world, org, world.anchor)
    # Every stored question has its answers: nothing half-written.
    orphans = pipeline.warehouse.scalar(
        "SELECT count(*) FROM raw.so_answers a WHERE a.organization_id = :o AND NOT EXISTS "
        "(SELECT 1 FROM raw.so_questions q WHERE q.organization_id = a.organization_id AND q.question_id = a.question_id)",
        {"o": org},
    )
    assert orphans == 0

    pipeline.configure(stackexchange={"quota_reserve": 0})
    assert pipeline.sync(org, "stackoverflow").success
    assert set(_ids(pipeline, "raw.so_questions", "question_id", org)) == expected_questions(
        world, org, world.anchor
    )
    assert set(_ids(pipeline, "raw.so_answers", "answer_id", org)) == expected_answers(
        world, org, world.anchor
    )


def test_rerun_changes_nothing(make_pipeline, world) -> None:
    pipeline = make_pipeline(NO_BACKOFF)
    org = world.organizations[1].id
    assert pipeline.sync(org, "stackoverflow").success
    tables = {
        "raw.so_questions": "organization_id, question_id",
        "raw.so_answers": "organization_id, answer_id",
        "raw.so_users": "organization_id, user_id",
        "raw.sync_cursors": "organization_id, source, cursor_name",
        "core.signals": "organization_id, signal_id",
    }
    before = {t: pipeline.table(t, o) for t, o in tables.items()}
    outcome = pipeline.sync(org, "stackoverflow")
    assert outcome.materializations["raw/so_questions"]["questions_new"] == 0
    assert outcome.materializations["raw/so_questions"]["questions_updated"] == 0
    assert {t: pipeline.table(t, o) for t, o in tables.items()} == before


@DUCKDB_ONLY
def test_malformed_items_are_quarantined_not_fatal(make_pipeline, world) -> None:
    pipeline = make_pipeline(Faults(backoff_rate=0.0, malformed_rate=0.3, fault_seed=2))
    org = world.organizations[2].id
    outcome = pipeline.sync(org, "stackoverflow")
    assert outcome.success, outcome.error
    meta = outcome.materializations["raw/so_questions"]
    quarantined = pipeline.warehouse.scalar(
        "SELECT count(*) FROM raw.quarantine WHERE organization_id = :o AND source = 'stackoverflow'",
        {"o": org},
    )
    assert meta["quarantined_records"] == quarantined
    assert meta["malformed_bodies"] + quarantined > 0


@DUCKDB_ONLY
def test_an_unknown_tag_is_a_clean_empty_materialization(make_pipeline, world) -> None:
    pipeline = make_pipeline(NO_BACKOFF)
    org = world.organizations[0].id
    pipeline.control.connect_source(org, "stackoverflow", {"tags": ["no-such-tag-anywhere"]}, None)
    outcome = pipeline.sync(org, "stackoverflow")
    assert outcome.success, outcome.error
    assert outcome.materializations["raw/so_questions"]["dagster/row_count"] == 0
