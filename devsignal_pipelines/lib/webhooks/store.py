"""Subscriptions, API keys and the delivery log in the control DB (what the CLI and API call)."""

from __future__ import annotations

import hashlib
import secrets as _random
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pandas as pd
import sqlalchemy as sa

from devsignal_pipelines.lib.stores import control as c
from devsignal_pipelines.lib.stores.control import ControlDB, ControlDBError
from devsignal_pipelines.lib.webhooks.events import validate_event_type
from devsignal_pipelines.lib.webhooks.secrets import (
    encrypt_secret,
    new_signing_secret,
    require_secret_key,
)
from devsignal_pipelines.lib.webhooks.settings import WebhookSettings
from devsignal_pipelines.lib.webhooks.ssrf import check_url

SUBSCRIPTION_FIELDS = (
    "id",
    "organization_id",
    "event_type",
    "url",
    "status",
    "status_reason",
    "created_via",
    "failing_since",
    "created_at",
    "updated_at",
)
_VISIBLE = ("active", "paused", "disabled")


class NotFoundError(LookupError):
    """No such subscription (or not this organization's)."""


@dataclass(frozen=True)
class NewSubscription:
    """Returned once at creation: the only time the plain secret exists outside the signer."""

    id: str
    organization_id: str
    event_type: str
    url: str
    secret: str
    created_at: datetime


def _now() -> datetime:
    return datetime.now(UTC)


def subscribe(
    control: ControlDB,
    organization_id: str,
    event_type: str,
    url: str,
    settings: WebhookSettings,
    created_via: str = "cli",
) -> NewSubscription:
    """Check the URL (SSRF rules), create the subscription with a new secret, return it once."""
    validate_event_type(event_type)
    check_url(url, settings)
    require_secret_key()
    secret = new_signing_secret()
    sub = NewSubscription(
        id="sub_" + _random.token_hex(12),
        organization_id=organization_id,
        event_type=event_type,
        url=url,
        secret=secret,
        created_at=_now(),
    )
    with control.begin() as conn:
        control.require_organization(conn, organization_id)
        conn.execute(
            sa.insert(c.webhook_subscriptions).values(
                id=sub.id,
                organization_id=organization_id,
                event_type=event_type,
                url=url,
                secret_encrypted=encrypt_secret(secret),
                status="active",
                created_via=created_via,
                created_at=sub.created_at,
                updated_at=sub.created_at,
            )
        )
    return sub


def _subscription_query(organization_id: str | None) -> sa.Select:
    s = c.webhook_subscriptions
    stmt = sa.select(*(s.c[f] for f in SUBSCRIPTION_FIELDS)).where(s.c.status.in_(_VISIBLE))
    if organization_id is not None:
        stmt = stmt.where(s.c.organization_id == organization_id)
    return stmt


def list_subscriptions(
    control: ControlDB, organization_id: str | None = None
) -> list[dict[str, Any]]:
    stmt = _subscription_query(organization_id).order_by(
        c.webhook_subscriptions.c.organization_id, c.webhook_subscriptions.c.created_at
    )
    with control.engine.connect() as conn:
        return [dict(r._mapping) for r in conn.execute(stmt)]


def get_subscription(
    control: ControlDB, subscription_id: str, organization_id: str | None = None
) -> dict[str, Any]:
    """One visible subscription; NotFoundError when missing or another organization's."""
    stmt = _subscription_query(organization_id).where(
        c.webhook_subscriptions.c.id == subscription_id
    )
    with control.engine.connect() as conn:
        row = conn.execute(stmt).first()
    if row is None:
        raise NotFoundError(
            f"no webhook subscription {subscription_id!r}"
            + (f" in organization {organization_id!r}" if organization_id else "")
            + "; see `devsignal webhooks list`"
        )
    return dict(row._mapping)


def set_status(
    control: ControlDB,
    subscription_id: str,
    status: str,
    reason: str | None = None,
    organization_id: str | None = None,
) -> dict[str, Any]:
    """pause / resume / delete (and disable). Deleting or disabling cancels pending deliveries;
    pausing holds them until resumed."""
    get_subscription(control, subscription_id, organization_id)
    s, d = c.webhook_subscriptions, c.webhook_deliveries
    now = _now()
    with control.begin() as conn:
        values: dict[str, Any] = {"status": status, "status_reason": reason, "updated_at": now}
        if status == "active":
            values["failing_since"] = None
        conn.execute(sa.update(s).where(s.c.id == subscription_id).values(**values))
        if status in ("deleted", "disabled"):
            conn.execute(
                sa.update(d)
                .where(d.c.subscription_id == subscription_id, d.c.status == "pending")
                .values(status="cancelled", updated_at=now, last_error=f"subscription {status}")
            )
    return (
        {**get_subscription(control, subscription_id), "status": status}
        if status != "deleted"
        else {"id": subscription_id, "status": status}
    )


