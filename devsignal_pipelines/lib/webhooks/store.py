"""Subscriptions, API keys and the delivery log in the control DB (what the CLI and API call)."""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import re
import secrets as _random
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from devsignal_pipelines.lib.stores import control as c
from devsignal_pipelines.lib.stores.control import ControlDB, ControlDBError
from devsignal_pipelines.lib.webhooks.events import iso, validate_event_type
from devsignal_pipelines.lib.webhooks.secrets import (
    encrypt_secret,
    new_signing_secret,
    reencrypt_secret,
    require_secret_key,
)
from devsignal_pipelines.lib.webhooks.settings import WebhookSettings
from devsignal_pipelines.lib.webhooks.ssrf import check_url

if TYPE_CHECKING:
    import pandas as pd

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


def update_url(
    control: ControlDB,
    subscription_id: str,
    url: str,
    settings: WebhookSettings,
    organization_id: str | None = None,
) -> dict[str, Any]:
    """Point a subscription at another URL (checked with the SSRF rules, as at subscribe);
    its status and secret stay, the failure clock restarts. Pending deliveries go to the new URL."""
    get_subscription(control, subscription_id, organization_id)
    check_url(url, settings)
    s = c.webhook_subscriptions
    with control.begin() as conn:
        conn.execute(
            sa.update(s)
            .where(s.c.id == subscription_id)
            .values(url=url, failing_since=None, updated_at=_now())
        )
    return get_subscription(control, subscription_id)


# --- polling the outbox (REST-hook fallback) ---------------------------------------------------

# webhook_events ids are content hashes (they order nothing) and created_at is taken when a
# change is computed, before its transaction commits: an event can become visible after a later
# one. A poll therefore looks back POLL_OVERLAP behind the newest event it has returned and skips
# what it already returned there (the cursor carries those ids, as 6-byte hashes). An event
# committed more than POLL_OVERLAP after its created_at could still be missed.
POLL_OVERLAP = timedelta(minutes=10)
POLL_MAX_SEEN = 500  # ids a cursor remembers; past that its floor moves up instead


def _seen_key(event_id: str) -> bytes:
    return hashlib.sha256(event_id.encode()).digest()[:6]


@dataclass(frozen=True)
class PollCursor:
    """Where a poller is: the newest created_at returned (`watermark`), the ids returned within
    POLL_OVERLAP before it (`seen`), and a floor nothing at or before is returned again
    ((created_at, id); id None: everything at that time is excluded too)."""

    watermark: datetime
    seen: frozenset[bytes] = frozenset()
    floor: tuple[datetime, str | None] | None = None


def poll_start_at_event(control: ControlDB, organization_id: str, event_id: str) -> PollCursor:
    """The cursor just after one of the organization's events; NotFoundError when unknown."""
    e = c.webhook_events
    with control.engine.connect() as conn:
        row = conn.execute(
            sa.select(e.c.created_at).where(
                e.c.id == event_id, e.c.organization_id == organization_id
            )
        ).first()
    if row is None:
        raise NotFoundError(f"no event {event_id!r}")
    created = _aware(row.created_at)
    return PollCursor(created, floor=(created, event_id))


