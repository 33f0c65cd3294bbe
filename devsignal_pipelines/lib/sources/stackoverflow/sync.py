"""Sync one organization's tracked Stack Overflow tags into raw.so_questions / so_answers / so_users.

Per tag, questions are read by activity from the saved activity cursor, so a question that got a
new answer or an edit since the last sync is read again and its answers refreshed. Answers are
fetched for those questions 100 ids at a time, then the full profiles of owners not seen yet.

If the quota reserve is reached (or the API throttles us) part-way, what is complete is kept:
questions whose answers were fetched, with those answers, and each tag's cursor moves only up to
the last complete question. Everything, cursors included, is written in ONE transaction.

Records quarantined as malformed by earlier runs are fetched again by id after the tag listings,
until they parse or MAX_MALFORMED_RETRIES reads failed (lib/quarantine.py): questions with
`/questions/{ids}`; an answer (whose own id is what the API's malformed answers lose) by reading
its question again, which brings all of that question's answers; users with `/users/{ids}`.
They join the run's questions and users, so they go through the same answers, profiles and frames
as listed ones, but move no tag cursor.

The API sends the text people read HTML-encoded (`What&#39;s new`, `&quot;yield&quot;`): question
titles, display names and locations (HTML_TEXT_COLUMNS) are unescaped exactly once, when the frames
are built (`payload` keeps the record as sent). Rows stored encoded by versions before that are
unescaped once by the next sync, in its transaction, which then sets the organization's
`html_unescaped` cursor so that no row is ever unescaped twice (a title typed with a literal
`&lt;` arrives as `&amp;lt;`, is stored as `&lt;`, and must stay so).
"""

from __future__ import annotations

import html
import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from devsignal_pipelines.lib.json_frames import dumps_column
from devsignal_pipelines.lib.quarantine import (
    QuarantinedRecord,
    RefetchCounts,
    pending_refetch,
    settle_quarantine,
)
from devsignal_pipelines.lib.sources.stackoverflow.client import (
    QuotaReserveReached,
    StackExchangeClient,
    ThrottledError,
)
from devsignal_pipelines.lib.stores.tables import (
    RAW_SO_ANSWERS,
    RAW_SO_QUESTIONS,
    RAW_SO_USERS,
    TableSpec,
)
from devsignal_pipelines.lib.stores.warehouse import Warehouse, WarehouseTransaction

SOURCE = "stackoverflow"

# Text columns the API sends HTML-encoded, stored unescaped (once: see the module docstring).
HTML_TEXT_COLUMNS: tuple[tuple[TableSpec, tuple[str, ...]], ...] = (
    (RAW_SO_QUESTIONS, ("title", "owner_display_name")),
    (RAW_SO_ANSWERS, ("owner_display_name",)),
    (RAW_SO_USERS, ("display_name", "location")),
)
# Set (value "1") once an organization's rows stored HTML-encoded by earlier versions were unescaped.
HTML_UNESCAPED_CURSOR = "html_unescaped"


def cursor_name(tag: str) -> str:
    return f"activity:{tag}"


@dataclass
class StackOverflowSyncReport:
    organization_id: str
    tags: list[str]
    questions_fetched: int
    questions_new: int
    questions_updated: int
    answers_new: int
    answers_updated: int
    users_new: int
    users_updated: int
    quarantined: int
    stopped_early: str | None
    cursors: dict[str, int | None]
    seconds: float
    refetch: RefetchCounts = field(default_factory=RefetchCounts)
    html_unescaped_rows: int = 0  # rows stored HTML-encoded by earlier versions, fixed by this run

    def as_metadata(self) -> dict[str, Any]:
        return {
            "tags": ", ".join(self.tags),
            "questions_fetched": self.questions_fetched,
            "questions_new": self.questions_new,
            "questions_updated": self.questions_updated,
            "answers_new": self.answers_new,
            "answers_updated": self.answers_updated,
            "users_new": self.users_new,
            "users_updated": self.users_updated,
            "quarantined_records": self.quarantined,
            "stopped_early": self.stopped_early or "",
            **self.refetch.as_metadata(),
            "html_unescaped_rows": self.html_unescaped_rows,
            "seconds": round(self.seconds, 3),
        }


