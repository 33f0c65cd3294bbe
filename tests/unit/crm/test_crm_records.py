"""CRM records -> validated frames: HubSpot's recorded shapes, aliases, values checked column by
column, every problem reported with its line and field."""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pandas as pd
import pytest

from devsignal_pipelines.lib.sources.crm.records import (
    FIELDS,
    RecordError,
    alias_map,
    flatten,
    normalize_records,
)
from tests.conftest import SHARED

HUBSPOT = SHARED / "fixtures" / "hubspot"


def hubspot_results(name: str, exchange: int = 0) -> list[dict]:
    """The `results` of one recorded HubSpot list response."""
    return json.loads((HUBSPOT / name).read_text())[exchange]["response"]["body"]["results"]


def problems(kind: str, records: list[dict], **kwargs: Any) -> list[tuple[int, str, str]]:
    """(line, field, message) of every problem normalize_records reports."""
    with pytest.raises(RecordError) as exc:
        normalize_records(kind, records, **kwargs)
    return list(exc.value.errors[["line", "field", "message"]].itertuples(index=False, name=None))


def one_problem(kind: str, record: dict, **kwargs: Any) -> tuple[int, str, str]:
    [problem] = problems(kind, [record], **kwargs)
    return problem


# --- HubSpot's recorded bodies ----------------------------------------------------------------


def test_hubspot_deals_are_flattened_and_typed() -> None:
    records = hubspot_results("deals_list.json")
    frame = normalize_records("deals", records)
    assert len(frame) == len(records) == 20
    deal = frame.set_index("external_id").loc["479475667160"]
    assert deal["name"] == "Test Deal Updated via Action"
    assert deal["stage"] == "appointmentscheduled"
    assert deal["pipeline"] == "default"
    assert deal["amount"] == 3000.0
    assert isinstance(deal["amount"], float)
    assert deal["created_at"] == pd.Timestamp("2026-02-25T16:26:25.880Z")
    assert deal["updated_at"] == pd.Timestamp("2026-03-09T20:29:45.981Z")
    assert str(deal["created_at"].tz) == "UTC"
    assert pd.isna(deal["close_date"])  # HubSpot sends null
    assert pd.isna(deal["currency"])
    assert frame["amount"].dtype == "float64"
    assert frame["line"].tolist() == list(range(1, 21))


def test_hubspot_fields_nobody_maps_are_kept_as_json_properties() -> None:
    [record] = hubspot_results("deals_list.json")[:1]
    frame = normalize_records("deals", [record])
    assert json.loads(frame.loc[0, "properties"]) == {
        "archived": False,
        "url": record["url"],
    }


def test_a_hubspot_single_deal_body_normalizes_like_a_list_item() -> None:
    body = json.loads((HUBSPOT / "deal_get_single.json").read_text())[0]["response"]["body"]
    frame = normalize_records("deals", [body])
    assert frame.loc[0, "external_id"] == "479475667160"
    assert frame.loc[0, "amount"] == 3000.0
    # hubspot_owner_id is null: nothing to keep for it
    assert "hubspot_owner_id" not in json.loads(frame.loc[0, "properties"])


def test_hubspot_contacts_get_a_full_name_from_first_and_last_names() -> None:
    frame = normalize_records("contacts", hubspot_results("contacts_list.json"))
    assert len(frame) == 26
    by_id = frame.set_index("external_id")
    brian = by_id.loc["713802347732"]
    assert brian["full_name"] == "Brian Halligan (Sample Contact)"
    assert brian["email"] == "bh@hubspot.com"
    assert brian["title"] == "Executive Chairperson"
    assert brian["company_name"] == "HubSpot"
    assert brian["updated_at"] == pd.Timestamp("2026-02-28T15:18:25.872Z")
    assert pd.isna(by_id.loc["713492963559", "title"])  # jobtitle: null
    nameless = frame[frame["first_name"].isna() & frame["last_name"].isna()]
    assert len(nameless) > 0
    assert nameless["full_name"].isna().all()  # nothing to derive it from


def test_hubspot_companies_read_domain_and_keep_their_other_fields() -> None:
    frame = normalize_records("companies", hubspot_results("companies_list.json"))
    assert len(frame) == 57
    first = frame.set_index("external_id").loc["406260751575"]
    assert first["domain"] == "testcompany.com"
    assert first["name"] == "Test Company Batch Updated - Dryrun"
    assert json.loads(first["properties"])["city"] == "San Francisco"


