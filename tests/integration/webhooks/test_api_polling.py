"""The REST-hook API, second part, over real HTTP: sample data for Zapier's trigger setup,
polling with a cursor (nothing missed, nothing twice, late commits included), one subscription
(GET / PATCH pause, resume, new URL) and the list of event types."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from devsignal_pipelines.api.app import create_app
from devsignal_pipelines.lib.loopback import LoopbackServer
from devsignal_pipelines.lib.stores.control import ControlDB
from devsignal_pipelines.lib.webhooks import store
from devsignal_pipelines.lib.webhooks.events import EVENT_TYPES, SAMPLE_DATA, Event
from devsignal_pipelines.lib.webhooks.outbox import fan_out, write_events
from devsignal_pipelines.lib.webhooks.settings import WebhookSettings

HOOKS = "/api/v1/webhooks"
PUBLIC_URL = "https://93.184.216.34/hooks/zap"  # an IP literal: no DNS needed, and public
T0 = datetime.now(UTC).replace(microsecond=0)


@pytest.fixture
def api(control: ControlDB, settings: WebhookSettings) -> Iterator[httpx.Client]:
    """`devsignal api` on a free loopback port; a client with acme's key."""
    with LoopbackServer(
        create_app(control, settings=lambda: settings), "/healthz", name="api"
    ) as s:
        key = store.create_api_key(control, "acme")[1]
        with httpx.Client(
            base_url=s.base_url + HOOKS, headers={"Authorization": f"Bearer {key}"}, timeout=30
        ) as client:
            client.server_url = s.base_url  # type: ignore[attr-defined]
            yield client


def _event(n: int, event_type: str = "signal.created", org: str = "acme") -> Event:
    return Event.build(org, event_type, (n,), T0, {"n": n})


def _write(control: ControlDB, created: datetime, *ns: int, org: str = "acme") -> list[str]:
    """Events written (committed now) with `created_at` = `created`: a late commit when in the
    past. Returns their ids."""
    events = [_event(n, org=org) for n in ns]
    write_events(control, events, created)
    return [e.id for e in events]


def _poll(api: httpx.Client, **params) -> tuple[list[str], str]:
    response = api.get("/events", params={"type": "signal.created", **params})
    assert response.status_code == 200, response.text
    body = response.json()
    return [e["id"] for e in body["events"]], body["next_cursor"]


def test_without_events_the_type_s_sample_then_the_real_events(api, control) -> None:
    [sample] = api.get("/events", params={"type": "deal.stage_changed"}).json()
    assert sample["type"] == "deal.stage_changed" and sample["organization"] == "acme"
    assert sample["test"] is True and sample["id"].startswith("evt_test_")
    assert sample["data"] == SAMPLE_DATA["deal.stage_changed"]
    assert api.get("/events").json() == []  # no type: nothing to sample, the old answer

    # nimbus's events are not acme's: acme still gets the sample.
    write_events(control, [_event(1, "deal.stage_changed", org="nimbus")], T0)
    assert api.get("/events", params={"type": "deal.stage_changed"}).json()[0]["test"] is True

    write_events(control, [_event(1, "deal.stage_changed")], T0)
    write_events(control, [_event(2, "deal.stage_changed")], T0 + timedelta(seconds=1))
    real = api.get("/events", params={"type": "deal.stage_changed"}).json()
    assert [e["data"]["n"] for e in real] == [2, 1]  # newest first, as before
    assert all("test" not in e and e["organization"] == "acme" for e in real)