def poll_events(
    control: ControlDB,
    organization_id: str,
    event_type: str | None,
    cursor: PollCursor,
    limit: int = 20,
) -> tuple[list[str], PollCursor]:
    """Payloads after `cursor`, oldest first (created_at, id), and the cursor to pass next: with
    it, no event is returned twice, and an event committed late (within POLL_OVERLAP of its
    created_at) is still returned."""
    e = c.webhook_events
    lower = cursor.watermark - POLL_OVERLAP
    stmt = sa.select(e.c.id, e.c.created_at, e.c.payload).where(
        e.c.organization_id == organization_id,
        e.c.is_test.is_(False),
        e.c.created_at > lower.astimezone(UTC),
    )
    if event_type:
        stmt = stmt.where(e.c.event_type == event_type)
    if cursor.floor is not None:
        floor_at, floor_id = cursor.floor
        floor_at = floor_at.astimezone(UTC)
        stmt = stmt.where(
            e.c.created_at > floor_at
            if floor_id is None
            else sa.or_(
                e.c.created_at > floor_at, sa.and_(e.c.created_at == floor_at, e.c.id > floor_id)
            )
        )
    fetch = limit + len(cursor.seen)  # at least `limit` unseen ones when there are that many
    stmt = stmt.order_by(e.c.created_at, e.c.id).limit(fetch)
    with control.engine.connect() as conn:
        rows = [(r.id, _aware(r.created_at), r.payload) for r in conn.execute(stmt)]
    returned: list[tuple[str, datetime, str]] = []
    encountered: dict[bytes, tuple[datetime, str]] = {}
    for event_id, created, payload in rows:
        key = _seen_key(event_id)
        if key in cursor.seen:
            encountered[key] = (created, event_id)
        elif len(returned) < limit:
            returned.append((event_id, created, payload))
            encountered[key] = (created, event_id)
    watermark = max([cursor.watermark, *(r[1] for r in returned)])
    window_start = watermark - POLL_OVERLAP
    # Remembered: what was returned (now or before) and is still inside the look-back window.
    # A remembered id the scan did not reach lies after it (keep it); one a complete scan did
    # not find is gone.
    complete = len(rows) < fetch
    kept = {k: v for k, v in encountered.items() if v[0] > window_start}
    carried = set() if complete else set(cursor.seen) - set(encountered)
    floor = cursor.floor
    if floor is not None and floor[0] <= window_start:
        floor = None  # the look-back window no longer reaches it
    if len(kept) + len(carried) > POLL_MAX_SEEN:
        # Too many to carry: forget the oldest and move the floor past them instead.
        ordered = sorted(kept.items(), key=lambda kv: kv[1])
        drop = len(kept) + len(carried) - POLL_MAX_SEEN
        floor = ordered[drop - 1][1] if drop <= len(ordered) else ordered[-1][1]
        kept = dict(ordered[drop:])
    return [r[2] for r in returned], PollCursor(
        watermark, frozenset(kept) | frozenset(carried), floor
    )


def encode_poll_cursor(cursor: PollCursor, event_type: str | None) -> str:
    state = {
        "v": 1,
        "type": event_type,
        "w": cursor.watermark.astimezone(UTC).isoformat(),
        "s": base64.b64encode(b"".join(sorted(cursor.seen))).decode(),
        "f": None
        if cursor.floor is None
        else [cursor.floor[0].astimezone(UTC).isoformat(), cursor.floor[1]],
    }
    return base64.urlsafe_b64encode(json.dumps(state, separators=(",", ":")).encode()).decode()


def decode_poll_cursor(token: str, event_type: str | None) -> PollCursor:
    """ValueError when the token is not one encode_poll_cursor made for `event_type`."""
    try:
        state = json.loads(base64.urlsafe_b64decode(token.encode() + b"=" * (-len(token) % 4)))
        if not isinstance(state, dict) or state.get("v") != 1:
            raise ValueError
        seen_bytes = base64.b64decode(state["s"], validate=True)
        watermark = datetime.fromisoformat(state["w"])
        floor = state["f"]
        if floor is not None:
            floor = (datetime.fromisoformat(floor[0]), floor[1])
        if watermark.tzinfo is None or len(seen_bytes) % 6:
            raise ValueError
    except (ValueError, KeyError, TypeError, IndexError, binascii.Error, UnicodeDecodeError):
        raise ValueError("not a cursor this API returned (pass `next_cursor` unchanged)") from None
    if state.get("type") != event_type:
        raise ValueError(
            f"this cursor is for type={state.get('type')!r}; use it with that type only"
        )
    seen = frozenset(seen_bytes[i : i + 6] for i in range(0, len(seen_bytes), 6))
    return PollCursor(watermark, seen, floor)


# --- API keys ----------------------------------------------------------------------------------

API_KEY_PREFIX = "dsk_"
SHOWN_PREFIX_LENGTH = 10  # "dsk_" + 6 characters: what lists show and what `revoke` takes
_DURATION = re.compile(r"^\s*(\d+)\s*([smhdw])\s*$")
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}
API_KEY_FIELDS = (
    "id",
    "organization_id",
    "prefix",
    "created_at",
    "created_by",
    "last_used_at",
    "expires_at",
    "revoked_at",
)


class AmbiguousKeyError(LookupError):
    """A key prefix that matches more than one key: give the key id instead."""