@pytest.mark.parametrize(
    ("name", "kind"),
    [
        ("deals_list_associations_requested.json", "deals"),
        ("deals_search_paging.json", "deals"),
        ("dlt_deals_list_body.json", "deals"),
        ("dlt_companies_list_body.json", "companies"),
        ("dlt_contacts_list_body.json", "contacts"),
        ("dlt_contacts_with_property_history.json", "contacts"),
    ],
)
def test_every_recorded_hubspot_list_normalizes(name: str, kind: str) -> None:
    records = hubspot_results(name)
    frame = normalize_records(kind, records)
    assert frame["external_id"].tolist() == [r["id"] for r in records]


def test_nested_hubspot_structures_survive_in_properties() -> None:
    frame = normalize_records(
        "contacts", hubspot_results("dlt_contacts_with_property_history.json")
    )
    kept = json.loads(frame.loc[0, "properties"])
    assert kept["associations"]["deals"]["results"][0]["type"] == "contact_to_deal"
    assert "propertiesWithHistory" in kept


def test_flatten_lifts_hubspot_properties_and_the_top_level_wins() -> None:
    assert flatten({"id": "1", "properties": {"id": "2", "dealname": "X"}, "archived": False}) == {
        "id": "1",
        "dealname": "X",
        "archived": False,
    }
    assert flatten({"id": "1", "properties": "not a mapping"}) == {
        "id": "1",
        "properties": "not a mapping",
    }


# --- aliases ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "spelling", ["dealstage", "Deal Stage", "deal_stage", "DEAL-STAGE", "status"]
)
def test_field_names_match_by_alias_ignoring_case_spaces_and_dashes(spelling: str) -> None:
    frame = normalize_records("deals", [{"id": "1", spelling: "closedwon"}])
    assert frame.loc[0, "stage"] == "closedwon"
    assert pd.isna(frame.loc[0, "properties"])


def test_every_field_is_reachable_by_its_own_name_and_each_of_its_aliases() -> None:
    for kind, fields in FIELDS.items():
        aliases = alias_map(kind)
        for field in fields:
            for spelling in (field.name, *field.aliases):
                assert aliases[spelling.lower()] == field.name, (kind, spelling)


@pytest.mark.parametrize(
    ("kind", "column", "field"),
    [
        ("companies", "Company Name", "name"),
        ("companies", "numberofemployees", "employees"),
        ("contacts", "Job Title", "title"),
        ("contacts", "twitterhandle", "twitter"),
        ("contacts", "associatedcompanyid", "company_external_id"),
        ("deals", "Close Date", "close_date"),
        ("deals", "deal-value", "amount"),
        ("deals", "hs_lastmodifieddate", "updated_at"),
    ],
)
def test_a_column_named_by_an_alias_fills_its_field(kind: str, column: str, field: str) -> None:
    values = {"close_date": "2026-03-01", "updated_at": "2026-03-01", "twitter": "jack"}
    value = values.get(field, "42")
    frame = normalize_records(kind, [{"id": "1", column: value}])
    assert not pd.isna(frame.loc[0, field])
    assert pd.isna(frame.loc[0, "properties"])  # nothing left unmapped


def test_the_first_spelling_with_a_value_wins() -> None:
    frame = normalize_records(
        "deals",
        [
            {"id": "1", "hs_object_id": "2"},
            {"id": "", "hs_object_id": "3"},
        ],
    )
    assert frame["external_id"].tolist() == ["1", "3"]


def test_the_output_has_every_field_of_the_kind_plus_properties_and_line() -> None:
    for kind, fields in FIELDS.items():
        frame = normalize_records(kind, [{"id": "1"}])
        assert list(frame.columns) == [f.name for f in fields] + ["properties", "line"]


# --- normalized values ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("website", "domain"),
    [
        ("https://www.acme.io/x", "acme.io"),
        ("acme.io", "acme.io"),
        ("ACME.io.", "acme.io"),
        ("http://sub.acme.co.uk:8080/p?q=1", "sub.acme.co.uk"),
        ("www.acme.io#top", "acme.io"),
    ],
)
def test_a_domain_is_extracted_from_a_website_url(website: str, domain: str) -> None:
    frame = normalize_records("companies", [{"id": "1", "website": website}])
    assert frame.loc[0, "domain"] == domain


@pytest.mark.parametrize(
    "handle",
    [
        "@jack",
        "jack",
        "https://twitter.com/jack",
        "x.com/jack",
        "https://x.com/jack/status/1",
        "www.twitter.com/@jack?s=20",
    ],
)
def test_x_handles_are_read_from_handles_and_profile_urls(handle: str) -> None:
    frame = normalize_records("contacts", [{"id": "1", "twitter_handle": handle}])
    assert frame.loc[0, "twitter"] == "jack"


