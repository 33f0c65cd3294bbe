"""The Segment Tracking API as an SDK talks to it: the official Python library, then the warehouse."""

from __future__ import annotations

import gzip
import json
from datetime import UTC, datetime, timedelta

import httpx
import pandas as pd
import pytest
import sqlalchemy as sa
from segment.analytics import Client

from devsignal_pipelines.lib.sources.events.intake import pending
from devsignal_pipelines.lib.stores import control as c

DUCKDB_ONLY = pytest.mark.parametrize("stores", ["duckdb"], indirect=True)
T0 = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)


def _segment_client(api, key: str) -> Client:
    errors: list[Exception] = []
    client = Client(
        write_key=key, host=api.base_url, sync_mode=True, on_error=lambda e, _: errors.append(e)
    )
    client.errors = errors  # type: ignore[attr-defined]
    return client


def _signals(warehouse, org: str) -> pd.DataFrame:
    return warehouse.read_df(
        "SELECT signal_id, signal_type, occurred_at, contact_id, company_id, url, metadata "
        "FROM core.signals WHERE organization_id = :o AND source = 'product' ORDER BY occurred_at",
        {"o": org},
    )


def test_events_sent_with_the_official_segment_library_reach_core_signals(
    api, keys, control, warehouse, runs
) -> None:
    client = _segment_client(api, keys["acme"])
    # A visitor reads the docs anonymously, signs up (identify ties the device to the user),
    # joins their team's account, then uses the product.
    client.page(anonymous_id="device-1", name="Quickstart",
                properties={"url": "https://docs.acmedb.dev/quickstart"}, timestamp=T0)  # fmt: skip
    client.identify(user_id="u-42", anonymous_id="device-1", timestamp=T0 + timedelta(minutes=5),
                    traits={"email": "ada@brightloop.io", "name": "Ada Lovelace", "title": "CTO",
                            "twitter": "@ada_codes"})  # fmt: skip
    client.group(user_id="u-42", group_id="acct-7", timestamp=T0 + timedelta(minutes=6),
                 traits={"name": "Brightloop", "website": "https://brightloop.io", "plan": "team",
                         "employees": 40})  # fmt: skip
    client.track(user_id="u-42", event="Signed Up", properties={"plan": "team"},
                 timestamp=T0 + timedelta(minutes=5))  # fmt: skip
    client.track(user_id="u-42", event="API Call Made", properties={"endpoint": "/v1/query"},
                 timestamp=T0 + timedelta(hours=1))  # fmt: skip
    client.track(user_id="u-42", event="Invoice Downloaded", timestamp=T0 + timedelta(hours=2))
    client.flush()
    assert client.errors == []
    assert int(pending(control)["messages"].sum()) == 6  # durable before the 200s

    runs.sync("acme")
    signals = _signals(warehouse, "acme")
    assert signals["signal_type"].tolist() == [
        "docs_view",
        "signup",
        "api_call",
        "invoice_downloaded",
    ]
    # One person, one account: the anonymous docs visit is linked once the device was identified.
    assert signals["contact_id"].nunique() == 1 and signals["contact_id"].notna().all()
    assert signals["company_id"].nunique() == 1 and signals["company_id"].notna().all()
    # The library's timestamps survive its sentAt skew correction (its clock is this one's).
    assert abs(pd.Timestamp(signals["occurred_at"].iloc[0]) - pd.Timestamp(T0)) < pd.Timedelta(
        seconds=5
    )
    contact = warehouse.read_df(
        "SELECT full_name, email, title, twitter, company_id FROM core.contacts WHERE organization_id = 'acme'"
    ).iloc[0]
    assert (contact["full_name"], contact["email"], contact["title"], contact["twitter"]) == (
        "Ada Lovelace", "ada@brightloop.io", "CTO", "ada_codes"
    )  # fmt: skip
    company = warehouse.read_df(
        "SELECT company_id, name, domain, plan, employees FROM core.companies WHERE organization_id = 'acme'"
    ).iloc[0]
    assert (company["name"], company["domain"], company["plan"], int(company["employees"])) == (
        "Brightloop", "brightloop.io", "team", 40
    )  # fmt: skip
    assert contact["company_id"] == company["company_id"] == signals["company_id"].iloc[0]
    assert pending(control).empty  # the loader deleted what it loaded
    # Nothing reached the other tenant.
    assert (
        warehouse.scalar("SELECT count(*) FROM raw.product_events WHERE organization_id = 'nimbus'")
        == 0
    )


@DUCKDB_ONLY
def test_a_message_sent_twice_is_stored_and_loaded_once(
    api, keys, control, warehouse, runs
) -> None:
    batch = {"batch": [{"type": "track", "userId": "u1", "event": "Signed Up", "messageId": "m-1",
                        "timestamp": "2026-11-02T09:00:00Z"}]}  # fmt: skip
    auth = (keys["acme"], "")
    assert httpx.post(f"{api.base_url}/v1/batch", json=batch, auth=auth).status_code == 200
    assert httpx.post(f"{api.base_url}/v1/batch", json=batch, auth=auth).status_code == 200
    assert int(pending(control)["messages"].sum()) == 1  # dropped at the door while waiting
    runs.sync("acme")
    # Sent again after it was loaded: the warehouse's key keeps one copy, the first one.
    changed = {**batch["batch"][0], "event": "Account Deleted"}
    assert (
        httpx.post(f"{api.base_url}/v1/batch", json={"batch": [changed]}, auth=auth).status_code
        == 200
    )
    outcome = runs.sync("acme")
    assert outcome.materializations["raw/product_events"]["messages_already_loaded"] == 1
    events = warehouse.read_df("SELECT message_id, event FROM raw.product_events")
    assert events.values.tolist() == [["m-1", "Signed Up"]]
    assert _signals(warehouse, "acme")["signal_type"].tolist() == ["signup"]