@dataclass(frozen=True)
class NewApiKey:
    """Returned once at creation: the only time the key itself exists outside its owner."""

    id: str
    organization_id: str
    key: str
    prefix: str
    created_at: datetime
    expires_at: datetime | None


@dataclass(frozen=True)
class ApiKeyCheck:
    """Whom a presented key acts for, or why it is refused (`problem` is None for a key that is
    simply unknown or missing: callers answer with their own hint then)."""

    organization_id: str | None
    key_id: str | None = None
    expires_at: datetime | None = None
    problem: str | None = None


def hash_api_key(key: str) -> str:
    # Keys are 256-bit random tokens: a plain SHA-256 cannot be brute-forced, and it is indexable.
    return hashlib.sha256(key.encode()).hexdigest()


def parse_expires_in(value: str | int | float) -> timedelta:
    """'90d', '12h', '30m', '2w', '45s', or a number of seconds: how long a new key is valid."""
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        raise ValueError(f"{value!r} is not a duration; use e.g. '90d', '12h' or '30m'")
    if isinstance(value, str):
        match = _DURATION.match(value.lower())
        if not match:
            raise ValueError(
                f"{value!r} is not a duration; use a whole number and a unit: "
                "s, m, h, d or w (e.g. '90d', '12h', '30m')"
            )
        seconds = int(match.group(1)) * _UNIT_SECONDS[match.group(2)]
    else:
        seconds = value
    if not 0 < seconds <= 10 * 365 * 86400:
        raise ValueError(
            f"a key's lifetime must be more than 0 and at most 10 years, not {value!r}"
        )
    return timedelta(seconds=seconds)


def _aware(value: datetime | None) -> datetime | None:
    # SQLite gives naive datetimes back; everything here is stored in UTC.
    return value.replace(tzinfo=UTC) if value is not None and value.tzinfo is None else value


def _key_status(row: dict[str, Any], now: datetime) -> str:
    if row["revoked_at"] is not None:
        return "revoked"
    if row["expires_at"] is not None and row["expires_at"] <= now:
        return "expired"
    return "active"


def issue_api_key(
    control: ControlDB,
    organization_id: str,
    expires_in: timedelta | None = None,
    *,
    not_after: datetime | None = None,
    created_by: str = "cli",
) -> NewApiKey:
    """A new key for the organization: shown once, only its hash and prefix are stored.

    `not_after` caps the expiry: a key created through the API never outlives the key that
    created it (a leaked short-lived key cannot mint a permanent one)."""
    now = _now()
    expires_at = now + expires_in if expires_in is not None else None
    if not_after is not None:
        expires_at = min(expires_at or not_after, not_after)
    key = API_KEY_PREFIX + _random.token_urlsafe(32)
    new = NewApiKey(
        id="key_" + _random.token_hex(8),
        organization_id=organization_id,
        key=key,
        prefix=key[:SHOWN_PREFIX_LENGTH],
        created_at=now,
        expires_at=expires_at,
    )
    with control.begin() as conn:
        control.require_organization(conn, organization_id)
        conn.execute(
            sa.insert(c.api_keys).values(
                id=new.id,
                organization_id=organization_id,
                key_hash=hash_api_key(key),
                prefix=new.prefix,
                created_at=now,
                created_by=created_by,
                expires_at=expires_at,
            )
        )
    return new


def create_api_key(control: ControlDB, organization_id: str) -> tuple[str, str]:
    """(key id, the key) of a new key that does not expire (see issue_api_key)."""
    new = issue_api_key(control, organization_id)
    return new.id, new.key


def list_api_keys(
    control: ControlDB, organization_id: str | None = None, now: datetime | None = None
) -> list[dict[str, Any]]:
    """Every key (active, expired and revoked), oldest first, with its `status`; never the key."""
    k = c.api_keys
    stmt = sa.select(*(k.c[f] for f in API_KEY_FIELDS)).order_by(
        k.c.organization_id, k.c.created_at, k.c.id
    )
    if organization_id is not None:
        stmt = stmt.where(k.c.organization_id == organization_id)
    now = now or _now()
    with control.engine.connect() as conn:
        rows = [dict(r._mapping) for r in conn.execute(stmt)]
    for row in rows:
        for f in ("created_at", "last_used_at", "expires_at", "revoked_at"):
            row[f] = _aware(row[f])
        row["status"] = _key_status(row, now)
    return rows


