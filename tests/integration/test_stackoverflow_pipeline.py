"""Stack Overflow end to end: sandbox Stack Exchange API over HTTP -> Dagster runs -> the warehouse."""

from __future__ import annotations

import html
import json
import re
from datetime import datetime, timedelta

import pytest

from devsignal_pipelines.lib.sources.stackoverflow.sync import HTML_UNESCAPED_CURSOR
from devsignal_pipelines.sandbox.faults import Faults
from devsignal_pipelines.sandbox.stackexchange.index import StackOverflowIndex
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


# --- HTML entities: the API encodes titles and names, the warehouse stores them unescaped, once ----

ENTITY = re.compile(r"&(?:#\d+|#x[0-9a-f]+|[a-z]+);", re.I)


def _titles(pipeline, organization_id: str) -> dict[int, str]:
    frame = pipeline.warehouse.read_df(
        "SELECT question_id, title FROM raw.so_questions WHERE organization_id = :o",
        {"o": organization_id},
    )
    return dict(zip(frame["question_id"].astype(int), frame["title"], strict=True))


def _signal_titles(pipeline, organization_id: str) -> list[str]:
    frame = pipeline.warehouse.read_df(
        "SELECT metadata FROM core.signals WHERE organization_id = :o AND source = 'stackoverflow'",
        {"o": organization_id},
    )
    metadata = frame["metadata"].map(lambda v: json.loads(v) if isinstance(v, str) else v)
    return [m["title"] for m in metadata]


def _sent_titles(world: World, question_ids) -> dict[int, str]:
    """The titles as the sandbox serves them (HTML-encoded, like the real API)."""
    wanted = set(question_ids)
    return {q["question_id"]: q["title"] for q in world.so_questions if q["question_id"] in wanted}


@DUCKDB_ONLY
def test_titles_are_stored_and_signalled_unescaped(make_pipeline, world) -> None:
    pipeline = make_pipeline(NO_BACKOFF)
    org = world.organizations[0].id
    assert pipeline.sync(org, "stackoverflow").success

    stored = _titles(pipeline, org)
    sent = _sent_titles(world, stored)
    assert any(ENTITY.search(title) for title in sent.values()), "the sandbox sends &#39; etc."
    assert stored == {qid: html.unescape(title) for qid, title in sent.items()}
    assert not [t for t in stored.values() if ENTITY.search(t)]
    signal_titles = _signal_titles(pipeline, org)
    assert signal_titles and not [t for t in signal_titles if ENTITY.search(t)]
    assert any("'" in t or '"' in t for t in signal_titles)


@DUCKDB_ONLY
def test_text_is_unescaped_exactly_once(make_pipeline, world, monkeypatch) -> None:
    """A title typed with a literal "&lt;" comes as "&amp;lt;" and is stored as "&lt;", never "<"
    (not at ingest, not by a later sync); display names are unescaped too."""
    org = world.organizations[0].id
    target = min(expected_questions(world, org, world.anchor))
    question = next(q for q in world.so_questions if q["question_id"] == target)
    owner_id = question["owner"]["user_id"]
    encoded_title = "Why is &amp;lt;div&amp;gt; shown as text in &quot;AcmeDB&quot;?"
    encoded_name = "Se&#225;n O&#39;Brien &amp;amp; Co"

    original_question = StackOverflowIndex.question
    original_users = StackOverflowIndex.user_listing

    def question_with_entities(self, position: int, now: int) -> dict:
        item = original_question(self, position, now)
        if item["question_id"] == target:
            item["title"] = encoded_title
            item["owner"] = {**item["owner"], "display_name": encoded_name}
        return item

    def users_with_entities(self, user_ids, sort, now):
        return [
            (*row[:3], {**row[3], "display_name": encoded_name} if row[1] == owner_id else row[3])
            for row in original_users(self, user_ids, sort, now)
        ]

    monkeypatch.setattr(StackOverflowIndex, "question", question_with_entities)
    monkeypatch.setattr(StackOverflowIndex, "user_listing", users_with_entities)
    pipeline = make_pipeline(NO_BACKOFF)
    for _ in range(2):  # the second sync must not unescape what the first stored
        assert pipeline.sync(org, "stackoverflow").success
        row = pipeline.warehouse.read_df(
            "SELECT q.title, q.owner_display_name, u.display_name FROM raw.so_questions q "
            "JOIN raw.so_users u ON u.organization_id = q.organization_id "
            "AND u.user_id = q.owner_user_id WHERE q.organization_id = :o AND q.question_id = :q",
            {"o": org, "q": target},
        )
        assert row.iloc[0].tolist() == [
            'Why is &lt;div&gt; shown as text in "AcmeDB"?',
            "Seán O'Brien &amp; Co",
            "Seán O'Brien &amp; Co",
        ]
        assert 'Why is &lt;div&gt; shown as text in "AcmeDB"?' in _signal_titles(pipeline, org)


