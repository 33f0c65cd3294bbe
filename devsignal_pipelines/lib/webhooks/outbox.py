"""The outbox in the control DB: events in (idempotent on id), fanned out to delivery rows."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import UTC, datetime

import sqlalchemy as sa

from devsignal_pipelines.lib.sources.crm.frames import control_time, insert_missing_rows
from devsignal_pipelines.lib.stores import control as c
from devsignal_pipelines.lib.stores.control import ControlDB
from devsignal_pipelines.lib.webhooks.events import Event

_EVENT_COLUMNS = [
    "id",
    "organization_id",
    "event_type",
    "occurred_at",
    "payload",
    "is_test",
    "created_at",
]


def write_events(
    control: ControlDB,
    events: Sequence[Event],
    now: datetime | None = None,
    conn: sa.Connection | None = None,
) -> int:
    """Insert the events whose id is not in the outbox yet, in one bulk statement; returns how many."""
    if not events:
        return 0
    created = control_time(control, now or datetime.now(UTC))
    rows = sorted(
        (
            e.id,
            e.organization_id,
            e.event_type,
            control_time(control, e.occurred_at),
            e.payload,
            e.id.startswith("evt_test_"),
            created,
        )
        for e in {e.id: e for e in events}.values()
    )
    if conn is not None:
        return insert_missing_rows(control, conn, c.webhook_events, _EVENT_COLUMNS, rows)
    with control.begin() as tx:
        return insert_missing_rows(control, tx, c.webhook_events, _EVENT_COLUMNS, rows)


def fan_out(control: ControlDB, now: datetime | None = None) -> int:
    """Turn every event not yet fanned out into one pending delivery per matching subscription.

    A subscription receives the events written after it was created, of its organization and
    type only. Claiming the events first (one batch id) makes concurrent fan-outs safe: each
    event is fanned out by exactly one of them. Returns the deliveries created.
    """
    now = now or datetime.now(UTC)
    batch = uuid.uuid4().hex
    e, s, d = c.webhook_events, c.webhook_subscriptions, c.webhook_deliveries
    with control.begin() as conn:
        claimed = conn.execute(
            sa.update(e)
            .where(e.c.fanned_out_at.is_(None))
            .values(fanned_out_at=now, fanout_batch=batch)
        ).rowcount
        if not claimed:
            return 0
        pairs = (
            sa.select(
                e.c.id,
                s.c.id,
                e.c.organization_id,
                sa.literal("pending"),
                sa.literal(0),
                sa.literal(0),
                sa.literal(now, sa.DateTime(timezone=True)),
                sa.literal(now, sa.DateTime(timezone=True)),
                sa.literal(now, sa.DateTime(timezone=True)),
            )
            .select_from(
                e.join(
                    s,
                    sa.and_(
                        s.c.organization_id == e.c.organization_id,
                        s.c.event_type == e.c.event_type,
                    ),
                )
            )
            .where(
                e.c.fanout_batch == batch,
                e.c.is_test.is_(False),
                s.c.status == "active",
                s.c.created_at <= e.c.created_at,
            )
        )
        insert = control._insert(d).from_select(
            [
                "event_id",
                "subscription_id",
                "organization_id",
                "status",
                "attempts",
                "cycle_attempts",
                "next_attempt_at",
                "created_at",
                "updated_at",
            ],
            pairs,
        )
        result = conn.execute(
            insert.on_conflict_do_nothing(index_elements=["event_id", "subscription_id"])
        )
        return max(result.rowcount, 0)


def pending_fanout(control: ControlDB) -> int:
    """Events not fanned out yet that an active subscription will receive (fan_out's join): an
    event no subscription wants is never delivered, so it is no reason to start a run."""
    e, s = c.webhook_events, c.webhook_subscriptions
    wanted = sa.exists().where(
        s.c.organization_id == e.c.organization_id,
        s.c.event_type == e.c.event_type,
        s.c.status == "active",
        s.c.created_at <= e.c.created_at,
    )
    with control.engine.connect() as conn:
        return int(
            conn.execute(
                sa.select(sa.func.count()).where(
                    e.c.fanned_out_at.is_(None), e.c.is_test.is_(False), wanted
                )
            ).scalar_one()
        )
