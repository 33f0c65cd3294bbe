"""Signed at-least-once delivery to a real receiver on loopback, on SQLite and PostgreSQL."""

from __future__ import annotations

import json
import random
import time
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from devsignal_pipelines.lib.stores import control as c
from devsignal_pipelines.lib.webhooks import ssrf, store
from devsignal_pipelines.lib.webhooks.delivery import deliver_due
from devsignal_pipelines.lib.webhooks.events import Event
from devsignal_pipelines.lib.webhooks.outbox import write_events
from devsignal_pipelines.lib.webhooks.settings import WebhookSettings
from devsignal_pipelines.lib.webhooks.ssrf import UnsafeTargetError

T0 = datetime.now(UTC).replace(microsecond=0)
# The core guarantees run on SQLite and PostgreSQL; the rest on SQLite (PostgreSQL setup costs ~2 s a test).
SQLITE_ONLY = pytest.mark.parametrize("stores", ["duckdb"], indirect=True)


def _events(org: str, n: int, event_type: str = "signal.created", start: int = 0) -> list[Event]:
    return [
        Event.build(org, event_type, (f"s{i}",), T0, {"signal_id": f"s{i}", "organization": org})
        for i in range(start, start + n)
    ]


def _subscribe(control, receiver, org, path, settings, event_type="signal.created", **endpoint):
    sub = store.subscribe(control, org, event_type, receiver.url(path), settings)
    receiver.endpoint(path, secret=sub.secret, **endpoint)
    return sub


def pd_time(value) -> datetime:
    moment = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _statuses(control) -> dict[str, int]:
    frame = store.deliveries(control, limit=100_000)
    return frame["status"].value_counts().to_dict()


def test_deliveries_are_signed_and_verify_with_standardwebhooks(
    control, receiver, settings
) -> None:
    _subscribe(control, receiver, "acme", "/acme", settings)
    events = _events("acme", 5)
    assert write_events(control, events) == 5
    report = deliver_due(control, settings)
    assert (report.fanned_out, report.succeeded) == (5, 5)
    got = receiver.verified("/acme")
    assert sorted(r.webhook_id for r in got) == sorted(e.id for e in events)
    assert {r.body.decode() for r in got} == {e.payload for e in events}  # the exact outbox bytes
    assert all(r.payload["type"] == "signal.created" for r in got)
    assert _statuses(control) == {"succeeded": 5}
    assert deliver_due(control, settings).attempted == 0  # nothing sent twice


def test_receiver_down_then_back_loses_nothing_and_retries_keep_the_webhook_id(
    control, receiver, settings
) -> None:
    _subscribe(control, receiver, "acme", "/acme", settings)
    write_events(control, _events("acme", 20))
    receiver.stop()  # connection refused
    report = deliver_due(control, settings, now=T0)
    assert (report.attempted, report.retrying, report.succeeded) == (20, 20, 0)
    assert (
        deliver_due(control, settings, now=T0 + timedelta(seconds=1)).attempted == 0
    )  # not due yet
    receiver.start()  # back, same port; a few more events meanwhile
    write_events(control, _events("acme", 5, start=20))
    report = deliver_due(control, settings, now=T0 + timedelta(seconds=7))
    assert report.succeeded == 25
    ids = [r.webhook_id for r in receiver.verified("/acme")]
    assert len(set(ids)) == 25 and len(ids) == 25
    frame = store.deliveries(control, limit=100)
    assert set(frame["status"]) == {"succeeded"}
    assert sorted(frame["attempts"].tolist()) == [1] * 5 + [2] * 20


@SQLITE_ONLY
def test_duplicates_after_a_lost_answer_share_the_webhook_id(control, receiver, settings) -> None:
    # The receiver got the POST but we saw a failure (here: 503 first): the retry is the same message.
    _subscribe(
        control, receiver, "acme", "/acme", settings, answer=lambda n: 503 if n == 0 else 200
    )
    write_events(control, _events("acme", 1))
    deliver_due(control, settings, now=T0)
    deliver_due(control, settings, now=T0 + timedelta(seconds=10))
    got = receiver.verified("/acme")
    assert len(got) == 2 and got[0].webhook_id == got[1].webhook_id
    assert got[0].body == got[1].body and got[0].headers["webhook-timestamp"]