# --- record checks --------------------------------------------------------------------------------


def _int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _owner_problem(item: dict[str, Any]) -> str | None:
    owner = item.get("owner")
    if owner is None:
        return None
    if not isinstance(owner, dict):
        return "owner is not an object"
    if owner.get("user_id") is not None and not _int(owner["user_id"]):
        return "owner user_id is not an integer"
    return None


def question_problem(item: Any) -> str | None:
    if not isinstance(item, dict):
        return "question is not an object"
    for key in ("question_id", "creation_date", "last_activity_date"):
        if not _int(item.get(key)):
            return f"question field '{key}' missing or not an integer"
    if not isinstance(item.get("tags"), list):
        return "question 'tags' is not a list"
    return _owner_problem(item)


def answer_problem(item: Any) -> str | None:
    if not isinstance(item, dict):
        return "answer is not an object"
    for key in ("answer_id", "question_id", "creation_date", "last_activity_date"):
        if not _int(item.get(key)):
            return f"answer field '{key}' missing or not an integer"
    return _owner_problem(item)


def user_problem(item: Any) -> str | None:
    if not isinstance(item, dict):
        return "user is not an object"
    if not _int(item.get("user_id")):
        return "user field 'user_id' missing or not an integer"
    return None


_LINK_ID = re.compile(r"/(?:questions|users)/(\d+)(?:[/?#]|$)")


def _id_of(item: Any, key: str) -> str | None:
    """The record's id, else the one in its `link` (the API's malformed items lose the id)."""
    if not isinstance(item, dict):
        return None
    if _int(item.get(key)):
        return str(item[key])
    found = _LINK_ID.search(item["link"]) if isinstance(item.get("link"), str) else None
    return found.group(1) if found else None


def question_record(item: Any) -> tuple[str, str | None]:
    return "question", _id_of(item, "question_id")


def answer_record(item: Any) -> tuple[str, str | None]:
    """An answer is fetched again with its question (whose id its answer_id-less form keeps)."""
    return "question_answers", _id_of(item, "question_id")


def user_record(item: Any) -> tuple[str, str | None]:
    return "user", _id_of(item, "user_id")


def _split(
    items: list[Any],
    problem: Callable[[Any], str | None],
    record: Callable[[Any], tuple[str, str | None]],
    quarantined: list[QuarantinedRecord],
) -> list[dict[str, Any]]:
    good = []
    for item in items:
        reason = problem(item)
        if reason:
            raw = dumps_column([item])[0] or "null"
            quarantined.append(QuarantinedRecord(reason, raw, *record(item)))
        else:
            good.append(item)
    return good


# --- fetch ----------------------------------------------------------------------------------------


@dataclass
class _Fetched:
    questions: dict[int, dict[str, Any]]
    matched_tags: dict[int, list[str]]
    answers: list[dict[str, Any]]
    users: list[dict[str, Any]]
    cursors: dict[str, int | None]
    quarantined: list[QuarantinedRecord]
    stopped_early: str | None
    asked: list[tuple[str, str]]  # quarantined records fetched again, as (record_type, record_id)


