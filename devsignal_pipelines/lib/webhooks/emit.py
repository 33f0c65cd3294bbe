"""Events from table changes: diff a partition before and after a materialization rewrites it.

The asset wraps its write in `emit_changes(tx, control, spec, organization_id)`: the old rows
are copied to a temporary table inside the same warehouse transaction, the block rewrites the
partition, and the difference (computed in SQL, only changed rows come back) becomes events in
the control DB's outbox *before* the warehouse commits. If the warehouse commit then fails, the
re-run computes the same change and the same deterministic ids, so the outbox gains nothing
twice; if the outbox write fails, the warehouse rolls back and the change is seen again.

Score events come from `emit_score_events`, called after core.account_score_history.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pandas as pd

from devsignal_pipelines.lib.stores.control import ControlDB
from devsignal_pipelines.lib.stores.tables import (
    CORE_COMPANIES,
    CORE_CONTACTS,
    CORE_SIGNALS,
    RAW_SCORE_EVENT_BASELINE,
    TableSpec,
)
from devsignal_pipelines.lib.stores.warehouse import Warehouse, WarehouseTransaction
from devsignal_pipelines.lib.webhooks.events import Event, jsonable
from devsignal_pipelines.lib.webhooks.outbox import write_events

SCORE_HISTORY = "core.account_score_history"
# Scores are doubles: differences below this are recomputation noise, not a change.
SCORE_EPSILON = 1e-9


@dataclass(frozen=True)
class Watch:
    """Which events a table's changes produce."""

    spec: TableSpec
    key: str
    created: str
    occurred_column: str  # when the entity's creation happened
    updated: str | None = None
    # Columns whose change is an update (contacts: all but the key and enrichment bookkeeping).
    compared: tuple[str, ...] = ()


# contact.updated for what the CRM or a Segment identify changes is written with that change
# (lib/sources/crm/upsert.py); a rebuild of core.contacts reports only what enrichment and
# identity resolution change, so one edit is never sent twice.
ENRICHMENT_CONTACT_COLUMNS = (
    "role",
    "seniority",
    "city",
    "country",
    "linkedin",
    "avatar",
    "employment_domain",
    "employment_company_id",
)

# deal.created / deal.stage_changed are written by the CRM write itself (every transition, at the
# time it happens), not by diffing core.deals.
WATCHES: dict[str, Watch] = {
    w.spec.qualified_name: w
    for w in (
        Watch(CORE_SIGNALS, "signal_id", "signal.created", "occurred_at"),
        Watch(CORE_COMPANIES, "company_id", "company.created", "created_at"),
        Watch(
            CORE_CONTACTS,
            "contact_id",
            "contact.created",
            "created_at",
            updated="contact.updated",
            compared=ENRICHMENT_CONTACT_COLUMNS,
        ),
    )
}


@dataclass
class Emitted:
    """Filled when the watched block ends: events found and events new to the outbox."""

    found: int = 0
    new: int = 0

    def as_metadata(self) -> dict[str, int]:
        return {"webhook_events_found": self.found, "webhook_events_new": self.new}


def _data(row: dict[str, Any], spec: TableSpec) -> dict[str, Any]:
    data = {k: v for k, v in row.items() if k != "organization_id" and not k.startswith("prev__")}
    for column in spec.json_columns:
        if isinstance(data.get(column), str):
            with contextlib.suppress(ValueError):  # unparsable: keep the text, keep the event
                data[column] = json.loads(data[column])
    return data


def _records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    return [] if frame.empty else frame.astype(object).where(frame.notna(), None).to_dict("records")


def _time(value: Any, fallback: datetime) -> datetime:
    if value is None or value != value:
        return fallback
    stamp = pd.Timestamp(value)
    return (stamp.tz_localize(UTC) if stamp.tzinfo is None else stamp).to_pydatetime()