def test_a_410_disables_the_subscription_and_cancels_what_is_pending(
    control, receiver, settings
) -> None:
    sub = _subscribe(control, receiver, "acme", "/gone", settings, answer=lambda n: 410)
    write_events(control, _events("acme", 3))
    report = deliver_due(control, settings, batch_size=1)
    assert report.subscriptions_disabled == [sub.id]
    assert report.attempted == 1  # the first 410 stops the rest
    assert store.get_subscription(control, sub.id)["status"] == "disabled"
    assert _statuses(control) == {"failed": 1, "cancelled": 2}
    write_events(control, _events("acme", 2, start=3))
    assert deliver_due(control, settings).attempted == 0


@SQLITE_ONLY
def test_after_a_410_the_rest_of_the_batch_is_not_sent(control, receiver, settings) -> None:
    one_at_a_time = WebhookSettings(**{**settings.__dict__, "concurrency": 1})
    sub = _subscribe(control, receiver, "acme", "/gone", one_at_a_time, answer=lambda n: 410)
    write_events(control, _events("acme", 5))
    report = deliver_due(control, one_at_a_time)
    assert report.attempted == 1 and len(receiver.received) == 1
    assert report.subscriptions_disabled == [sub.id]
    assert _statuses(control) == {"failed": 1, "cancelled": 4}


@SQLITE_ONLY
def test_redirects_are_failures_and_never_followed(control, receiver, settings) -> None:
    _subscribe(
        control, receiver, "acme", "/moved", settings,
        answer=lambda n: (301, {"Location": receiver.url("/elsewhere")}),
    )  # fmt: skip
    write_events(control, _events("acme", 1))
    report = deliver_due(control, settings, now=T0)
    assert report.retrying == 1
    assert [r.path for r in receiver.received] == ["/moved"]  # /elsewhere never called
    row = store.deliveries(control).iloc[0]
    assert row["last_status_code"] == 301 and "not followed" in row["last_error"]


def test_429_retry_after_is_honoured_and_the_endpoint_slowed_down(
    control, receiver, settings
) -> None:
    _subscribe(control, receiver, "acme", "/busy", settings, answer=lambda n: (429, {"Retry-After": "120"}) if n == 0 else 200)  # fmt: skip
    write_events(control, _events("acme", 10))
    tight = WebhookSettings(**{**settings.__dict__, "concurrency": 1})
    report = deliver_due(control, tight, now=T0)
    assert (report.attempted, report.deferred) == (1, 9)  # one 429, the rest not even tried
    assert deliver_due(control, tight, now=T0 + timedelta(seconds=60)).attempted == 0
    report = deliver_due(control, tight, now=T0 + timedelta(seconds=121))
    assert report.succeeded == 10
    assert _statuses(control) == {"succeeded": 10}


@SQLITE_ONLY
def test_one_endpoints_retry_after_never_holds_back_another_tenant(
    control, receiver, settings
) -> None:
    settings = WebhookSettings(**{**settings.__dict__, "concurrency": 1, "retry_jitter": 0.0})
    _subscribe(
        control,
        receiver,
        "acme",
        "/acme",
        settings,
        answer=lambda n: (429, {"Retry-After": "86400"}),
    )
    _subscribe(
        control, receiver, "nimbus", "/nimbus", settings, answer=lambda n: 502 if n == 0 else 200
    )
    write_events(control, _events("acme", 3) + _events("nimbus", 3))
    deliver_due(control, settings, now=T0)
    pending = store.deliveries(control, limit=100)
    nimbus = pending[pending["organization_id"] == "nimbus"]
    latest = max(pd_time(t) for t in nimbus["next_attempt_at"])
    assert latest <= T0 + timedelta(seconds=settings.retry_schedule_s[0] + 1)  # not acme's day
    deliver_due(control, settings, now=T0 + timedelta(seconds=60))
    assert len({r.webhook_id for r in receiver.verified("/nimbus")}) == 3  # all of nimbus's landed