def test_rows_stored_encoded_before_are_fixed_by_the_next_sync(make_pipeline, world) -> None:
    pipeline = make_pipeline(NO_BACKOFF)
    org = world.organizations[0].id
    assert pipeline.sync(org, "stackoverflow").success
    sent = _sent_titles(world, _titles(pipeline, org))
    literal = min(sent)  # stored by an older version as the API sent it: double-encoded
    sent[literal] = "Generic &amp;lt;T&amp;gt; with &#39;AcmeDB&#39;"
    user_id = int(
        pipeline.warehouse.scalar(
            "SELECT min(user_id) FROM raw.so_users WHERE organization_id = :o", {"o": org}
        )
    )
    # What versions before the fix stored: the API's text as sent, and no html_unescaped cursor.
    with pipeline.warehouse.transaction() as tx:
        for qid, title in sent.items():
            tx.execute(
                "UPDATE raw.so_questions SET title = :t WHERE organization_id = :o AND question_id = :q",
                {"t": title, "o": org, "q": qid},
            )
        tx.execute(
            "UPDATE raw.so_users SET display_name = 'O&#39;Brien' WHERE organization_id = :o "
            "AND user_id = :u",
            {"o": org, "u": user_id},
        )
        tx.execute(
            "DELETE FROM raw.sync_cursors WHERE organization_id = :o AND source = 'stackoverflow' "
            "AND cursor_name = :c",
            {"o": org, "c": HTML_UNESCAPED_CURSOR},
        )
    assert any(ENTITY.search(t) for t in _titles(pipeline, org).values())

    pipeline.server.state.clear_requests()
    outcome = pipeline.sync(org, "stackoverflow")
    assert outcome.success, outcome.error
    # The cursor did not bring those questions again: the sync fixed what was stored.
    read_again = {
        int(i)
        for r in pipeline.server.state.requests
        if r.path.startswith("/2.3/questions/")
        for i in r.path.split("/")[3].split(";")
        if i.isdigit()
    }
    assert len(read_again) < len(sent), read_again
    stored = _titles(pipeline, org)
    assert stored == {qid: html.unescape(title) for qid, title in sent.items()}
    assert stored[literal] == "Generic &lt;T&gt; with 'AcmeDB'"
    assert not [t for qid, t in stored.items() if qid != literal and ENTITY.search(t)]
    assert outcome.materializations["raw/so_questions"]["html_unescaped_rows"] > 0
    # core.signals is rebuilt from raw: its titles are the fixed ones.
    assert set(_signal_titles(pipeline, org)) == set(stored.values())
    assert (
        pipeline.warehouse.scalar(
            "SELECT display_name FROM raw.so_users WHERE organization_id = :o AND user_id = :u",
            {"o": org, "u": user_id},
        )
        == "O'Brien"
    )
    assert pipeline.warehouse.get_cursor(org, "stackoverflow", HTML_UNESCAPED_CURSOR) == "1"

    # Once: the next sync leaves the literal "&lt;" alone.
    assert pipeline.sync(org, "stackoverflow").success
    assert _titles(pipeline, org)[literal] == "Generic &lt;T&gt; with 'AcmeDB'"