def change_events(
    watch: Watch,
    organization_id: str,
    created: pd.DataFrame,
    updated: pd.DataFrame,
    now: datetime,
) -> list[Event]:
    """Events for created rows and for updated rows (with prev__<column> holding old values)."""
    spec, key = watch.spec, watch.key
    events = [
        Event.build(
            organization_id,
            watch.created,
            (row[key],),
            _time(row.get(watch.occurred_column), now),
            _data(row, spec),
        )
        for row in _records(created)
    ]
    if watch.updated is None:
        return events
    for row in _records(updated):
        changed = [
            col for col in watch.compared if jsonable(row[col]) != jsonable(row[f"prev__{col}"])
        ]
        if not changed:
            continue
        data = _data(row, spec)
        data["changed_fields"] = changed
        data["previous"] = {col: jsonable(row[f"prev__{col}"]) for col in changed}
        before = json.dumps(
            {c: jsonable(row[f"prev__{c}"]) for c in watch.compared}, sort_keys=True
        )
        after = json.dumps({c: jsonable(row[c]) for c in watch.compared}, sort_keys=True)
        # The row's versions (CRM edit time, enrichment time) make A -> B -> A -> B give distinct
        # ids, while a re-run of the same change computes the same id.
        versions = [jsonable(row.get(col)) for col in ("updated_at", "enriched_at")]
        parts = (row[key], before, after, *versions)
        occurred = now
        events.append(Event.build(organization_id, watch.updated, parts, occurred, data))
    return events


@contextmanager
def emit_changes(
    tx: WarehouseTransaction,
    control: ControlDB,
    spec: TableSpec,
    organization_id: str,
    now: datetime | None = None,
) -> Iterator[Emitted]:
    """Around a block that rewrites `spec`'s partition: write the change's events to the outbox."""
    watch = WATCHES[spec.qualified_name]
    now = now or datetime.now(UTC)
    before = f"_webhook_before_{spec.name}"
    kept = [watch.key, *watch.compared]
    tx.execute(f"DROP TABLE IF EXISTS {before}")
    tx.execute(
        f"CREATE TEMP TABLE {before} AS SELECT {', '.join(kept)} FROM {spec.qualified_name} "
        "WHERE organization_id = :o",
        {"o": organization_id},
    )
    emitted = Emitted()
    yield emitted
    k = watch.key
    created = tx.fetch_df(
        f"SELECT n.* FROM {spec.qualified_name} n WHERE n.organization_id = :o "
        f"AND NOT EXISTS (SELECT 1 FROM {before} b WHERE b.{k} = n.{k}) ORDER BY n.{k}",
        {"o": organization_id},
    )
    updated = pd.DataFrame()
    if watch.compared:
        differs = " OR ".join(f"n.{col} IS DISTINCT FROM b.{col}" for col in watch.compared)
        prev = ", ".join(f"b.{col} AS prev__{col}" for col in watch.compared)
        updated = tx.fetch_df(
            f"SELECT n.*, {prev} FROM {spec.qualified_name} n JOIN {before} b ON b.{k} = n.{k} "
            f"WHERE n.organization_id = :o AND ({differs}) ORDER BY n.{k}",
            {"o": organization_id},
        )
    tx.execute(f"DROP TABLE {before}")
    events = change_events(watch, organization_id, created, updated, now)
    emitted.found = len(events)
    emitted.new = write_events(control, events, now)