@pytest.mark.parametrize(
    ("value", "login"),
    [
        ("https://github.com/torvalds", "torvalds"),
        ("github.com/octo-cat/hello-world", "octo-cat"),
        ("https://www.github.com/gaearon/", "gaearon"),
        ("@gaearon", "gaearon"),
        ("plain-login", "plain-login"),
    ],
)
def test_github_logins_are_read_from_profile_urls(value: str, login: str) -> None:
    frame = normalize_records("contacts", [{"id": "1", "github_login": value}])
    assert frame.loc[0, "github"] == login


def test_emails_are_lowercased_and_currencies_uppercased() -> None:
    contact = normalize_records("contacts", [{"id": "1", "Email Address": " Ada@Example.COM "}])
    assert contact.loc[0, "email"] == "ada@example.com"
    deal = normalize_records("deals", [{"id": "1", "currency_code": "eur"}])
    assert deal.loc[0, "currency"] == "EUR"


def test_numbers_from_json_and_text_are_read_alike() -> None:
    frame = normalize_records(
        "deals",
        [{"id": 1, "amount": 3000}, {"id": "2", "amount": " 1000.50 "}, {"id": "3", "amount": ""}],
    )
    assert frame["external_id"].tolist() == ["1", "2", "3"]
    assert frame["amount"].tolist()[:2] == [3000.0, 1000.5]
    assert pd.isna(frame.loc[2, "amount"])


def test_employee_counts_are_whole_numbers() -> None:
    frame = normalize_records(
        "companies",
        [{"id": "1", "employees": "12"}, {"id": "2", "numberofemployees": 7}, {"id": "3"}],
    )
    assert str(frame["employees"].dtype) == "Int64"
    assert frame["employees"].tolist()[:2] == [12, 7]
    assert pd.isna(frame.loc[2, "employees"])


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2026-03-01", "2026-03-01T00:00:00Z"),
        ("2026-03-01T12:00:00Z", "2026-03-01T12:00:00Z"),
        ("2026-03-01T12:00:00+02:00", "2026-03-01T10:00:00Z"),
        ("2026-03-01T12:00:00", "2026-03-01T12:00:00Z"),  # no offset: UTC
    ],
)
def test_timestamps_are_parsed_to_utc(value: str, expected: str) -> None:
    frame = normalize_records("deals", [{"id": "1", "closedate": value}])
    assert frame.loc[0, "close_date"] == pd.Timestamp(expected)


def test_blank_values_are_missing_not_errors() -> None:
    frame = normalize_records(
        "contacts", [{"id": "1", "email": "", "twitter": "   ", "github": None, "createdate": ""}]
    )
    row = frame.iloc[0]
    for field in ("email", "twitter", "github", "created_at", "full_name"):
        assert pd.isna(row[field]), field


def test_a_full_name_that_is_sent_is_kept() -> None:
    frame = normalize_records(
        "contacts",
        [
            {"id": "1", "full_name": "Given Full", "first_name": "A", "last_name": "B"},
            {"id": "2", "first_name": "Ada"},
            {"id": "3", "last_name": "Lovelace"},
        ],
    )
    assert frame["full_name"].tolist() == ["Given Full", "Ada", "Lovelace"]


def test_a_dataframe_from_a_file_is_accepted_with_its_line_numbers() -> None:
    rows = pd.DataFrame(
        {
            "Record ID": [101, 102, 103],
            "Amount": [1.0, np.nan, 2.5],
            "Notes": [np.nan, "call back", ""],
        }
    )
    frame = normalize_records("deals", rows, first_line=2)  # line 1 is the header
    assert frame["external_id"].tolist() == ["101", "102", "103"]
    assert frame["line"].tolist() == [2, 3, 4]
    assert frame.loc[0, "amount"] == 1.0 and pd.isna(frame.loc[1, "amount"])
    assert json.loads(frame.loc[1, "properties"]) == {"Notes": "call back"}
    assert pd.isna(frame.loc[2, "properties"])