def test_polling_with_a_cursor_misses_nothing_and_repeats_nothing(api, control) -> None:
    first = _write(control, T0, 1, 2, 3)
    got, cursor = _poll(api, since=(T0 - timedelta(minutes=5)).isoformat(), limit=2)
    assert got == sorted(first)[:2]  # oldest first (same time: by id)
    got2, cursor = _poll(api, cursor=cursor, limit=2)
    assert got2 == sorted(first)[2:]
    assert _poll(api, cursor=cursor)[0] == []

    # New events, one of them committed late: its created_at lies before what was returned
    # (though after `since`; one before `since` is never returned).
    _write(control, T0 - timedelta(minutes=6), 99)
    late = _write(control, T0 - timedelta(minutes=2), 4)
    later = _write(control, T0 + timedelta(seconds=5), 5, 6)
    got3, cursor = _poll(api, cursor=cursor, limit=100)
    assert got3 == late + sorted(later)
    again, cursor = _poll(api, cursor=cursor)
    assert again == []
    newest = _write(control, T0 + timedelta(seconds=6), 7)
    assert _poll(api, cursor=cursor)[0] == newest
    # Test sends are never polled; the cursor does not take another type.
    bad = api.get("/events", params={"type": "deal.created", "cursor": cursor})
    assert bad.status_code == 422 and bad.json()["field"] == "cursor"


def test_polling_pages_through_many_events_exactly_once(api, control) -> None:
    ids = _write(control, T0, *range(30))
    ids += _write(control, T0 + timedelta(microseconds=1), *range(30, 45))
    seen: list[str] = []
    got, cursor = _poll(api, since="2000-01-01T00:00:00Z", limit=7)
    while got:
        seen += got
        got, cursor = _poll(api, cursor=cursor, limit=7)
    assert sorted(seen) == sorted(ids) and len(seen) == len(set(seen))


def test_since_an_event_id_or_a_time(api, control) -> None:
    [a] = _write(control, T0, 1)
    [b] = _write(control, T0 + timedelta(seconds=1), 2)
    [c] = _write(control, T0 + timedelta(seconds=2), 3)
    assert _poll(api, since=a)[0] == [b, c]
    assert _poll(api, since=(T0 + timedelta(seconds=1)).isoformat())[0] == [c]  # strictly after
    assert _poll(api, since=(T0 + timedelta(seconds=1)).isoformat().replace("+00:00", "Z"))[0] == [
        c
    ]
    for since in ("evt_nope", "yesterday", ""):
        response = api.get("/events", params={"type": "signal.created", "since": since})
        assert response.status_code == 422 and response.json()["field"] == "since", since
    # Another organization's event id is unknown here.
    [theirs] = _write(control, T0, 9, org="nimbus")
    assert api.get("/events", params={"since": theirs}).json()["field"] == "since"
    garbage = api.get("/events", params={"type": "signal.created", "cursor": "abc"})
    assert garbage.status_code == 422 and garbage.json()["field"] == "cursor"


def test_get_one_subscription_own_200_another_organizations_404(api, control, settings) -> None:
    created = api.post("/subscriptions", json={"event": "contact.created", "url": PUBLIC_URL})
    assert created.status_code == 201
    sub_id = created.json()["id"]
    one = api.get(f"/subscriptions/{sub_id}")
    assert one.status_code == 200
    assert one.json() == {
        "id": sub_id,
        "event": "contact.created",
        "url": PUBLIC_URL,
        "status": "active",
        "status_reason": None,
        "created_at": created.json()["created_at"],
    }
    theirs = store.subscribe(control, "nimbus", "contact.created", PUBLIC_URL, settings)
    for method in ("GET", "PATCH"):
        response = api.request(method, f"/subscriptions/{theirs.id}", json={"status": "paused"})
        assert response.status_code == 404, method
    assert store.get_subscription(control, theirs.id)["status"] == "active"
    assert api.get("/subscriptions/sub_nope").status_code == 404