def emit_score_events(
    warehouse: Warehouse | WarehouseTransaction,
    control: ControlDB,
    snapshot_at: datetime,
    default_threshold: float = 5.0,
) -> int:
    """score.changed / tier.changed for the snapshot at `snapshot_at`; returns new events.

    Pass the transaction that writes the snapshot (as the SQL model run does): the events reach
    the outbox before that snapshot commits, so a failed outbox write rolls the snapshot back
    and the next run finds the same change again instead of losing it.

    Each (organization_id, company_id) row of the snapshot is compared with what the account's
    subscribers last heard (raw.score_event_baseline: the score and tier of the last event sent
    for it; before any, its previous snapshot). A different tier gives tier.changed; a score that
    moved at least the organization's threshold (ControlDB.score_thresholds, else
    `default_threshold`, DEVSIGNAL_WEBHOOK_SCORE_THRESHOLD) gives score.changed. A slow drift is
    therefore reported once it adds up, and decay of a point per snapshot is not a stream of
    events. A company's first snapshot has nothing to compare with and emits nothing. Ids come
    from (organization, company, snapshot_at), and a snapshot not newer than the baseline is
    skipped, so running this again for the same snapshot adds nothing.
    """
    if snapshot_at.tzinfo is None:
        raise ValueError(
            f"snapshot_at {snapshot_at!r} has no time zone; pass an aware UTC datetime "
            "(the snapshot_at stored in core.account_score_history)"
        )
    if not warehouse.table_exists(SCORE_HISTORY):
        raise LookupError(
            f"{SCORE_HISTORY} does not exist in the warehouse; materialize it before emitting "
            "score events"
        )
    if not isinstance(warehouse, WarehouseTransaction):
        with warehouse.transaction() as tx:
            return emit_score_events(tx, control, snapshot_at, default_threshold)
    tx = warehouse
    frame = tx.fetch_df(
        f"""
        WITH cur AS (SELECT * FROM {SCORE_HISTORY} WHERE snapshot_at = :t),
        prev_at AS (
            SELECT h.organization_id, h.company_id, max(h.snapshot_at) AS snapshot_at
            FROM {SCORE_HISTORY} h
            JOIN cur ON cur.organization_id = h.organization_id AND cur.company_id = h.company_id
            WHERE h.snapshot_at < :t
            GROUP BY h.organization_id, h.company_id
        ),
        prev AS (
            SELECT h.* FROM {SCORE_HISTORY} h
            JOIN prev_at p ON p.organization_id = h.organization_id
                AND p.company_id = h.company_id AND p.snapshot_at = h.snapshot_at
        )
        SELECT cur.organization_id, cur.company_id, co.name AS company_name,
               co.domain AS company_domain, cur.score,
               CASE WHEN b.company_id IS NULL THEN prev.score ELSE b.score END AS previous_score,
               cur.tier,
               CASE WHEN b.company_id IS NULL THEN prev.tier ELSE b.tier END AS previous_tier,
               cur.signals, cur.last_signal_at, cur.snapshot_at,
               coalesce(b.snapshot_at, prev.snapshot_at) AS previous_snapshot_at
        FROM cur
        LEFT JOIN {RAW_SCORE_EVENT_BASELINE.qualified_name} b
            ON b.organization_id = cur.organization_id AND b.company_id = cur.company_id
        LEFT JOIN prev ON prev.organization_id = cur.organization_id AND prev.company_id = cur.company_id
        LEFT JOIN core.companies co
            ON co.organization_id = cur.organization_id AND co.company_id = cur.company_id
        ORDER BY cur.organization_id, cur.company_id
        """,
        {"t": snapshot_at},
    )
    thresholds = control.score_thresholds()
    threshold = frame["organization_id"].map(thresholds).fillna(default_threshold)
    first = frame["previous_snapshot_at"].isna()
    newer = first | (pd.to_datetime(frame["previous_snapshot_at"], utc=True) < snapshot_at)
    score, previous = frame["score"].astype("float64"), frame["previous_score"].astype("float64")
    tier_changed = ~first & (frame["tier"].astype(object) != frame["previous_tier"].astype(object))
    score_changed = ~first & (
        ((score - previous).abs() >= threshold - SCORE_EPSILON) | (score.isna() != previous.isna())
    )
    changed = frame[newer & (tier_changed | score_changed)]
    events = score_events(
        changed, snapshot_at, score_changed[changed.index], tier_changed[changed.index]
    )
    # What subscribers heard of last: the snapshot's values for every account with an event, and
    # for every account seen the first time.
    heard = frame[newer & (first | tier_changed | score_changed)]
    tx.merge(
        RAW_SCORE_EVENT_BASELINE,
        heard[["organization_id", "company_id", "score", "tier", "snapshot_at"]],
    )
    return write_events(control, events)


def score_events(
    frame: pd.DataFrame,
    snapshot_at: datetime,
    score_changed: pd.Series | None = None,
    tier_changed: pd.Series | None = None,
) -> list[Event]:
    """score.changed and tier.changed events of `frame`'s rows (by default: score.changed for
    every row, tier.changed where the tier differs)."""
    events: list[Event] = []
    stamp = snapshot_at.astimezone(UTC).isoformat()
    score_flags = [True] * len(frame) if score_changed is None else score_changed.tolist()
    tier_flags = (
        (frame["tier"] != frame["previous_tier"]).tolist()
        if tier_changed is None
        else tier_changed.tolist()
    )
    for row, score_flag, tier_flag in zip(_records(frame), score_flags, tier_flags, strict=True):
        org, company = row.pop("organization_id"), row["company_id"]
        data = {**row}
        if data.get("score") is not None and data.get("previous_score") is not None:
            data["score_delta"] = round(float(data["score"]) - float(data["previous_score"]), 6)
        types = (["score.changed"] if score_flag else []) + (["tier.changed"] if tier_flag else [])
        events.extend(
            Event.build(org, event_type, (company, stamp), snapshot_at, data)
            for event_type in types
        )
    return events