@SQLITE_ONLY
def test_failed_after_the_last_retry_then_redelivered_with_the_same_id(
    control, receiver, settings
) -> None:
    short = WebhookSettings(**{**settings.__dict__, "retry_schedule_s": (1,), "retry_jitter": 0})
    _subscribe(control, receiver, "acme", "/flaky", short, answer=lambda n: 500 if n < 2 else 200)
    write_events(control, _events("acme", 1))
    deliver_due(control, short, now=T0)
    deliver_due(control, short, now=T0 + timedelta(seconds=2))
    failed = store.deliveries(control, status="failed")
    assert len(failed) == 1 and failed.iloc[0]["attempts"] == 2
    assert store.redeliver(control, organization_id="acme") == 1
    assert deliver_due(control, short).succeeded == 1
    assert len({r.webhook_id for r in receiver.received}) == 1 and len(receiver.received) == 3


@SQLITE_ONLY
def test_an_endpoint_failing_for_days_is_disabled(control, receiver, settings) -> None:
    forever = WebhookSettings(
        **{**settings.__dict__, "retry_schedule_s": (3600,) * 200, "disable_after_days": 2}
    )
    sub = _subscribe(control, receiver, "acme", "/dead", forever, answer=lambda n: 500)
    write_events(control, _events("acme", 1))
    for hours in range(0, 80, 8):
        deliver_due(control, forever, now=T0 + timedelta(hours=hours))
    assert store.get_subscription(control, sub.id)["status"] == "disabled"
    assert "failed for 2 days" in store.get_subscription(control, sub.id)["status_reason"]


def test_two_organizations_never_receive_each_others_events(control, receiver, settings) -> None:
    _subscribe(control, receiver, "acme", "/acme", settings)
    _subscribe(control, receiver, "nimbus", "/nimbus", settings)
    _subscribe(control, receiver, "nimbus", "/nimbus-deals", settings, event_type="deal.created")
    write_events(
        control, _events("acme", 7) + _events("nimbus", 4) + _events("nimbus", 2, "deal.created")
    )
    deliver_due(control, settings)
    assert len(receiver.verified("/acme")) == 7 and len(receiver.verified("/nimbus")) == 4
    assert {r.payload["organization"] for r in receiver.verified("/acme")} == {"acme"}
    assert {r.payload["organization"] for r in receiver.verified("/nimbus")} == {"nimbus"}
    assert {r.payload["type"] for r in receiver.verified("/nimbus-deals")} == {"deal.created"}
    # Even a hand-written cross-tenant delivery row is never sent.
    acme_sub = store.list_subscriptions(control, "acme")[0]["id"]
    nimbus_event = _events("nimbus", 1, start=99)
    write_events(control, nimbus_event)
    deliver_due(control, settings)
    with control.begin() as conn:
        conn.execute(
            sa.insert(c.webhook_deliveries).values(
                event_id=nimbus_event[0].id, subscription_id=acme_sub, organization_id="acme",
                status="pending", attempts=0, cycle_attempts=0, next_attempt_at=T0,
                created_at=T0, updated_at=T0,
            )
        )  # fmt: skip
    deliver_due(control, settings)
    assert {r.payload["organization"] for r in receiver.verified("/acme")} == {"acme"}
    assert (
        "organization mismatch"
        in store.deliveries(control, status="cancelled").iloc[0]["last_error"]
    )


@SQLITE_ONLY
def test_subscriptions_only_get_events_written_after_they_exist(
    control, receiver, settings
) -> None:
    write_events(control, _events("acme", 3), now=T0 - timedelta(minutes=1))
    _subscribe(control, receiver, "acme", "/late", settings)
    write_events(control, _events("acme", 2, start=3))
    deliver_due(control, settings)
    assert len(receiver.verified("/late")) == 2


@SQLITE_ONLY
@pytest.mark.parametrize(
    "url",
    ["http://localhost:{port}/x", "http://[::ffff:127.0.0.1]:{port}/x", "http://169.254.169.254/x",
     "http://100.64.0.1/x", "http://[fc00::1]/x", "http://[fe80::1]/x", "http://10.1.1.1/x"],
)  # fmt: skip
def test_internal_targets_are_refused_at_subscribe_time(control, receiver, url) -> None:
    with pytest.raises(UnsafeTargetError, match="refused"):
        store.subscribe(
            control, "acme", "signal.created", url.format(port=receiver.port), WebhookSettings()
        )
    assert store.list_subscriptions(control) == []