@DUCKDB_ONLY
def test_bad_requests_get_segments_answers_and_store_nothing_wrong(api, keys, control) -> None:
    url, auth = f"{api.base_url}/v1", (keys["acme"], "")

    def post(path: str, **kwargs) -> httpx.Response:
        return httpx.post(url + path, timeout=30, **{"auth": auth, **kwargs})

    # Unknown or missing write key.
    for bad_auth in [("dsk_nope", ""), None]:
        r = httpx.post(url + "/track", json={"userId": "u", "event": "x"}, auth=bad_auth)
        assert r.status_code == 401 and r.json()["code"] == "invalid_write_key"
    # The write key in the body works too (Segment's HTTP API allows it).
    r = httpx.post(url + "/track", json={"userId": "u", "event": "x", "writeKey": keys["acme"]})
    assert r.status_code == 200
    # A batch with one bad message: the good ones are stored, the bad one named.
    r = post("/batch", json={"batch": [
        {"type": "track", "userId": "u", "event": "ok-1", "messageId": "ok-1"},
        {"type": "track", "event": "no-user", "messageId": "bad-1"},
        {"type": "identify", "userId": "u", "traits": ["not", "an", "object"]},
    ]})  # fmt: skip
    body = r.json()
    assert r.status_code == 400 and body["code"] == "invalid_message" and body["accepted"] == 1
    assert [(e["index"], e["messageId"], e["field"]) for e in body["errors"]] == [
        (1, "bad-1", "userId"), (2, None, "traits"),
    ]  # fmt: skip
    # Too large: refused while reading (32 KB a message, 500 KB a batch), never a 500.
    big = "x" * (33 * 1024)
    assert (
        post("/track", json={"userId": "u", "event": "x", "properties": {"p": big}}).status_code
        == 400
    )
    r = post("/batch", content=b'{"batch": [' + b" " * (600 * 1024) + b"]}",
             headers={"content-type": "application/json"})  # fmt: skip
    assert r.status_code == 400 and r.json()["code"] == "request_too_large"
    # Deeply nested JSON and not-JSON are 400s.
    deep = (
        b'{"userId": "u", "event": "x", "properties": '
        + b'{"a":' * 5000
        + b"1"
        + b"}" * 5000
        + b"}"
    )
    r = post("/track", content=deep, headers={"content-type": "application/json"})
    assert r.status_code == 400 and "nested" in r.json()["message"]
    assert (
        post(
            "/batch", content=b"not json", headers={"content-type": "application/json"}
        ).status_code
        == 400
    )
    # Forms are not JSON; text/plain is what browsers' analytics.js sends, and is accepted.
    assert post("/track", data={"userId": "u"}).status_code == 415
    r = post("/track", content=json.dumps({"userId": "u", "event": "beacon"}),
             headers={"content-type": "text/plain;charset=UTF-8"})  # fmt: skip
    assert r.status_code == 200
    # gzip, as the libraries send it with gzip=True; a gzip bomb is refused by its inflated size.
    r = post("/batch", content=gzip.compress(json.dumps({"batch": [{"type": "track", "userId": "u", "event": "zipped"}]}).encode()),
             headers={"content-type": "application/json", "content-encoding": "gzip"})  # fmt: skip
    assert r.status_code == 200
    bomb = gzip.compress(b'{"batch": [' + b" " * (20 * 1024 * 1024) + b"]}")
    r = post(
        "/batch",
        content=bomb,
        headers={"content-type": "application/json", "content-encoding": "gzip"},
    )
    assert r.status_code == 400 and r.json()["code"] == "request_too_large"
    stored = control.read_df(sa.select(c.event_intake.c.event).order_by(c.event_intake.c.seq))
    assert stored["event"].tolist() == ["x", "ok-1", "beacon", "zipped"]


@DUCKDB_ONLY
def test_a_disconnected_organization_is_refused_until_reconnected(api, keys, control) -> None:
    url, auth = f"{api.base_url}/v1/track", (keys["nimbus"], "")
    assert httpx.post(url, json={"userId": "u", "event": "x"}, auth=auth).status_code == 200
    assert control.disconnect_source("nimbus", "events")
    # The API re-checks every minute; a new server process checks at its first message.
    from devsignal_pipelines.api.app import create_app
    from devsignal_pipelines.lib.loopback import LoopbackServer

    with LoopbackServer(create_app(control), "/healthz") as fresh:
        r = httpx.post(f"{fresh.base_url}/v1/track", json={"userId": "u", "event": "x"}, auth=auth)
        assert (
            r.status_code == 403 and "devsignal orgs connect nimbus events" in r.json()["message"]
        )