# --- problems, with their line and field ------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "record", "field", "message"),
    [
        ("contacts", {"id": "1", "email": "not-an-email"}, "email", 'email "not-an-email" is not an email address'),
        ("contacts", {"id": "1", "email": "a@b"}, "email", 'email "a@b" is not an email address'),
        ("deals", {"id": "1", "amount": "12k"}, "amount", 'amount "12k" is not a number'),
        ("deals", {"id": "1", "amount": "1,000"}, "amount", 'amount "1,000" is not a number'),
        ("deals", {"id": "1", "amount": "1e20"}, "amount", 'amount "1e20" is out of range'),
        ("deals", {"id": "1", "closedate": "03/01/2026"}, "close_date", 'close_date "03/01/2026" is not an ISO 8601 date'),
        ("deals", {"id": "1", "closedate": "2026-02-30"}, "close_date", 'close_date "2026-02-30" is not an ISO 8601 date'),
        ("deals", {"id": "1", "currency": "dollars"}, "currency", "is not a 3-letter currency code"),
        ("companies", {"id": "1", "employees": "3.5"}, "employees", "is not a whole number >= 0"),
        ("companies", {"id": "1", "employees": "-1"}, "employees", "is not a whole number >= 0"),
        ("companies", {"id": "1", "website": "not a url"}, "domain", "is not a domain or website URL"),
        ("contacts", {"id": "1", "twitter": "this handle is too long"}, "twitter", "is not an X handle"),
        ("contacts", {"id": "1", "github": "-bad-"}, "github", "is not a GitHub login"),
        ("contacts", {"id": "1", "x_user_id": "12ab"}, "twitter_user_id", "is not a numeric id"),
        ("contacts", {"id": "a\x00b"}, "external_id", "contains control characters"),
        ("contacts", {"id": "x" * 256}, "external_id", "is longer than 255 characters"),
        ("deals", {"id": "1", "dealname": "n" * 301}, "name", "is longer than 300 characters"),
    ],
)  # fmt: skip
def test_a_bad_value_is_reported_with_its_line_and_field(
    kind: str, record: dict, field: str, message: str
) -> None:
    line, got_field, got_message = one_problem(kind, record, first_line=811)
    assert (line, got_field) == (811, field)
    assert message in got_message


def test_a_missing_id_is_reported_on_its_line() -> None:
    assert one_problem("deals", {"dealname": "No id"}, first_line=811) == (
        811,
        "external_id",
        "external_id is required (the CRM's id)",
    )


def test_a_duplicate_id_names_the_line_it_was_first_seen_on() -> None:
    found = problems(
        "contacts",
        [{"id": "a"}, {"id": " a "}, {"id": "b"}, {"id": "a"}],
        first_line=811,
    )
    assert found == [
        (812, "external_id", 'external_id "a" also on line 811'),
        (814, "external_id", 'external_id "a" also on line 811'),
    ]


def test_explicit_line_numbers_are_used_in_problems() -> None:
    found = problems(
        "deals",
        [{"id": "1"}, {"id": "2", "amount": "12k"}, {"amount": "5"}],
        lines=[3, 812, 900],
    )
    assert [(line, field) for line, field, _ in found] == [(812, "amount"), (900, "external_id")]


def test_every_problem_is_reported_sorted_by_line_then_field() -> None:
    found = problems(
        "deals",
        [
            {"id": "1", "amount": "12k"},
            {"id": "2", "closedate": "March 3rd", "amount": "x"},
            {"id": "1"},
            {"amount": "5"},
        ],
        first_line=811,
    )
    assert [(line, field) for line, field, _ in found] == [
        (811, "amount"),
        (812, "amount"),
        (812, "close_date"),
        (813, "external_id"),
        (814, "external_id"),
    ]


def test_the_error_message_names_the_first_problem_and_counts_the_rest() -> None:
    with pytest.raises(RecordError) as exc:
        normalize_records("deals", [{"id": "1", "amount": "12k"}, {}], first_line=811)
    assert str(exc.value) == 'deals: line 811: amount "12k" is not a number (and 1 more)'
    assert exc.value.kind == "deals"


def test_record_error_lines_are_truncated_with_a_count_of_the_rest() -> None:
    with pytest.raises(RecordError) as exc:
        normalize_records(
            "deals", [{"id": str(i), "amount": "x"} for i in range(25)], first_line=811
        )
    error = exc.value
    assert len(error.lines()) == 21
    assert error.lines()[0] == 'line 811: amount "x" is not a number'
    assert error.lines()[-1] == "... and 5 more problems"
    assert error.lines(3) == [
        'line 811: amount "x" is not a number',
        'line 812: amount "x" is not a number',
        'line 813: amount "x" is not a number',
        "... and 22 more problems",
    ]
    assert len(error.lines(25)) == 25  # everything shown: no trailer
    assert not error.lines(25)[-1].startswith("...")


def test_an_unknown_kind_is_a_value_error_naming_the_kinds() -> None:
    with pytest.raises(
        ValueError, match=r"unknown record kind 'leads'.*companies, contacts, deals"
    ):
        normalize_records("leads", [{"id": "1"}])