@SQLITE_ONLY
def test_a_target_that_became_internal_is_refused_at_delivery_time(
    control, receiver, settings
) -> None:
    # Subscribed while allowed (think: DNS said public); at delivery time the address is refused.
    _subscribe(control, receiver, "acme", "/acme", settings)
    write_events(control, _events("acme", 2))
    report = deliver_due(
        control, WebhookSettings(**{**settings.__dict__, "allowed_networks": ()}), now=T0
    )
    assert report.retrying == 2 and receiver.received == []
    assert "refused: 127.0.0.1 is loopback" in store.deliveries(control).iloc[0]["last_error"]


@SQLITE_ONLY
def test_connections_go_to_the_checked_address_with_the_url_host_name(
    control, receiver, settings, monkeypatch
) -> None:
    # DNS says loopback (allowed here) when checked, then rebinds to the metadata address.
    lookups: list[str] = []

    async def rebinding_dns(host: str, port: int) -> list[str]:
        lookups.append(host)
        return ["127.0.0.1"] if len(lookups) == 1 else ["169.254.169.254"]

    monkeypatch.setattr(ssrf, "_resolve_sync", lambda host, port: ["127.0.0.1"])
    monkeypatch.setattr(ssrf, "_resolve_async", rebinding_dns)
    url = f"http://hooks.customer.test:{receiver.port}/acme"
    sub = store.subscribe(control, "acme", "signal.created", url, settings)
    receiver.endpoint("/acme", secret=sub.secret)
    write_events(control, _events("acme", 30))
    report = deliver_due(control, settings)
    assert report.succeeded == 30  # many pooled connections, all to the checked address
    assert lookups == ["hooks.customer.test"]
    assert {r.headers["host"] for r in receiver.received} == {
        f"hooks.customer.test:{receiver.port}"
    }
    # The next run checks again and sees the rebound answer: refused, nothing sent.
    write_events(control, _events("acme", 1, start=30))
    report = deliver_due(control, settings, now=T0)
    assert (report.retrying, len(receiver.received)) == (1, 30)
    assert (
        "resolves to 169.254.169.254"
        in store.deliveries(control, status="pending").iloc[0]["last_error"]
    )


@SQLITE_ONLY
def test_a_slow_endpoint_times_out_and_is_retried(control, receiver, settings) -> None:
    quick = WebhookSettings(**{**settings.__dict__, "timeout_s": 0.3})
    _subscribe(control, receiver, "acme", "/slow", quick, answer=lambda n: time.sleep(1) or 200)
    write_events(control, _events("acme", 2))
    report = deliver_due(control, quick, now=T0)
    assert (report.attempted, report.retrying) == (2, 2)
    assert set(store.deliveries(control)["last_error"]) == {"timed out after 0.3 s"}


@SQLITE_ONLY
def test_a_paused_subscription_holds_its_deliveries_until_resumed(
    control, receiver, settings
) -> None:
    sub = _subscribe(
        control, receiver, "acme", "/acme", settings, answer=lambda n: 500 if n == 0 else 200
    )
    write_events(control, _events("acme", 1))
    deliver_due(control, settings, now=T0)
    store.set_status(control, sub.id, "paused")
    assert deliver_due(control, settings, now=T0 + timedelta(minutes=5)).attempted == 0
    store.set_status(control, sub.id, "active")
    assert deliver_due(control, settings, now=T0 + timedelta(minutes=5)).succeeded == 1


@SQLITE_ONLY
def test_secrets_are_stored_encrypted_only(control, receiver, settings, secret_key) -> None:
    sub = _subscribe(control, receiver, "acme", "/acme", settings)
    dump = json.dumps(
        [
            dict(r._mapping)
            for r in control.engine.connect().execute(sa.select(c.webhook_subscriptions))
        ],
        default=str,
    )
    assert sub.secret not in dump and sub.secret.removeprefix("whsec_") not in dump
    assert secret_key not in dump


@SQLITE_ONLY
def test_jitter_spreads_retries(control, receiver, settings) -> None:
    _subscribe(control, receiver, "acme", "/down", settings, answer=lambda n: 500)
    write_events(control, _events("acme", 30))
    deliver_due(control, settings, now=T0, rng=random.Random(3))
    due = store.deliveries(control, limit=100)["next_attempt_at"]
    delays = {(d.to_pydatetime().replace(tzinfo=UTC) - T0).total_seconds() for d in due}
    assert len(delays) > 10 and all(5 <= d <= 6 for d in delays)
