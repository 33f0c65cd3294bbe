"""At-least-once delivery: claim due deliveries, send them concurrently, log every attempt.

One call of `deliver_due` (the delivery job's body) fans new outbox events out to their
subscriptions, then repeatedly claims a batch of due deliveries, signs and POSTs them over a
pooled, SSRF-pinned client session (aiohttp), and records the attempts and their consequences in
bulk.

- 2xx: succeeded. 410: the subscription is disabled (the receiver unsubscribed) and its pending
  deliveries cancelled; nothing more is sent to it in this run. Anything else (3xx included:
  redirects are never followed; timeouts, refused addresses) is a failed attempt, retried after the next delay of the schedule (with
  jitter, and never sooner than a Retry-After asks); after the last one the delivery is failed.
- 429 / 502 / 504 also pause the whole endpoint for the rest of the run: its other claimed
  deliveries are put back, unattempted, for when the endpoint asked to be called again.
- An endpoint whose attempts have all failed for `disable_after_days` is disabled.

The webhook id is the event id: the same on every retry and redelivery.
"""

from __future__ import annotations

import asyncio
import math
import random
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import aiohttp
import sqlalchemy as sa

from devsignal_pipelines.lib.sources.crm.frames import control_time, insert_missing_rows
from devsignal_pipelines.lib.sources.http import retry_after_seconds
from devsignal_pipelines.lib.stores import control as c
from devsignal_pipelines.lib.stores.control import ControlDB
from devsignal_pipelines.lib.webhooks.outbox import fan_out
from devsignal_pipelines.lib.webhooks.secrets import decrypt_secret, require_secret_key
from devsignal_pipelines.lib.webhooks.settings import WebhookSettings
from devsignal_pipelines.lib.webhooks.signing import Signer
from devsignal_pipelines.lib.webhooks.ssrf import UnsafeTargetError
from devsignal_pipelines.lib.webhooks.transport import PinnedResolver, pinned_session

SLOW_DOWN = (429, 502, 504)
USER_AGENT = "DevSignal-Webhooks/1"
MAX_RESPONSE_BYTES = 64 * 1024
MAX_ERROR_CHARS = 500


@dataclass(frozen=True)
class DueDelivery:
    delivery_id: int
    event_id: str
    subscription_id: str
    organization_id: str
    url: str
    secret_encrypted: str
    payload: str
    attempts: int
    cycle_attempts: int
    is_test: bool


