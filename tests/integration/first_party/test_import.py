"""`devsignal import`: a CRM export or an events backfill, checked by line, all or nothing."""

from __future__ import annotations

import json

import pandas as pd
import pytest
import sqlalchemy as sa
from click.testing import CliRunner

from devsignal_pipelines.cli.main import main
from devsignal_pipelines.lib.sources.events.intake import pending
from devsignal_pipelines.lib.stores import control as c

DUCKDB_ONLY = pytest.mark.parametrize("stores", ["duckdb"], indirect=True)


def _run(*args: str):
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


def _deals_csv(path, rows: int, bad: dict[int, dict] | None = None) -> None:
    frame = pd.DataFrame(
        {
            "Deal ID": [f"d{i}" for i in range(rows)],
            "Deal Name": [f"Deal {i}" for i in range(rows)],
            "Deal Stage": ["qualified"] * rows,
            "Amount": [str(1000 * (i + 1)) for i in range(rows)],
            "Close Date": ["2026-12-31"] * rows,
        }
    )
    for index, values in (bad or {}).items():
        for column, value in values.items():
            frame.loc[index, column] = value
    frame.to_csv(path, index=False)


def test_a_file_with_problems_names_each_by_line_and_writes_nothing(
    stores, control, tmp_path
) -> None:
    path = tmp_path / "deals.csv"
    # Data starts on line 2 (line 1 is the header): row 810 is line 812.
    _deals_csv(
        path,
        1000,
        bad={810: {"Amount": "12k"}, 20: {"Deal ID": "d3"}, 40: {"Close Date": "someday"}},
    )
    result = _run("import", "acme", "deals", str(path))
    assert result.exit_code == 1
    assert 'line 812: amount "12k" is not a number' in result.output
    assert 'line 22: external_id "d3" also on line 5' in result.output
    assert 'line 42: close_date "someday" is not an ISO 8601 date' in result.output
    assert "3 problem(s), nothing imported" in result.output
    assert control.read_df(sa.select(c.deals)).empty
    assert control.read_df(sa.select(c.webhook_events)).empty


def test_an_export_is_imported_once_and_again_changes_nothing(stores, control, tmp_path) -> None:
    companies = tmp_path / "companies.csv"
    pd.DataFrame({"Record ID": ["c1", "c2"], "Company name": ["Brightloop", "Quillsoft"],
                  "Website": ["https://brightloop.io", "quillsoft.dev"]}).to_csv(companies, index=False)  # fmt: skip
    contacts = tmp_path / "contacts.jsonl"
    contacts.write_text(
        "\n".join(
            json.dumps(r)
            for r in [
                {
                    "id": "p1",
                    "email": "ada@brightloop.io",
                    "firstname": "Ada",
                    "lastname": "L",
                    "associatedcompanyid": "c1",
                    "twitter": "https://x.com/ada",
                    "twitter_user_id": "1234",
                },
                {"id": "p2", "email": "bo@gmail.com", "name": "Bo"},
            ]
        )
    )
    deals = tmp_path / "deals.parquet"
    pd.DataFrame({"id": ["d1"], "dealname": ["Big"], "dealstage": ["lead"], "amount": [5000.0],
                  "associatedcompanyid": ["c1"]}).to_parquet(deals)  # fmt: skip
    out = [_run("import", "acme", kind, str(path)).output
           for kind, path in (("companies", companies), ("contacts", contacts), ("deals", deals))]  # fmt: skip
    assert "2 companies" in out[0] and "2 created" in out[0]
    assert "2 contacts" in out[1] and "2 created" in out[1]
    assert "1 deals" in out[2] and "1 created" in out[2]
    identities = control.read_df(
        sa.select(c.contact_identities.c.platform, c.contact_identities.c.platform_user_id)
    )
    assert sorted(map(tuple, identities.values.tolist())) == [
        ("crm", "p1"),
        ("crm", "p2"),
        ("twitter", "1234"),
    ]
    events = (
        control.read_df(sa.select(c.webhook_events.c.event_type))["event_type"]
        .value_counts()
        .to_dict()
    )
    assert events == {"company.created": 2, "contact.created": 2, "deal.created": 1}
    again = _run("import", "acme", "contacts", str(contacts)).output
    assert "0 created, 0 updated, 2 unchanged; 0 webhook events" in again
    assert len(control.read_df(sa.select(c.webhook_events))) == 5
    contact = control.read_df(
        sa.select(c.contacts).where(c.contacts.c.email == "ada@brightloop.io")
    ).iloc[0]
    assert contact["full_name"] == "Ada L" and contact["twitter_handle"] == "ada"
    assert (
        contact["company_id"]
        == control.read_df(
            sa.select(c.companies.c.id).where(c.companies.c.domain == "brightloop.io")
        ).iat[0, 0]
    )


