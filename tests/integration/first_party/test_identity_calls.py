"""Segment `identify` and `group` calls through the loader: any batch shape, late deliveries judged
per key by the source's own clock, calls the control DB refuses quarantined, never a stuck load."""

from __future__ import annotations

import json
import threading
from datetime import UTC, datetime, timedelta

import pandas as pd
import pytest
import sqlalchemy as sa

from devsignal_pipelines.lib.sources.crm.records import normalize_records
from devsignal_pipelines.lib.sources.crm.upsert import write_records
from devsignal_pipelines.lib.sources.events.intake import pending, write_intake
from devsignal_pipelines.lib.sources.events.load import load_events
from devsignal_pipelines.lib.sources.events.messages import INTAKE_COLUMNS, parse_body
from devsignal_pipelines.lib.stores import control as c

T0 = datetime(2026, 1, 5, 12, 0, tzinfo=UTC)


def _intake_rows(*messages: dict, org: str = "acme") -> list[tuple]:
    parsed = parse_body(json.dumps({"batch": list(messages)}).encode(), org, datetime.now(UTC))
    assert not parsed.errors, parsed.errors
    return parsed.rows


def _send(control, *messages: dict) -> None:
    write_intake(control, _intake_rows(*messages))


def identify(user: str, at: datetime, message_id: str, **traits) -> dict:
    return {"type": "identify", "userId": user, "traits": traits,
            "timestamp": at.isoformat(), "messageId": message_id}  # fmt: skip


def group(user: str, group_id: str, at: datetime, message_id: str, **traits) -> dict:
    return {"type": "group", "userId": user, "groupId": group_id, "traits": traits,
            "timestamp": at.isoformat(), "messageId": message_id}  # fmt: skip


def _contacts(control) -> pd.DataFrame:
    ct = c.contacts
    return control.read_df(
        sa.select(ct.c.full_name, ct.c.email, ct.c.title, ct.c.company_id).order_by(ct.c.email)
    )


def _companies(control) -> pd.DataFrame:
    co = c.companies
    return control.read_df(
        sa.select(co.c.id, co.c.name, co.c.domain, co.c.plan, co.c.employees).order_by(co.c.id)
    )


ADA = identify("u1", T0, "i1", email="ada@acme.io", name="Ada Lovelace")
ACME = group("u1", "g1", T0 + timedelta(minutes=1), "g1", name="Acme", website="acme.io")


@pytest.mark.parametrize(
    "loads",
    [
        [[ADA, ACME]],
        [[ACME]],
        [[ADA], [ACME]],
        [[ACME], [ADA]],
        [[ADA, group("u2", "g1", T0, "g2", name="Acme", website="acme.io")]],
    ],
    ids=["together", "group-alone", "identify-then-group", "group-then-identify", "two-users"],
)
def test_identify_and_group_calls_load_whatever_batches_they_arrive_in(
    control, warehouse, loads: list[list[dict]]
) -> None:
    for messages in loads:
        _send(control, *messages)
        report = load_events(warehouse, control, "acme")
        assert report.quarantined == 0
    assert pending(control).empty
    companies = _companies(control)
    assert companies["domain"].tolist() == ["acme.io"]  # one company: matched by its domain
    contacts = _contacts(control)
    assert set(contacts["company_id"]) == set(companies["id"])  # every user is in it
    if any(m["messageId"] == "i1" for batch in loads for m in batch):
        assert "ada@acme.io" in contacts["email"].tolist()


def test_a_group_without_traits_creates_its_company_and_later_calls_fill_it(
    control, warehouse
) -> None:
    _send(control, group("u1", "g-new", T0, "g1"), {**ADA, "messageId": "t1", "type": "track",
          "event": "Signed Up"})  # fmt: skip
    load_events(warehouse, control, "acme")
    [company] = _companies(control).to_dict("records")
    assert company["name"] is None and company["domain"] is None
    _send(control, group("u1", "g-new", T0 + timedelta(hours=1), "g2", name="Nova", plan="pro"))
    load_events(warehouse, control, "acme")
    [company] = _companies(control).to_dict("records")
    assert (company["name"], company["plan"]) == ("Nova", "pro")
    assert warehouse.scalar("SELECT count(*) FROM raw.product_events") == 3