def _fetch(
    client: StackExchangeClient,
    tags: Sequence[str],
    cursors: dict[str, int | None],
    known_user_ids: set[int],
    refetch: dict[str, list[str]],
) -> _Fetched:
    questions: dict[int, dict[str, Any]] = {}
    # The tracked tags a question carries (not "the queries that returned it": a re-read through one
    # tag's cursor must not look like a change).
    matched: dict[int, list[str]] = {}
    tracked = set(tags)
    quarantined: list[QuarantinedRecord] = []
    stopped: str | None = None
    listed: set[int] = set()  # read through a tag listing: these move the tag cursors
    # Quarantined questions, and questions whose answers were quarantined, are read again by id.
    by_id = {
        kind: [int(i) for i in refetch.get(kind, []) if i.isdigit()]
        for kind in ("question", "question_answers", "user")
    }
    questions_asked = False
    try:
        for tag in tags:
            raw = list(client.questions_by_activity(tag, cursors.get(tag)))
            for question in _split(raw, question_problem, question_record, quarantined):
                questions.setdefault(question["question_id"], question)
                matched[question["question_id"]] = sorted(tracked & set(question["tags"]) | {tag})
        listed = set(questions)
        again = sorted(set(by_id["question"]) | set(by_id["question_answers"]))
        if again:
            raw = list(client.questions(again))
            questions_asked = True
            for question in _split(raw, question_problem, question_record, quarantined):
                carried = sorted(tracked & set(question["tags"]))
                if carried and question["question_id"] not in questions:
                    questions[question["question_id"]] = question
                    matched[question["question_id"]] = carried
    except (QuotaReserveReached, ThrottledError) as stop:
        stopped = f"while reading questions: {stop}"

    # Answers are read oldest activity first, so the complete questions are a prefix in activity order.
    ordered = sorted(questions, key=lambda qid: (questions[qid]["last_activity_date"], qid))
    answers: list[dict[str, Any]] = []
    complete: list[int] = []
    if not stopped:
        try:
            for start in range(0, len(ordered), 100):
                batch = ordered[start : start + 100]
                answers.extend(client.answers(batch))
                complete.extend(batch)
        except (QuotaReserveReached, ThrottledError) as stop:
            stopped = f"while reading answers: {stop}"
    complete_set = set(complete)
    answers = [
        a
        for a in _split(answers, answer_problem, answer_record, quarantined)
        if a["question_id"] in complete_set
    ]
    kept = {qid: questions[qid] for qid in complete}

    new_cursors = dict(cursors)
    for qid, question in kept.items():
        if qid not in listed:
            continue  # read again by id: the listing's cursor says nothing about it
        for tag in matched[qid]:
            new_cursors[tag] = max(new_cursors.get(tag) or 0, question["last_activity_date"])

    owners = {
        item["owner"]["user_id"]
        for item in [*kept.values(), *answers]
        if isinstance(item.get("owner"), dict) and _int(item["owner"].get("user_id"))
    }
    users: list[dict[str, Any]] = []
    users_asked = False
    if not stopped:
        try:
            users = list(client.users(sorted(owners - known_user_ids | set(by_id["user"]))))
            users_asked = True
        except (QuotaReserveReached, ThrottledError) as stop:
            stopped = f"while reading users: {stop}"
    users = _split(users, user_problem, user_record, quarantined)

    # Asked means answered: a question that came back but whose answers were not read (the run
    # stopped) was not asked yet, and costs it no attempt.
    asked = [
        (kind, str(qid))
        for kind in ("question", "question_answers")
        for qid in by_id[kind]
        if questions_asked and (qid not in questions or qid in complete_set)
    ]
    asked += [("user", str(uid)) for uid in by_id["user"] if users_asked]
    return _Fetched(
        kept,
        {q: matched[q] for q in kept},
        answers,
        users,
        new_cursors,
        quarantined,
        stopped,
        asked,
    )


# --- frames ---------------------------------------------------------------------------------------


def unescape_html(values: Sequence[Any] | pd.Series) -> pd.Series:
    """HTML entities decoded in the strings (once); None and other values stay as they are."""
    series = pd.Series(values, dtype="object").copy()
    text = series.map(lambda v: isinstance(v, str)).astype(bool)
    if text.any():
        series[text] = series[text].map(html.unescape)
    return series


def _epoch(values: list[Any]) -> pd.Series:
    return pd.to_datetime(pd.Series(values, dtype="Float64"), unit="s", utc=True)


def _owner_columns(items: list[dict[str, Any]]) -> dict[str, list[Any]]:
    owners = [item.get("owner") or {} for item in items]
    return {
        "owner_user_id": [o.get("user_id") for o in owners],
        "owner_account_id": [o.get("account_id") for o in owners],
        "owner_display_name": unescape_html([o.get("display_name") for o in owners]),
        "owner_user_type": [o.get("user_type") for o in owners],
    }