def test_patch_pauses_resumes_and_repoints_a_subscription(api, control) -> None:
    sub_id = api.post("/subscriptions", json={"event": "signal.created", "url": PUBLIC_URL}).json()[
        "id"
    ]
    paused = api.patch(f"/subscriptions/{sub_id}", json={"status": "paused"})
    assert paused.status_code == 200 and paused.json()["status"] == "paused"
    # A paused subscription gets no deliveries.
    write_events(control, [_event(1)], datetime.now(UTC))
    assert fan_out(control) == 0
    assert store.deliveries(control, subscription_id=sub_id).empty

    resumed = api.patch(f"/subscriptions/{sub_id}", json={"status": "active"})
    assert resumed.status_code == 200 and resumed.json()["status"] == "active"
    write_events(control, [_event(2)], datetime.now(UTC))
    assert fan_out(control) == 1
    assert len(store.deliveries(control, subscription_id=sub_id)) == 1

    moved = api.patch(f"/subscriptions/{sub_id}", json={"url": "https://93.184.216.35/new"})
    assert moved.status_code == 200 and moved.json()["url"] == "https://93.184.216.35/new"
    both = api.patch(f"/subscriptions/{sub_id}", json={"hookUrl": PUBLIC_URL, "status": "paused"})
    assert both.json()["url"] == PUBLIC_URL and both.json()["status"] == "paused"
    assert api.get(f"/subscriptions/{sub_id}").json()["status"] == "paused"

    refused = api.patch(
        f"/subscriptions/{sub_id}", json={"url": "http://10.0.0.7/x", "status": "active"}
    )
    assert refused.status_code == 422 and refused.json()["field"] == "url"
    after = store.get_subscription(control, sub_id)
    assert after["url"] == PUBLIC_URL and after["status"] == "paused"  # nothing changed


@pytest.mark.parametrize(
    ("body", "field", "status"),
    [
        ({"status": "deleted"}, "status", 422),
        ({"status": "disabled"}, "status", 422),
        ({"url": ""}, "url", 422),
        ({"url": "http://169.254.169.254/latest"}, "url", 422),
        ({"target_url": "ftp://x.example/"}, "target_url", 422),
        ({"colour": "red"}, "colour", 422),
        ({}, "body", 422),
        ([1], "body", 422),
        ("not json", "body", 422),
    ],
)
def test_bad_patch_bodies_are_422_naming_the_field(api, body, field, status) -> None:
    sub_id = api.post("/subscriptions", json={"event": "signal.created", "url": PUBLIC_URL}).json()[
        "id"
    ]
    kwargs = {"content": body} if isinstance(body, str) else {"json": body}
    response = api.patch(f"/subscriptions/{sub_id}", **kwargs)
    assert response.status_code == status and response.json()["field"] == field
    form = api.patch(f"/subscriptions/{sub_id}", data={"status": "paused"})
    assert form.status_code == 415
    large = api.patch(f"/subscriptions/{sub_id}", json={"url": "https://x.example/" + "a" * 70000})
    assert large.status_code == 413


def test_event_types_lists_all_eight_with_description_and_sample(api) -> None:
    response = api.get("/event-types")
    assert response.status_code == 200
    types = response.json()
    assert [t["type"] for t in types] == list(EVENT_TYPES) and len(types) == 8
    for t in types:
        assert t["description"] == EVENT_TYPES[t["type"]]
        assert t["sample"]["type"] == t["type"] and t["sample"]["test"] is True
        assert t["sample"]["data"] == SAMPLE_DATA[t["type"]]
    assert httpx.get(api.server_url + HOOKS + "/event-types").status_code == 401


def test_a_cursor_that_would_remember_too_many_ids_moves_its_floor_instead(
    api, control, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(store, "POLL_MAX_SEEN", 5)  # the API runs in this process
    ids = _write(control, T0, *range(20))
    seen: list[str] = []
    got, cursor = _poll(api, since="2000-01-01T00:00:00Z", limit=4)
    while got:
        seen += got
        assert len(store.decode_poll_cursor(cursor, "signal.created").seen) <= 5
        got, cursor = _poll(api, cursor=cursor, limit=4)
    assert seen == sorted(ids)
