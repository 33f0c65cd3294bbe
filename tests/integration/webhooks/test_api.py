"""The REST-hook API as Zapier / Make call it: keys, tenants, bodies."""

from __future__ import annotations

import warnings

import pytest

from devsignal_pipelines.api.app import PREFIX, create_app
from devsignal_pipelines.lib.webhooks import store
from devsignal_pipelines.lib.webhooks.events import Event
from devsignal_pipelines.lib.webhooks.outbox import write_events
from tests.integration.webhooks.test_delivery import T0

with warnings.catch_warnings():  # starlette suggests httpx2; httpx is what the project uses
    warnings.simplefilter("ignore")
    from starlette.testclient import TestClient

DUCKDB_ONLY = pytest.mark.parametrize("stores", ["duckdb"], indirect=True)


@pytest.fixture
def api(control, settings):
    with TestClient(create_app(control, settings=lambda: settings)) as client:
        yield client


@pytest.fixture
def keys(control) -> dict[str, dict[str, str]]:
    return {
        org: {"Authorization": f"Bearer {store.create_api_key(control, org)[1]}"}
        for org in ("acme", "nimbus")
    }


@DUCKDB_ONLY
def test_subscribe_returns_201_with_the_secret_once_then_test_and_unsubscribe(
    api, keys, receiver, control
) -> None:
    created = api.post(f"{PREFIX}/subscriptions", headers=keys["acme"],
                       json={"event": "deal.stage_changed", "url": receiver.url("/zap")})  # fmt: skip
    assert created.status_code == 201
    body = created.json()
    assert body["id"].startswith("sub_") and body["secret"].startswith("whsec_")
    assert created.headers["location"].endswith(body["id"])
    receiver.endpoint("/zap", secret=body["secret"])

    listed = api.get(f"{PREFIX}/subscriptions", headers=keys["acme"]).json()
    assert [s["id"] for s in listed] == [body["id"]] and "secret" not in listed[0]

    tested = api.post(f"{PREFIX}/subscriptions/{body['id']}/test", headers=keys["acme"])
    assert tested.status_code == 200 and tested.json()["status"] == "succeeded"
    [got] = receiver.verified("/zap")
    assert got.payload["type"] == "deal.stage_changed" and got.payload["test"] is True

    assert (
        api.delete(f"{PREFIX}/subscriptions/{body['id']}", headers=keys["acme"]).status_code == 204
    )
    assert api.get(f"{PREFIX}/subscriptions", headers=keys["acme"]).json() == []
    assert (
        api.delete(f"{PREFIX}/subscriptions/{body['id']}", headers=keys["acme"]).status_code == 404
    )


@DUCKDB_ONLY
@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": "Bearer dsk_wrong"},
        {"X-API-Key": "nope"},
        {"Authorization": "Basic abc"},
    ],
)
def test_a_missing_or_wrong_key_is_401(api, keys, headers) -> None:
    for method, path in (("get", "/subscriptions"), ("post", "/subscriptions"), ("get", "/events")):
        response = getattr(api, method)(PREFIX + path, headers=headers)
        assert response.status_code == 401 and "API key" in response.json()["error"]


@DUCKDB_ONLY
def test_another_organizations_subscription_is_404(api, keys, receiver, control, settings) -> None:
    theirs = store.subscribe(control, "nimbus", "signal.created", receiver.url("/n"), settings)
    assert (
        api.delete(f"{PREFIX}/subscriptions/{theirs.id}", headers=keys["acme"]).status_code == 404
    )
    assert (
        api.post(f"{PREFIX}/subscriptions/{theirs.id}/test", headers=keys["acme"]).status_code
        == 404
    )
    assert api.get(f"{PREFIX}/subscriptions", headers=keys["acme"]).json() == []
    assert store.get_subscription(control, theirs.id)["status"] == "active"
    x_api_key = {"X-API-Key": keys["nimbus"]["Authorization"].removeprefix("Bearer ")}
    assert [s["id"] for s in api.get(f"{PREFIX}/subscriptions", headers=x_api_key).json()] == [
        theirs.id
    ]


@DUCKDB_ONLY
@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"url": "https://hooks.zapier.com/x"}, "event"),
        ({"event": "signal.deleted", "url": "https://hooks.zapier.com/x"}, "event"),
        ({"event": "signal.created"}, "url"),
        ({"event": "signal.created", "url": "http://169.254.169.254/latest"}, "url"),
        ({"event": "signal.created", "target_url": "http://[::ffff:10.0.0.1]/"}, "target_url"),
        ({"event": "signal.created", "url": "ftp://x.example/"}, "url"),
        (["signal.created"], "body"),
        ("not json", "body"),
    ],
)
def test_bad_bodies_are_422_naming_the_field(api, keys, body, field) -> None:
    kwargs = {"content": body} if isinstance(body, str) else {"json": body}
    response = api.post(f"{PREFIX}/subscriptions", headers=keys["acme"], **kwargs)
    assert response.status_code == 422
    assert response.json()["field"] == field and response.json()["error"]


@DUCKDB_ONLY
def test_events_lists_the_organizations_recent_events_only(api, keys, control) -> None:
    write_events(control, [Event.build("acme", "signal.created", ("a",), T0, {"n": 1}),
                           Event.build("nimbus", "signal.created", ("b",), T0, {"n": 2}),
                           Event.build("acme", "deal.created", ("d",), T0, {"n": 3})])  # fmt: skip
    events = api.get(f"{PREFIX}/events", headers=keys["acme"]).json()
    assert {e["organization"] for e in events} == {"acme"} and len(events) == 2
    only = api.get(f"{PREFIX}/events?type=deal.created", headers=keys["acme"]).json()
    assert [e["type"] for e in only] == ["deal.created"]
    bad = api.get(f"{PREFIX}/events?limit=1000", headers=keys["acme"])
    assert bad.status_code == 422 and bad.json()["field"] == "limit"
    assert api.get(f"{PREFIX}/events?type=nope", headers=keys["acme"]).json()["field"] == "type"


@DUCKDB_ONLY
def test_api_keys_are_stored_hashed(control, keys) -> None:
    import sqlalchemy as sa

    from devsignal_pipelines.lib.stores import control as c

    stored = str(control.read_df(sa.select(c.api_keys)).to_dict("records"))
    for headers in keys.values():
        assert headers["Authorization"].removeprefix("Bearer ") not in stored
