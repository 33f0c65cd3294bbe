"""CRM upserts as a Zapier / Make action step sends them, and their webhook events."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import httpx
import pandas as pd
import pytest
import sqlalchemy as sa

from devsignal_pipelines.lib.sources.events.identities import apply_identities
from devsignal_pipelines.lib.sources.events.intake import read_pending
from devsignal_pipelines.lib.stores import control as c
from tests.conftest import SHARED

DUCKDB_ONLY = pytest.mark.parametrize("stores", ["duckdb"], indirect=True)


def _client(api, key: str) -> httpx.Client:
    return httpx.Client(
        base_url=f"{api.base_url}/api/v1", headers={"Authorization": f"Bearer {key}"}
    )


def _events(control) -> pd.DataFrame:
    e = c.webhook_events
    frame = control.read_df(
        sa.select(e.c.organization_id, e.c.event_type, e.c.payload).order_by(e.c.created_at, e.c.id)
    )
    frame["data"] = [json.loads(p)["data"] for p in frame["payload"]]
    return frame


def test_a_deal_moving_through_stages_sends_every_transition_at_once(api, keys, control) -> None:
    crm = _client(api, keys["acme"])
    company = crm.put(
        "/companies/hs-co-1", json={"name": "Brightloop", "website": "https://brightloop.io"}
    )
    assert company.status_code == 201 and company.json()["domain"] == "brightloop.io"
    deal = {
        "dealname": "Brightloop - Team plan",
        "amount": "12000",
        "associatedcompanyid": "hs-co-1",
    }
    stages = ["lead", "qualified", "lead", "qualified", "won"]
    for day, stage in enumerate(stages, start=1):
        r = crm.put("/deals/hs-deal-9", json={**deal, "dealstage": stage,
                                              "hs_lastmodifieddate": f"2026-11-0{day}T10:00:00Z"})  # fmt: skip
        assert r.status_code == (201 if day == 1 else 200), r.text
    stored = crm.get("/deals/hs-deal-9").json()
    assert stored["stage"] == "won" and stored["amount"] == 12000.0
    assert stored["company_id"] == company.json()["id"]
    assert [(h["from"], h["to"]) for h in stored["stage_history"]] == [
        (None, "lead"), ("lead", "qualified"), ("qualified", "lead"), ("lead", "qualified"),
        ("qualified", "won"),
    ]  # fmt: skip
    events = _events(control)
    deal_events = events[events["event_type"].str.startswith("deal.")]
    assert deal_events["event_type"].tolist() == ["deal.created", *["deal.stage_changed"] * 4]
    moves = [(d["previous_stage"], d["stage"]) for d in deal_events["data"][1:]]
    assert moves == [
        ("lead", "qualified"),
        ("qualified", "lead"),
        ("lead", "qualified"),
        ("qualified", "won"),
    ]
    # The same update again changes nothing and sends nothing.
    r = crm.put(
        "/deals/hs-deal-9",
        json={**deal, "dealstage": "won", "hs_lastmodifieddate": "2026-11-05T10:00:00Z"},
    )
    assert r.status_code == 200 and len(_events(control)) == len(events)
    # A late delivery (older than what is stored) is ignored, not applied backwards.
    r = crm.put(
        "/deals/hs-deal-9",
        json={**deal, "dealstage": "lead", "hs_lastmodifieddate": "2026-11-02T00:00:00Z"},
    )
    assert (
        r.status_code == 200 and r.json()["stage"] == "won" and len(_events(control)) == len(events)
    )


@DUCKDB_ONLY
def test_hubspot_records_as_zapier_sends_them_are_upserted_by_their_crm_id(
    api, keys, control
) -> None:
    fixtures = SHARED / "fixtures" / "hubspot"
    crm = _client(api, keys["acme"])
    company = json.loads((fixtures / "companies_list.json").read_text())[0]["response"]["body"][
        "results"
    ][0]
    r = crm.put(f"/companies/{company['id']}", json=company)
    assert r.status_code == 201 and r.json()["name"] == company["properties"]["name"]
    contact = json.loads((fixtures / "contacts_list.json").read_text())[0]["response"]["body"][
        "results"
    ][0]
    r = crm.put(f"/contacts/{contact['id']}", json=contact)
    body = r.json()
    assert r.status_code == 201
    assert (
        body["full_name"] == "Updated Contact" and body["email"] == "test-contact-2026@example.com"
    )
    # HubSpot's `company` is a name; no company of that name exists here, so no company link.
    assert body["company_id"] is None and body["phone"] == "+1234567890"
    deal = json.loads((fixtures / "deal_get_single.json").read_text())[0]["response"]["body"]
    r = crm.put(f"/deals/{deal['id']}", json=deal)
    assert r.status_code == 201 and r.json()["stage"] == "appointmentscheduled"
    assert r.json()["amount"] == 3000.0 and r.json()["created_at"].startswith("2026-02-25")
    # An edit of one field: contact.updated names it and its old value.
    r = crm.put(f"/contacts/{contact['id']}", json={"jobtitle": "Head of Platform"})
    assert r.status_code == 200 and r.json()["title"] == "Head of Platform"
    updated = _events(control).query("event_type == 'contact.updated'")
    assert len(updated) == 1
    assert updated["data"].iloc[0]["changed_fields"] == ["title"]
    assert updated["data"].iloc[0]["previous"] == {"title": None}


@DUCKDB_ONLY
def test_bad_records_name_the_field_and_write_nothing(api, keys, control) -> None:
    crm = _client(api, keys["acme"])
    cases = [
        ("/deals/d1", {"dealstage": "won", "amount": "12k"}, 422, "amount"),
        ("/deals/d2", {"amount": "100"}, 409, "stage"),  # a new deal needs a stage
        ("/contacts/p1", {"email": "not-an-email"}, 422, "email"),
        ("/companies/x1", {"id": "x2", "name": "Acme"}, 422, "id"),
        ("/companies/x3", {"plan": "pro"}, 409, "name"),  # a new company needs a name or domain
    ]
    for path, body, status, field in cases:
        r = crm.put(path, json=body)
        assert (r.status_code, r.json().get("field")) == (status, field), (path, r.text)
    assert crm.put("/companies/a", json={"name": "A", "domain": "a.io"}).status_code == 201
    r = crm.put("/companies/b", json={"name": "B", "domain": "a.io"})  # belongs to company a
    assert r.status_code == 200 and r.json()["id"] == crm.get("/companies/a").json()["id"]
    r = crm.put("/companies/c", json={"name": "C", "domain": "c.io"})
    r = crm.put("/companies/c", json={"domain": "a.io"})
    assert r.status_code == 409 and "already belongs" in r.json()["error"]
    assert (
        crm.put(
            "/deals/d3", content=b"[1]", headers={"content-type": "application/json"}
        ).status_code
        == 422
    )
    assert (
        crm.put("/deals/d3", content=b"{", headers={"content-type": "application/json"}).status_code
        == 422
    )
    assert (
        crm.put("/deals/d3", content=b"x", headers={"content-type": "text/plain"}).status_code
        == 415
    )
    assert crm.put("/deals/d3", content=b'{"a": "' + b"x" * 70_000 + b'"}',
                   headers={"content-type": "application/json"}).status_code == 413  # fmt: skip
    assert control.read_df(sa.select(c.deals)).empty


@DUCKDB_ONLY
def test_tenants_cannot_see_or_touch_each_others_records(api, keys) -> None:
    acme, nimbus = _client(api, keys["acme"]), _client(api, keys["nimbus"])
    assert acme.put("/contacts/c1", json={"email": "ada@acme.io"}).status_code == 201
    assert nimbus.get("/contacts/c1").status_code == 404
    assert nimbus.delete("/contacts/c1").status_code == 404
    assert nimbus.put("/contacts/c1", json={"email": "eve@nimbus.io"}).status_code == 201
    assert acme.get("/contacts/c1").json()["email"] == "ada@acme.io"
    assert acme.delete("/contacts/c1").status_code == 204
    assert acme.get("/contacts/c1").status_code == 404
    assert nimbus.get("/contacts/c1").json()["email"] == "eve@nimbus.io"
    no_key = httpx.get(f"{api.base_url}/api/v1/contacts/c1")
    assert no_key.status_code == 401


@DUCKDB_ONLY
def test_deleting_the_crm_record_keeps_a_contact_the_product_still_names(
    api, keys, control
) -> None:
    crm = _client(api, keys["acme"])
    assert crm.put("/contacts/c9", json={"email": "bo@acme.io", "name": "Bo"}).status_code == 201
    r = httpx.post(f"{api.base_url}/v1/identify", json={"userId": "u9", "traits": {"email": "bo@acme.io"}},
                   auth=(keys["acme"], ""))  # fmt: skip
    assert r.status_code == 200
    # The loader's first step applies the identify to the control DB.
    apply_identities(control, "acme", read_pending(control, "acme", 10), datetime.now(UTC))
    assert crm.delete("/contacts/c9").status_code == 204
    contacts = control.read_df(sa.select(c.contacts.c.email))
    assert contacts["email"].tolist() == ["bo@acme.io"]  # still the product's user u9


@DUCKDB_ONLY
@pytest.mark.parametrize(
    ("path", "body", "key"),
    [
        ("/companies/abc", {"hs_object_id": "999", "name": "Globex"}, "hs_object_id"),
        ("/companies/abc", {"properties": {"record_id": 999}, "name": "Globex"}, "record_id"),
        ("/contacts/c-1", {"contact_id": "c-2", "email": "x@globex.com"}, "contact_id"),
        ("/deals/d-1", {"id": "d-2", "dealstage": "won"}, "id"),
    ],
    ids=["hubspot-id", "nested-record-id", "contact-id", "plain-id"],
)
def test_a_body_naming_another_record_by_any_spelling_of_its_id_is_refused(
    api, keys, control, path: str, body: dict, key: str
) -> None:
    r = _client(api, keys["acme"]).put(path, json=body)
    assert r.status_code == 422 and r.json()["field"] == key
    assert "differs from the URL's id" in r.json()["error"]
    assert _events(control).empty
    # The same spelling naming the URL's own record is fine.
    own_id = path.rsplit("/", 1)[1]
    same = (
        {**body, key: own_id}
        if key in body
        else {**body, "properties": {**body["properties"], key: own_id}}
    )
    assert _client(api, keys["acme"]).put(path, json=same).status_code in (200, 201)