def questions_frame(organization_id: str, fetched: _Fetched, now: pd.Timestamp) -> pd.DataFrame:
    items = list(fetched.questions.values())
    if not items:
        return pd.DataFrame(columns=list(RAW_SO_QUESTIONS.column_names))
    return pd.DataFrame(
        {
            "organization_id": organization_id,
            "question_id": [q["question_id"] for q in items],
            "title": unescape_html([q.get("title") for q in items]),
            "tags": dumps_column([q["tags"] for q in items]),
            "matched_tags": dumps_column(
                [sorted(fetched.matched_tags[q["question_id"]]) for q in items]
            ),
            **_owner_columns(items),
            "is_answered": [q.get("is_answered") for q in items],
            "view_count": [q.get("view_count") for q in items],
            "answer_count": [q.get("answer_count") for q in items],
            "score": [q.get("score") for q in items],
            "accepted_answer_id": [q.get("accepted_answer_id") for q in items],
            "creation_date": _epoch([q["creation_date"] for q in items]),
            "last_activity_date": _epoch([q["last_activity_date"] for q in items]),
            "last_edit_date": _epoch([q.get("last_edit_date") for q in items]),
            "link": [q.get("link") for q in items],
            "payload": dumps_column(items),
            "ingested_at": now,
            "updated_at": now,
        }
    )


def answers_frame(
    organization_id: str, answers: list[dict[str, Any]], now: pd.Timestamp
) -> pd.DataFrame:
    if not answers:
        return pd.DataFrame(columns=list(RAW_SO_ANSWERS.column_names))
    return pd.DataFrame(
        {
            "organization_id": organization_id,
            "answer_id": [a["answer_id"] for a in answers],
            "question_id": [a["question_id"] for a in answers],
            **_owner_columns(answers),
            "is_accepted": [a.get("is_accepted") for a in answers],
            "score": [a.get("score") for a in answers],
            "creation_date": _epoch([a["creation_date"] for a in answers]),
            "last_activity_date": _epoch([a["last_activity_date"] for a in answers]),
            "last_edit_date": _epoch([a.get("last_edit_date") for a in answers]),
            "link": [
                a.get("link") or f"https://stackoverflow.com/a/{a['answer_id']}" for a in answers
            ],
            "payload": dumps_column(answers),
            "ingested_at": now,
            "updated_at": now,
        }
    )


def users_frame(
    organization_id: str, users: list[dict[str, Any]], now: pd.Timestamp
) -> pd.DataFrame:
    if not users:
        return pd.DataFrame(columns=list(RAW_SO_USERS.column_names))
    return pd.DataFrame(
        {
            "organization_id": organization_id,
            "user_id": [u["user_id"] for u in users],
            "account_id": [u.get("account_id") for u in users],
            "display_name": unescape_html([u.get("display_name") for u in users]),
            "website_url": [u.get("website_url") or None for u in users],
            "location": unescape_html([u.get("location") for u in users]),
            "reputation": [u.get("reputation") for u in users],
            "user_type": [u.get("user_type") for u in users],
            "link": [u.get("link") for u in users],
            "creation_date": _epoch([u.get("creation_date") for u in users]),
            "payload": dumps_column(users),
            "ingested_at": now,
            "updated_at": now,
        }
    )


# --- the sync -------------------------------------------------------------------------------------


def _stored_cursors(
    warehouse: Warehouse, organization_id: str, tags: Sequence[str]
) -> dict[str, int | None]:
    return {
        tag: int(value)
        if (value := warehouse.get_cursor(organization_id, SOURCE, cursor_name(tag)))
        else None
        for tag in tags
    }