def deliveries(
    control: ControlDB,
    organization_id: str | None = None,
    subscription_id: str | None = None,
    status: str | None = None,
    limit: int = 50,
) -> pd.DataFrame:
    d, e = c.webhook_deliveries, c.webhook_events
    stmt = (
        sa.select(
            d.c.id,
            d.c.organization_id,
            d.c.subscription_id,
            d.c.event_id,
            e.c.event_type,
            d.c.status,
            d.c.attempts,
            d.c.last_status_code,
            d.c.last_error,
            d.c.next_attempt_at,
            d.c.delivered_at,
            d.c.updated_at,
        )
        .join(e, e.c.id == d.c.event_id)
        .order_by(d.c.id.desc())
        .limit(limit)
    )
    if organization_id:
        stmt = stmt.where(d.c.organization_id == organization_id)
    if subscription_id:
        stmt = stmt.where(d.c.subscription_id == subscription_id)
    if status:
        stmt = stmt.where(d.c.status == status)
    return control.read_df(stmt)


def redeliver(
    control: ControlDB,
    delivery_ids: list[int] | None = None,
    organization_id: str | None = None,
    subscription_id: str | None = None,
    now: datetime | None = None,
) -> int:
    """Queue failed (or cancelled) deliveries again with a fresh retry schedule; returns how many.

    Only deliveries whose subscription is active are requeued; the webhook id stays the same.
    """
    d, s = c.webhook_deliveries, c.webhook_subscriptions
    now = now or _now()
    active = sa.select(s.c.id).where(s.c.status == "active")
    stmt = (
        sa.update(d)
        .where(d.c.status.in_(("failed", "cancelled")), d.c.subscription_id.in_(active))
        .values(
            status="pending",
            cycle_attempts=0,
            next_attempt_at=now,
            claim=None,
            claimed_until=None,
            updated_at=now,
        )
    )
    if delivery_ids:
        stmt = stmt.where(d.c.id.in_(delivery_ids))
    if organization_id:
        stmt = stmt.where(d.c.organization_id == organization_id)
    if subscription_id:
        stmt = stmt.where(d.c.subscription_id == subscription_id)
    with control.begin() as conn:
        return max(conn.execute(stmt).rowcount, 0)


def recent_events(
    control: ControlDB, organization_id: str, event_type: str | None = None, limit: int = 20
) -> list[str]:
    """The newest outbox payloads of an organization (exact JSON text), newest first."""
    e = c.webhook_events
    stmt = (
        sa.select(e.c.payload)
        .where(e.c.organization_id == organization_id, e.c.is_test.is_(False))
        .order_by(e.c.created_at.desc(), e.c.id)
        .limit(limit)
    )
    if event_type:
        stmt = stmt.where(e.c.event_type == event_type)
    with control.engine.connect() as conn:
        return [r[0] for r in conn.execute(stmt)]


# --- API keys ----------------------------------------------------------------------------------

API_KEY_PREFIX = "dsk_"


def hash_api_key(key: str) -> str:
    # Keys are 256-bit random tokens: a plain SHA-256 cannot be brute-forced, and it is indexable.
    return hashlib.sha256(key.encode()).hexdigest()


def create_api_key(control: ControlDB, organization_id: str) -> tuple[str, str]:
    """(key id, the key): the key is shown once and only its hash is stored."""
    key = API_KEY_PREFIX + _random.token_urlsafe(32)
    key_id = "key_" + _random.token_hex(8)
    with control.begin() as conn:
        control.require_organization(conn, organization_id)
        conn.execute(
            sa.insert(c.api_keys).values(
                id=key_id,
                organization_id=organization_id,
                key_hash=hash_api_key(key),
                prefix=key[:10],
                created_at=_now(),
            )
        )
    return key_id, key


def organization_for_key(control: ControlDB, key: str) -> str | None:
    """The organization an API key belongs to, or None (unknown or revoked)."""
    if not key.startswith(API_KEY_PREFIX):
        return None
    k = c.api_keys
    with control.begin() as conn:
        row = conn.execute(
            sa.select(k.c.id, k.c.organization_id).where(
                k.c.key_hash == hash_api_key(key), k.c.revoked_at.is_(None)
            )
        ).first()
        if row is None:
            return None
        conn.execute(sa.update(k).where(k.c.id == row.id).values(last_used_at=_now()))
        return row.organization_id


__all__ = ["ControlDBError"]