def test_a_late_call_is_judged_by_its_keys_own_clock_not_by_when_rows_were_written(
    control, warehouse
) -> None:
    # The identify creates the company on the email's domain (stamped with the loader's clock).
    _send(control, ADA)
    load_events(warehouse, control, "acme")
    # The group call happened a minute after the identify, long before the loader ran: it is the
    # first call through its key, so it applies to the company it matches by domain.
    _send(control, group("u1", "g1", T0 + timedelta(minutes=1), "g1", name="Acme Inc",
          website="acme.io", plan="enterprise", employees=120))  # fmt: skip
    report = load_events(warehouse, control, "acme")
    assert report.identities[0].companies.updated == 1
    [company] = _companies(control).to_dict("records")
    assert (company["name"], company["plan"], company["employees"]) == (
        "Acme Inc",
        "enterprise",
        120,
    )
    # An identify of the same user that happened before the one applied arrives late: skipped.
    _send(control, identify("u1", T0 - timedelta(hours=1), "i0", title="Intern"))
    report = load_events(warehouse, control, "acme")
    assert report.identities[0].contacts.stale == 1
    assert _contacts(control)["title"].tolist() == [None]
    # A newer one applies.
    _send(control, identify("u1", T0 + timedelta(hours=1), "i2", title="CTO"))
    load_events(warehouse, control, "acme")
    assert _contacts(control)["title"].tolist() == ["CTO"]


def test_a_group_naming_another_companys_domain_keeps_its_own(control, warehouse) -> None:
    _send(
        control,
        group("u1", "g1", T0, "g1", name="Acme", website="acme.io"),
        group("u2", "g2", T0, "g2", name="Globex", website="globex.com"),
    )
    load_events(warehouse, control, "acme")
    _send(control, group("u2", "g2", T0 + timedelta(minutes=5), "g3", website="acme.io",
          plan="pro"))  # fmt: skip
    report = load_events(warehouse, control, "acme")
    assert report.identities[0].companies.conflicts_ignored == 1
    companies = _companies(control).set_index("name")
    assert companies.loc["Globex", "domain"] == "globex.com"
    assert companies.loc["Globex", "plan"] == "pro"  # the rest of the call applies


def test_a_call_the_control_db_refuses_is_quarantined_and_the_others_load(
    control, warehouse
) -> None:
    good = _intake_rows(ADA, ACME)
    # A row stored before today's checks existed: its userId cannot be a contact key.
    bad = list(_intake_rows(identify("x", T0, "bad", email="bo@acme.io"))[0])
    bad[INTAKE_COLUMNS.index("user_id")] = "\x01"
    write_intake(control, [*good, tuple(bad)])

    report = load_events(warehouse, control, "acme")

    assert report.quarantined == 1 and pending(control).empty
    assert _contacts(control)["email"].tolist() == ["ada@acme.io"]
    quarantined = warehouse.read_df("SELECT source, reason, payload FROM raw.quarantine")
    assert quarantined["source"].tolist() == ["events"]
    assert quarantined["reason"][0].startswith("identify not applied")
    assert json.loads(quarantined["payload"][0])["message_id"] == "bad"
    assert warehouse.scalar("SELECT count(*) FROM raw.product_events") == 3
    # Loading again (a retried run) changes nothing.
    assert load_events(warehouse, control, "acme").messages == 0


def test_crm_integers_next_to_missing_values_stay_integers(control) -> None:
    records = normalize_records(
        "companies",
        [
            {"id": "c1", "name": "Acme", "employees": 120},
            {"id": "c2", "name": "Globex"},
        ],
    )
    write_records(control, "acme", "companies", records)
    write_records(control, "acme", "companies", normalize_records(
        "companies", [{"id": "c2", "employees": 7}, {"id": "c1", "plan": "pro"}]
    ))  # fmt: skip
    stored = _companies(control).set_index("name")["employees"]
    assert stored.to_dict() == {"Acme": 120, "Globex": 7}


def test_concurrent_writes_naming_one_person_by_two_crm_ids_make_one_contact(control) -> None:
    control.ensure_pushed_source("acme", "crm")
    errors: list[BaseException] = []

    def put(external_id: str, i: int, barrier: threading.Barrier) -> None:
        record = normalize_records("contacts", [{"id": external_id, "email": f"p{i}@acme.io"}])
        barrier.wait()
        try:
            write_records(control, "acme", "contacts", record)
        except Exception as exc:  # reported by the assertion below
            errors.append(exc)

    for i in range(8):
        barrier = threading.Barrier(2)
        threads = [
            threading.Thread(target=put, args=(external_id, i, barrier))
            for external_id in (f"hubspot-{i}", f"salesforce-{i}")
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    assert errors == []
    contacts = _contacts(control)
    assert len(contacts) == 8 and contacts["email"].is_unique