def sync_stackoverflow(
    warehouse: Warehouse, client: StackExchangeClient, organization_id: str, tags: Sequence[str]
) -> StackOverflowSyncReport:
    started = time.perf_counter()
    tags = list(dict.fromkeys(t.strip().lower() for t in tags if t.strip()))
    if not tags:
        raise ValueError(
            f"organization '{organization_id}' tracks no Stack Overflow tags; pass --tags 'a,b'"
        )
    cursors = _stored_cursors(warehouse, organization_id, tags)
    known_users = set(
        warehouse.read_df(
            "SELECT user_id FROM raw.so_users WHERE organization_id = :o", {"o": organization_id}
        )["user_id"].astype("int64")
    )
    refetch_ids = pending_refetch(warehouse, organization_id, SOURCE)
    fetched = _fetch(client, tags, cursors, known_users, refetch_ids)

    now = pd.Timestamp.now(tz="UTC")
    frames = {
        RAW_SO_QUESTIONS.name: questions_frame(organization_id, fetched, now),
        RAW_SO_ANSWERS.name: answers_frame(organization_id, fetched.answers, now),
        RAW_SO_USERS.name: users_frame(organization_id, fetched.users, now),
    }
    with warehouse.transaction() as tx:
        unescaped = unescape_stored_rows(tx, organization_id, frames, now)
        q = tx.merge(RAW_SO_QUESTIONS, frames[RAW_SO_QUESTIONS.name])
        a = tx.merge(RAW_SO_ANSWERS, frames[RAW_SO_ANSWERS.name])
        u = tx.merge(RAW_SO_USERS, frames[RAW_SO_USERS.name])
        refetch = settle_quarantine(
            tx,
            organization_id,
            SOURCE,
            fetched.quarantined,
            asked=fetched.asked,
            loaded=_loaded_records(fetched),
            refetchable={"question", "question_answers", "user"},
            now=now,
        )
        for tag, value in fetched.cursors.items():
            current = tx.get_cursor(organization_id, SOURCE, cursor_name(tag))
            if value is not None and (current is None or value > int(current)):
                tx.set_cursor(organization_id, SOURCE, cursor_name(tag), str(value))

    return StackOverflowSyncReport(
        organization_id=organization_id,
        tags=tags,
        questions_fetched=len(fetched.questions),
        questions_new=q.new,
        questions_updated=q.updated,
        answers_new=a.new,
        answers_updated=a.updated,
        users_new=u.new,
        users_updated=u.updated,
        quarantined=len(fetched.quarantined),
        stopped_early=fetched.stopped_early,
        cursors=fetched.cursors,
        seconds=time.perf_counter() - started,
        refetch=refetch,
        html_unescaped_rows=unescaped,
    )


def unescape_stored_rows(
    tx: WarehouseTransaction,
    organization_id: str,
    fresh: dict[str, pd.DataFrame],
    now: pd.Timestamp,
) -> int:
    """Unescape, once, the organization's rows stored HTML-encoded by versions before the frames
    unescaped their text; returns how many rows changed.

    The `html_unescaped` cursor says it was done (or that the organization's first rows were
    written unescaped): it is set in the sync's transaction, so rows are fixed exactly once. Rows
    this run fetched again (`fresh`, keyed by table name) are left to their new, unescaped values.
    """
    if tx.get_cursor(organization_id, SOURCE, HTML_UNESCAPED_CURSOR) is not None:
        return 0
    changed = 0
    for spec, columns in HTML_TEXT_COLUMNS:
        key = spec.primary_key[-1]
        with_amp = " OR ".join(f"{c} LIKE '%&%'" for c in columns)
        rows = tx.fetch_df(
            f"SELECT * FROM {spec.qualified_name} WHERE organization_id = :o AND ({with_amp})",
            {"o": organization_id},
        )
        refetched = fresh[spec.name][key].astype("int64") if key in fresh[spec.name] else []
        rows = rows[~rows[key].astype("int64").isin(refetched)]
        if rows.empty:
            continue
        rows = rows.copy()
        for column in columns:
            rows[column] = unescape_html(rows[column]).to_numpy()
        rows["updated_at"] = now
        changed += tx.merge(spec, rows).updated
    tx.set_cursor(organization_id, SOURCE, HTML_UNESCAPED_CURSOR, "1")
    return changed


def _loaded_records(fetched: _Fetched) -> pd.DataFrame:
    """(record_type, record_id) of what this run loads; a question's answers count as loaded
    when all of them were read and none was quarantined."""
    broken = {r.record_id for r in fetched.quarantined if r.record_type == "question_answers"}
    questions = [str(qid) for qid in fetched.questions]
    keys = (
        [("question", qid) for qid in questions]
        + [("question_answers", qid) for qid in questions if qid not in broken]
        + [("user", str(u["user_id"])) for u in fetched.users]
    )
    return pd.DataFrame(keys, columns=["record_type", "record_id"])