@DUCKDB_ONLY
def test_events_are_backfilled_from_json_lines_and_csv(stores, control, tmp_path) -> None:
    jsonl = tmp_path / "events.jsonl"
    jsonl.write_text("\n".join(json.dumps(m) for m in [
        {"type": "identify", "userId": "u1", "traits": {"email": "ada@brightloop.io"}, "messageId": "e1",
         "timestamp": "2026-10-01T10:00:00Z"},
        {"type": "track", "userId": "u1", "event": "Signed Up", "messageId": "e2", "timestamp": "2026-10-01T10:01:00Z"},
    ]))  # fmt: skip
    out = _run("import", "acme", "events", str(jsonl)).output
    assert "2 messages" in out and "2 stored" in out
    assert "0 stored, 2 already received" in _run("import", "acme", "events", str(jsonl)).output
    csv = tmp_path / "events.csv"
    pd.DataFrame({"user_id": ["u1", "u2"], "event": ["API Call Made", "Feature Used"],
                  "timestamp": ["2026-10-02T00:00:00Z", "2026-10-03T00:00:00Z"],
                  "properties.endpoint": ["/v1/query", None], "message_id": ["e3", "e4"]}).to_csv(csv, index=False)  # fmt: skip
    assert "2 stored" in _run("import", "acme", "events", str(csv)).output
    stored = control.read_df(
        sa.select(c.event_intake.c.message_id, c.event_intake.c.properties).order_by(
            c.event_intake.c.seq
        )
    )
    assert stored["message_id"].tolist() == ["e1", "e2", "e3", "e4"]
    assert json.loads(stored["properties"].iloc[2]) == {"endpoint": "/v1/query"}
    assert int(pending(control)["messages"].sum()) == 4
    bad = tmp_path / "bad.jsonl"
    bad.write_text(
        '{"type": "track", "userId": "u", "event": "ok"}\n{"type": "track", "event": "x"}\nnot json\n'
    )
    result = _run("import", "acme", "events", str(bad))
    assert result.exit_code == 1 and "line 3: message: not valid JSON" in result.output
    bad.write_text(
        '{"type": "track", "userId": "u", "event": "ok"}\n{"type": "track", "event": "x"}\n'
    )
    result = _run("import", "acme", "events", str(bad))
    assert (
        result.exit_code == 1
        and "line 2: userId: userId or anonymousId is required" in result.output
    )
    assert int(pending(control)["messages"].sum()) == 4  # nothing of a refused file
    cells = tmp_path / "cells.csv"
    cells.write_text(
        'user_id,event,properties\nu1,ok,"{""plan"": ""pro""}"\nu2,bad,"{""plan"": pro}"\n'
    )
    result = _run("import", "acme", "events", str(cells))
    assert result.exit_code == 1 and "line 3: properties: not valid JSON" in result.output
    assert int(pending(control)["messages"].sum()) == 4


@DUCKDB_ONLY
def test_import_refuses_what_it_cannot_read(stores, control, tmp_path) -> None:
    odd = tmp_path / "deals.xlsx"
    odd.write_text("x")
    result = CliRunner().invoke(main, ["import", "acme", "deals", str(odd)])
    assert result.exit_code == 2 and "pass --format csv|jsonl|parquet" in result.output
    result = CliRunner().invoke(main, ["import", "nobody", "deals", str(tmp_path / "missing.csv")])
    assert result.exit_code == 2 and "does not exist" in result.output
    ok = tmp_path / "deals.csv"
    _deals_csv(ok, 3)
    result = CliRunner().invoke(main, ["import", "nobody", "deals", str(ok)])
    assert result.exit_code == 2 and "devsignal orgs add nobody" in result.output
    assert (
        "3 deals checked, no problem found"
        in _run("import", "acme", "deals", str(ok), "--dry-run").output
    )
    assert control.read_df(sa.select(c.deals)).empty
