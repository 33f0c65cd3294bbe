"""`webhooks test`: the type's sample payload, sent now to one subscription, logged like any delivery."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa

from devsignal_pipelines.lib.stores import control as c
from devsignal_pipelines.lib.stores.control import ControlDB
from devsignal_pipelines.lib.webhooks.delivery import deliver_due
from devsignal_pipelines.lib.webhooks.events import sample_event
from devsignal_pipelines.lib.webhooks.outbox import write_events
from devsignal_pipelines.lib.webhooks.secrets import require_secret_key
from devsignal_pipelines.lib.webhooks.settings import WebhookSettings
from devsignal_pipelines.lib.webhooks.store import NotFoundError, get_subscription


def send_test(
    control: ControlDB,
    subscription_id: str,
    settings: WebhookSettings,
    organization_id: str | None = None,
) -> dict[str, Any]:
    """One attempt (no retries); returns the delivery row's outcome."""
    sub = get_subscription(control, subscription_id, organization_id)
    if sub["status"] != "active":
        raise NotFoundError(
            f"subscription {subscription_id} is {sub['status']}; resume it first: "
            f"devsignal webhooks resume {subscription_id}"
        )
    require_secret_key()
    event = sample_event(sub["organization_id"], sub["event_type"])
    now = datetime.now(UTC)
    d = c.webhook_deliveries
    with control.begin() as conn:
        write_events(control, [event], now, conn=conn)
        conn.execute(
            sa.update(c.webhook_events)
            .where(c.webhook_events.c.id == event.id)
            .values(fanned_out_at=now)
        )
        delivery_id = conn.execute(
            sa.insert(d)
            .values(
                event_id=event.id,
                subscription_id=subscription_id,
                organization_id=sub["organization_id"],
                status="pending",
                attempts=0,
                cycle_attempts=0,
                next_attempt_at=now,
                created_at=now,
                updated_at=now,
            )
            .returning(d.c.id)
        ).scalar_one()
    deliver_due(control, settings, now=now, delivery_ids=[delivery_id])
    with control.engine.connect() as conn:
        row = conn.execute(
            sa.select(d.c.status, d.c.last_status_code, d.c.last_error).where(d.c.id == delivery_id)
        ).one()
    return {
        "event_id": event.id,
        "delivery_id": delivery_id,
        "status": row.status,
        "status_code": row.last_status_code,
        "error": row.last_error,
        "payload": event.payload,
    }