def revoke_api_key(
    control: ControlDB, reference: str, organization_id: str | None = None
) -> dict[str, Any]:
    """Revoke the key named by its shown prefix (`dsk_abc123`), its id (`key_...`) or the whole
    key; returns it (with `already_revoked`). NotFoundError when no key of `organization_id` (any
    organization when None) matches, AmbiguousKeyError when a prefix matches several."""
    k = c.api_keys
    reference = reference.strip().rstrip(".…")
    if reference.startswith(API_KEY_PREFIX) and len(reference) > SHOWN_PREFIX_LENGTH:
        match = k.c.key_hash == hash_api_key(reference)
    else:
        match = sa.or_(k.c.prefix == reference, k.c.id == reference)
    stmt = sa.select(*(k.c[f] for f in API_KEY_FIELDS)).where(match)
    if organization_id is not None:
        stmt = stmt.where(k.c.organization_id == organization_id)
    now = _now()
    with control.begin() as conn:
        rows = [dict(r._mapping) for r in conn.execute(stmt)]
        if not rows:
            raise NotFoundError(
                f"no API key {reference!r}"
                + (f" in organization {organization_id!r}" if organization_id else "")
                + "; give the prefix shown by `devsignal orgs api-keys ORG` (dsk_...) or the key id"
            )
        if len(rows) > 1:
            ids = ", ".join(f"{r['id']} ({r['organization_id']})" for r in rows)
            raise AmbiguousKeyError(
                f"{reference!r} matches {len(rows)} API keys: {ids}; revoke by key id instead"
            )
        row = rows[0]
        row["already_revoked"] = row["revoked_at"] is not None
        if not row["already_revoked"]:
            conn.execute(sa.update(k).where(k.c.id == row["id"]).values(revoked_at=now))
            row["revoked_at"] = now
    for f in ("created_at", "last_used_at", "expires_at", "revoked_at"):
        row[f] = _aware(row[f])
    return row


def check_api_key(control: ControlDB, key: str, now: datetime | None = None) -> ApiKeyCheck:
    """Whom the key acts for; a revoked or expired key is refused with the reason (the key's
    prefix and when), never with the organization. Marks the key used."""
    if not key.startswith(API_KEY_PREFIX):
        return ApiKeyCheck(None)
    k = c.api_keys
    now = now or _now()
    with control.begin() as conn:
        row = conn.execute(
            sa.select(
                k.c.id, k.c.organization_id, k.c.prefix, k.c.revoked_at, k.c.expires_at
            ).where(k.c.key_hash == hash_api_key(key))
        ).first()
        if row is None:
            return ApiKeyCheck(None)
        revoked_at, expires_at = _aware(row.revoked_at), _aware(row.expires_at)
        create = "ask for a new one (devsignal orgs api-key ORG)"
        if revoked_at is not None:
            return ApiKeyCheck(
                None,
                row.id,
                problem=f"API key {row.prefix}… was revoked at {iso(revoked_at)}; {create}",
            )
        if expires_at is not None and expires_at <= now:
            return ApiKeyCheck(
                None,
                row.id,
                problem=f"API key {row.prefix}… expired at {iso(expires_at)}; {create}",
            )
        conn.execute(sa.update(k).where(k.c.id == row.id).values(last_used_at=now))
        return ApiKeyCheck(row.organization_id, row.id, expires_at)


def organization_for_key(control: ControlDB, key: str) -> str | None:
    """The organization an API key belongs to, or None (unknown, revoked or expired)."""
    return check_api_key(control, key).organization_id


# --- rotation of DEVSIGNAL_SECRET_KEY -----------------------------------------------------------


def reencrypt_subscription_secrets(conn: sa.Connection) -> int:
    """Re-encrypt every subscription's signing secret with the first DEVSIGNAL_SECRET_KEY key, in
    the caller's transaction; returns how many. Refuses (SecretKeyError) when one cannot be read."""
    s = c.webhook_subscriptions
    rows = conn.execute(sa.select(s.c.id, s.c.secret_encrypted)).all()
    for row in rows:
        token = reencrypt_secret(
            row.secret_encrypted, f"the signing secret of webhook subscription {row.id}"
        )
        conn.execute(sa.update(s).where(s.c.id == row.id).values(secret_encrypted=token))
    return len(rows)


__all__ = ["ControlDBError"]