@dataclass
class AttemptResult:
    due: DueDelivery
    started_at: datetime
    duration_ms: float = 0.0
    status_code: int | None = None
    error: str | None = None
    retry_after_s: float | None = None
    deferred: bool = False  # not attempted: the endpoint asked us to slow down, or is gone

    @property
    def succeeded(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


@dataclass
class DeliveryReport:
    fanned_out: int = 0
    attempted: int = 0
    succeeded: int = 0
    retrying: int = 0
    failed: int = 0
    deferred: int = 0
    subscriptions_disabled: list[str] = field(default_factory=list)

    def as_metadata(self) -> dict[str, object]:
        return {
            "deliveries_created": self.fanned_out,
            "attempts": self.attempted,
            "succeeded": self.succeeded,
            "retrying": self.retrying,
            "failed": self.failed,
            "deferred_slow_down": self.deferred,
            "subscriptions_disabled": len(self.subscriptions_disabled),
        }


# --- claiming ----------------------------------------------------------------------------------


def _due_filter(now: datetime) -> list[sa.ColumnElement[bool]]:
    d = c.webhook_deliveries
    return [
        d.c.status == "pending",
        d.c.next_attempt_at <= now,
        sa.or_(d.c.claimed_until.is_(None), d.c.claimed_until < now),
    ]


def count_due(control: ControlDB, now: datetime) -> tuple[int, datetime | None]:
    """Deliveries due now (of active subscriptions) and the latest due time among them."""
    d, s = c.webhook_deliveries, c.webhook_subscriptions
    stmt = (
        sa.select(sa.func.count(), sa.func.max(d.c.next_attempt_at))
        .select_from(d.join(s, s.c.id == d.c.subscription_id))
        .where(*_due_filter(now), s.c.status == "active")
    )
    with control.engine.connect() as conn:
        count, latest = conn.execute(stmt).one()
    return int(count), latest


def claim_due(
    control: ControlDB,
    now: datetime,
    limit: int,
    lease_s: float,
    delivery_ids: Sequence[int] | None = None,
) -> tuple[str, list[DueDelivery]]:
    """Claim up to `limit` due deliveries for this worker (a lease, so a crash frees them)."""
    d, s, e = c.webhook_deliveries, c.webhook_subscriptions, c.webhook_events
    token = uuid.uuid4().hex
    candidates = (
        sa.select(d.c.id)
        .join(s, s.c.id == d.c.subscription_id)
        .where(*_due_filter(now), s.c.status == "active")
        .order_by(d.c.next_attempt_at, d.c.id)
        .limit(limit)
    )
    if delivery_ids is not None:
        candidates = candidates.where(d.c.id.in_(list(delivery_ids)))
    with control.begin() as conn:
        conn.execute(
            sa.update(d)
            # Re-checked on the row itself: a concurrent claimer that got there first wins.
            .where(d.c.id.in_(candidates.scalar_subquery()), *_due_filter(now))
            .values(claim=token, claimed_until=now + timedelta(seconds=lease_s))
        )
        rows = conn.execute(
            sa.select(
                d.c.id,
                d.c.event_id,
                d.c.subscription_id,
                d.c.organization_id,
                s.c.url,
                s.c.secret_encrypted,
                e.c.payload,
                d.c.attempts,
                d.c.cycle_attempts,
                e.c.is_test,
                s.c.organization_id.label("subscription_org"),
                e.c.organization_id.label("event_org"),
            )
            .join(s, s.c.id == d.c.subscription_id)
            .join(e, e.c.id == d.c.event_id)
            .where(d.c.claim == token)
            .order_by(d.c.id)
        ).all()
        crossed = [r.id for r in rows if not r.organization_id == r.subscription_org == r.event_org]
        if crossed:  # cannot happen through fan_out; never send, whatever wrote the row
            conn.execute(
                sa.update(d)
                .where(d.c.id.in_(crossed))
                .values(
                    status="cancelled", claim=None, last_error="organization mismatch: not sent"
                )
            )
    due = [
        DueDelivery(
            r.id,
            r.event_id,
            r.subscription_id,
            r.organization_id,
            r.url,
            r.secret_encrypted,
            r.payload,
            r.attempts,
            r.cycle_attempts,
            bool(r.is_test),
        )
        for r in rows
        if r.id not in set(crossed)
    ]
    return token, due


def release(control: ControlDB, token: str) -> None:
    d = c.webhook_deliveries
    with control.begin() as conn:
        conn.execute(sa.update(d).where(d.c.claim == token).values(claim=None, claimed_until=None))


# --- sending -----------------------------------------------------------------------------------


class Sender:
    """Signs and POSTs deliveries over one pinned client session (use as an async context)."""

    def __init__(self, settings: WebhookSettings):
        self.settings = settings
        self.resolver = PinnedResolver(settings)
        self.session: aiohttp.ClientSession | None = None
        self._signers: dict[str, Signer] = {}
        # Endpoints not called again this run: they asked to slow down, or answered 410 Gone.
        self._hold: set[str] = set()
        self._headers = {"content-type": "application/json", "user-agent": USER_AGENT}

    async def __aenter__(self) -> Sender:
        self.session = pinned_session(
            self.resolver, self.settings.concurrency, self.settings.timeout_s
        )
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self.session is not None:
            await self.session.close()

    def _signer(self, due: DueDelivery) -> Signer:
        if due.subscription_id not in self._signers:
            self._signers[due.subscription_id] = Signer(decrypt_secret(due.secret_encrypted))
        return self._signers[due.subscription_id]

    async def send_all(self, batch: Sequence[DueDelivery]) -> list[AttemptResult]:
        """Send a batch with `concurrency` workers (not one task per delivery), in order."""
        results: list[AttemptResult | None] = [None] * len(batch)
        todo = iter(enumerate(batch))

        async def worker() -> None:
            for i, due in todo:
                results[i] = await self.send(due)

        await asyncio.gather(*(worker() for _ in range(min(self.settings.concurrency, len(batch)))))
        return results  # type: ignore[return-value]

    async def send(self, due: DueDelivery) -> AttemptResult:
        result = AttemptResult(due, datetime.now(UTC))
        if due.subscription_id in self._hold:
            result.deferred = True
            return result
        # Checked once per run and host; the session then connects only to these addresses.
        target = await self.resolver.check(due.url)
        if isinstance(target, UnsafeTargetError):
            result.error = str(target)
            return result
        body = due.payload.encode()
        headers = self._signer(due).headers(due.event_id, int(time.time()), body)
        headers.update(self._headers)
        started = time.perf_counter()
        try:
            async with asyncio.timeout(self.settings.timeout_s):
                await self._post(due.url, headers, body, result)
        except TimeoutError:
            result.error = f"timed out after {self.settings.timeout_s:g} s"
        except (aiohttp.ClientError, OSError) as exc:
            result.error = f"{type(exc).__name__}: {exc}"[:MAX_ERROR_CHARS]
        result.duration_ms = round((time.perf_counter() - started) * 1000, 3)
        if result.status_code in SLOW_DOWN or result.status_code == 410:
            self._hold.add(due.subscription_id)
        return result

    async def _post(
        self, url: str, headers: dict[str, str], body: bytes, result: AttemptResult
    ) -> None:
        assert self.session is not None
        async with self.session.post(
            url, data=body, headers=headers, allow_redirects=False
        ) as response:
            result.status_code = response.status
            received = 0
            # Drained (bounded) so the connection is reused.
            while chunk := await response.content.read(MAX_RESPONSE_BYTES):
                received += len(chunk)
                if received > MAX_RESPONSE_BYTES:
                    break
            if not 200 <= response.status < 300:
                result.retry_after_s = retry_after_seconds(
                    response.headers.get("retry-after"), time.time()
                )
                detail = f"HTTP {response.status}"
                if 300 <= response.status < 400:
                    detail += f" redirect to {response.headers.get('location', '?')} (not followed)"
                result.error = detail[:MAX_ERROR_CHARS]


# --- recording ---------------------------------------------------------------------------------


def next_delay_s(
    settings: WebhookSettings, cycle_attempts: int, retry_after_s: float | None, rng: random.Random
) -> float | None:
    """Seconds until the next attempt after `cycle_attempts` failed ones, or None: give up."""
    if cycle_attempts > len(settings.retry_schedule_s):
        return None
    delay = settings.retry_schedule_s[cycle_attempts - 1] * (
        1 + rng.uniform(0, settings.retry_jitter)
    )
    if retry_after_s is not None and math.isfinite(retry_after_s):
        delay = max(delay, min(retry_after_s, settings.max_retry_after_s))
    return delay


def _ts(control: ControlDB, moment: datetime) -> datetime | str:
    return control_time(control, moment)


def record(
    control: ControlDB,
    token: str,
    results: Sequence[AttemptResult],
    settings: WebhookSettings,
    now: datetime,
    report: DeliveryReport,
    rng: random.Random,
) -> None:
    """Log the attempts and apply their consequences, in one transaction, set-based."""
    d, s = c.webhook_deliveries, c.webhook_subscriptions
    attempts, deferred = [], []
    gone, ok_subs, failed_subs = set(), set(), set()
    for r in results:
        if r.deferred:
            deferred.append((r.due.delivery_id, r.due.subscription_id))
            continue
        cycle = r.due.cycle_attempts + 1
        next_at = None
        if r.succeeded:
            outcome = "succeeded"
            ok_subs.add(r.due.subscription_id)
        elif r.status_code == 410:
            outcome = "gone"
            gone.add(r.due.subscription_id)
        else:
            failed_subs.add(r.due.subscription_id)
            delay = None if r.due.is_test else next_delay_s(settings, cycle, r.retry_after_s, rng)
            outcome = "failed" if delay is None else "retry"
            next_at = None if delay is None else now + timedelta(seconds=delay)
        report.attempted += 1
        report.succeeded += outcome == "succeeded"
        report.retrying += outcome == "retry"
        report.failed += outcome in ("failed", "gone")
        # The status code goes as text: bulk COPY on PostgreSQL would write a NULL-able int as 200.0.
        attempts.append(
            (
                r.due.delivery_id,
                r.due.attempts + 1,
                _ts(control, r.started_at),
                r.duration_ms,
                None if r.status_code is None else str(r.status_code),
                r.error,
                outcome,
                None if next_at is None else _ts(control, next_at),
            )
        )
    # Deferred deliveries wait until their own endpoint's retry is due: one subscription's
    # Retry-After never holds back another's (or another tenant's) deliveries.
    first_retry = now + timedelta(
        seconds=settings.retry_schedule_s[0] if settings.retry_schedule_s else 0
    )
    resume_at: dict[str, datetime] = {}
    for r in results:
        if not r.deferred and r.status_code in SLOW_DOWN and r.retry_after_s:
            wait = now + timedelta(seconds=min(r.retry_after_s, settings.max_retry_after_s))
            sub = r.due.subscription_id
            resume_at[sub] = max(resume_at.get(sub, first_retry), wait)
    deferred_until: dict[datetime, list[str]] = {}
    for delivery_id, sub in deferred:
        deferred_until.setdefault(resume_at.get(sub, first_retry), []).append(delivery_id)
    report.deferred += len(deferred)
    with control.begin() as conn:
        insert_missing_rows(
            control,
            conn,
            c.webhook_delivery_attempts,
            [
                "delivery_id",
                "attempt",
                "started_at",
                "duration_ms",
                "status_code",
                "error",
                "outcome",
                "next_attempt_at",
            ],
            sorted(attempts),
        )
        conn.execute(
            sa.text(
                """
                UPDATE webhook_deliveries SET
                    attempts = webhook_deliveries.attempts + 1,
                    cycle_attempts = webhook_deliveries.cycle_attempts + 1,
                    status = CASE a.outcome WHEN 'succeeded' THEN 'succeeded'
                                            WHEN 'retry' THEN 'pending' ELSE 'failed' END,
                    next_attempt_at = a.next_attempt_at,
                    last_status_code = a.status_code,
                    last_error = a.error,
                    delivered_at = CASE WHEN a.outcome = 'succeeded' THEN a.started_at
                                        ELSE webhook_deliveries.delivered_at END,
                    claim = NULL, claimed_until = NULL, updated_at = :now
                FROM webhook_delivery_attempts a
                WHERE webhook_deliveries.claim = :token
                  AND a.delivery_id = webhook_deliveries.id
                  AND a.attempt = webhook_deliveries.attempts + 1
                """
            ),
            {"token": token, "now": _ts(control, now)},
        )
        for until, delivery_ids in deferred_until.items():
            conn.execute(
                sa.update(d)
                .where(d.c.claim == token, d.c.id.in_(delivery_ids))
                .values(claim=None, claimed_until=None, next_attempt_at=until, updated_at=now)
            )
        if ok_subs:
            conn.execute(sa.update(s).where(s.c.id.in_(ok_subs)).values(failing_since=None))
        if failed_subs - ok_subs:
            conn.execute(
                sa.update(s)
                .where(s.c.id.in_(failed_subs - ok_subs), s.c.failing_since.is_(None))
                .values(failing_since=now)
            )
        reasons = {
            sub: f"endpoint answered 410 Gone at {now.isoformat()} (unsubscribed)" for sub in gone
        }
        limit = now - timedelta(days=settings.disable_after_days)
        for sub in conn.execute(
            sa.select(s.c.id).where(s.c.status == "active", s.c.failing_since < limit)
        ).scalars():
            reasons.setdefault(
                sub,
                f"every attempt failed for {settings.disable_after_days:g} days; "
                "fix the endpoint, then `devsignal webhooks resume` and `redeliver`",
            )
        for sub, reason in sorted(reasons.items()):
            conn.execute(
                sa.update(s)
                .where(s.c.id == sub, s.c.status == "active")
                .values(status="disabled", status_reason=reason, updated_at=now)
            )
            conn.execute(
                sa.update(d)
                .where(d.c.subscription_id == sub, d.c.status == "pending")
                .values(
                    status="cancelled",
                    last_error=f"subscription disabled: {reason}",
                    updated_at=now,
                    claim=None,
                    claimed_until=None,
                )
            )
            report.subscriptions_disabled.append(sub)
        # Anything still claimed by this token (nothing, normally) is released.
        conn.execute(sa.update(d).where(d.c.claim == token).values(claim=None, claimed_until=None))


# --- the run -----------------------------------------------------------------------------------


def deliver_due(
    control: ControlDB,
    settings: WebhookSettings,
    now: datetime | None = None,
    batch_size: int = 2000,
    max_seconds: float | None = None,
    delivery_ids: Sequence[int] | None = None,
    rng: random.Random | None = None,
) -> DeliveryReport:
    """Fan out new events, then send every due delivery (batch after batch) and log the attempts.

    `now` fixes the scheduling clock (tests); signatures always carry the real time. Stops when
    nothing is due or after `max_seconds`; what is left is picked up by the next run.
    """
    return _run(
        _deliver_due(
            control, settings, now, batch_size, max_seconds, delivery_ids, rng or random.Random()
        )
    )


def _run(coroutine):
    try:
        import uvloop  # installed with uvicorn[standard]; a faster loop when present
    except ImportError:
        return asyncio.run(coroutine)
    return uvloop.run(coroutine)


async def _deliver_due(
    control: ControlDB,
    settings: WebhookSettings,
    fixed_now: datetime | None,
    batch_size: int,
    max_seconds: float | None,
    delivery_ids: Sequence[int] | None,
    rng: random.Random,
) -> DeliveryReport:
    report = DeliveryReport()
    report.fanned_out = fan_out(control, fixed_now)
    started = time.monotonic()
    lease_s = max(600.0, settings.timeout_s * (batch_size / settings.concurrency + 2))
    if count_due(control, fixed_now or datetime.now(UTC))[0] == 0:
        return report
    require_secret_key()
    async with Sender(settings) as sender:
        while max_seconds is None or time.monotonic() - started < max_seconds:
            now = fixed_now or datetime.now(UTC)
            token, batch = claim_due(control, now, batch_size, lease_s, delivery_ids)
            if not batch:
                break
            try:
                results = await sender.send_all(batch)
            except BaseException:
                release(control, token)
                raise
            attempted = report.attempted
            record(control, token, results, settings, fixed_now or datetime.now(UTC), report, rng)
            if delivery_ids is not None or report.attempted == attempted:
                break  # a test send, or everything left was deferred (the endpoint asked to wait)
    return report
