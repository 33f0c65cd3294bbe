"""Mapping real Clearbit payloads (../shared/fixtures/clearbit) to DevSignal's fields."""

from __future__ import annotations

import json

import pytest

from devsignal_pipelines.lib.sources.enrichment.firmographics import (
    COMPANY_FIELDS,
    PERSON_FIELDS,
    is_legacy_company,
    map_company,
    map_person,
    normalize_domain,
    normalize_email,
)
from tests.conftest import SHARED

FIXTURES = SHARED / "fixtures" / "clearbit"


def _json(name: str) -> dict:
    return json.loads((FIXTURES / name).read_text())


def test_v2_company_maps_all_sixteen_fields() -> None:
    company = map_company(_json("clearbit_v2_company_uber.json"))
    assert tuple(company) == COMPANY_FIELDS
    assert company["name"] == "Uber" and company["domain"] == "uber.com"
    assert company["industry"] == "Internet Software & Services"
    assert company["sector"] == "Information Technology"
    assert (company["employees"], company["employees_range"]) == (20313, "10k-50k")
    assert company["estimated_annual_revenue"] == "$1B-$10B"
    assert (company["city"], company["country"]) == ("San Francisco", "United States")
    assert company["linkedin_handle"] == "company/uber-com" and company["twitter_handle"] == "Uber"
    # The real payload lists mixpanel twice: the stack is an array of distinct technologies.
    assert (
        company["tech_stack"].count("mixpanel") == 1 and "google_analytics" in company["tech_stack"]
    )


def test_v2_person_maps_contact_fields() -> None:
    person = map_person(_json("clearbit_v2_person_alexmaccaw.json"))
    assert tuple(person) == PERSON_FIELDS
    assert person["full_name"] == "Alex MacCaw"
    assert (person["title"], person["role"], person["seniority"]) == (
        "Founder and CEO",
        "ceo",
        "executive",
    )
    assert (person["github"], person["twitter"]) == ("maccman", "maccaw")
    assert person["employment_domain"] == "clearbit.com"


def test_real_nulls_and_older_vocabulary_map_without_error() -> None:
    combined = _json("clearbit_v2_combined_calvinklein.json")
    person, company = map_person(combined["person"]), map_company(combined["company"])
    assert person["twitter"] is None and company["linkedin_handle"] is None
    assert company["tech_stack"] == [] and company["employees_range"] == "1000+"


def test_legacy_v1_company_is_recognised_and_mapped_where_possible() -> None:
    legacy = _json("clearbit_legacy_v1_company_uber_2014.json")
    assert is_legacy_company(legacy) and not is_legacy_company(
        _json("clearbit_v2_company_uber.json")
    )
    company = map_company(legacy)
    assert company["name"] == "Uber"
    assert company["employees"] is not None or legacy.get("employees") is None


@pytest.mark.parametrize("payload", [None, [], "x", {"metrics": "nope", "geo": 3, "tech": "a"}])
def test_garbage_never_raises(payload) -> None:
    assert set(map_company(payload)) == set(COMPANY_FIELDS)
    assert set(map_person(payload)) == set(PERSON_FIELDS)


def test_domains_and_emails_are_validated_before_any_call() -> None:
    assert normalize_domain("https://www.BrightLoop.io/about") == "brightloop.io"
    assert normalize_domain("not a domain") is None and normalize_domain("localhost") is None
    assert normalize_email(" Ada@BrightLoop.io ") == "ada@brightloop.io"
    assert normalize_email("ada@") is None and normalize_email("ada.brightloop.io") is None
