"""Identity resolution rules, independent of Dagster and databases."""

from __future__ import annotations

import pandas as pd

from devsignal_pipelines.lib.identity import (
    is_free_domain,
    new_contact_id,
    normalize_name,
    resolve_authors,
    score_links,
    url_domain,
)

COMPANIES = pd.DataFrame(
    {"id": ["c1", "c2", "c3"], "domain": ["brightloop.io", "kettle.dev", "Other.COM"]}
)
CONTACTS = pd.DataFrame(
    {
        "id": ["p1", "p2", "p3", "p4"],
        "company_id": ["c1", "c1", "c2", "c2"],
        "full_name": ["Ada Lovelace", "Grace Hopper", "Sam Lee", "Sam  Lee"],
    }
)


def _authors(*rows: tuple[str, str, list[str]]) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "platform_user_id": [r[0] for r in rows],
            "username": [f"user{r[0]}" for r in rows],
            "name": [r[1] for r in rows],
            "urls": [r[2] for r in rows],
        }
    )


def _resolve(authors: pd.DataFrame, known: list[str] = ()) -> pd.DataFrame:
    result = resolve_authors(
        "acme",
        "twitter",
        authors,
        pd.DataFrame({"platform_user_id": list(known)}),
        COMPANIES,
        CONTACTS,
    )
    return result.identities.set_index("platform_user_id")


def test_url_domains_and_free_hosting() -> None:
    assert url_domain("https://www.BrightLoop.io/team?x=1") == "brightloop.io"
    assert url_domain("blog.kettle.dev") == "blog.kettle.dev"
    assert url_domain("") is None and url_domain("https://localhost") is None
    assert (
        is_free_domain("alice.github.io")
        and is_free_domain("gmail.com")
        and is_free_domain("x.vercel.app")
    )
    assert not is_free_domain("brightloop.io")


def test_names_normalize_accents_case_and_spacing() -> None:
    assert normalize_name("  José  O'Neil ") == "jose oneil"
    assert normalize_name(None) == ""


def test_known_identity_is_not_resolved_again() -> None:
    assert _resolve(_authors(("1", "Ada Lovelace", ["https://brightloop.io"])), known=["1"]).empty


def test_bio_domain_and_unique_name_names_the_contact() -> None:
    links = _resolve(_authors(("1", "ada lovelace", ["https://blog.brightloop.io/ada"])))
    assert links.loc["1", "method"] == "bio_domain_name"
    assert links.loc["1", "contact_id"] == "p1"
    assert links.loc["1", "evidence"]["company_domain"] == "brightloop.io"


def test_bio_domain_with_ambiguous_name_links_company_only() -> None:
    result = resolve_authors(
        "acme",
        "twitter",
        _authors(("1", "Sam Lee", ["https://kettle.dev"])),
        pd.DataFrame({"platform_user_id": []}),
        COMPANIES,
        CONTACTS,
    )
    links = result.identities.set_index("platform_user_id")
    assert links.loc["1", "method"] == "bio_domain"
    assert links.loc["1", "contact_id"] == new_contact_id("acme", "twitter", "1")
    assert (
        result.new_contacts.set_index("id").loc[links.loc["1", "contact_id"], "company_id"] == "c2"
    )


def test_free_hosting_and_two_companies_give_no_company() -> None:
    links = _resolve(
        _authors(
            ("1", "Ada Lovelace", ["https://ada.github.io", "https://medium.com/@ada"]),
            ("2", "Ada Lovelace", ["https://brightloop.io", "https://kettle.dev"]),
            ("3", "Nobody", []),
        )
    )
    assert links["method"].to_dict() == {"1": "new_contact", "2": "new_contact", "3": "new_contact"}


def test_new_contact_ids_are_deterministic_and_tenant_scoped() -> None:
    assert new_contact_id("acme", "twitter", "1") == new_contact_id("acme", "twitter", "1")
    assert new_contact_id("acme", "twitter", "1") != new_contact_id("nimbus", "twitter", "1")


def test_score_links_counts_only_claims() -> None:
    links = pd.DataFrame(
        {
            "platform_user_id": ["1", "2", "3", "4"],
            "contact_id": ["p1", "pX", "new", "new2"],
            "company_id": ["c1", "c1", "c2", None],
            "method": ["platform_id", "bio_domain_name", "bio_domain", "new_contact"],
        }
    )
    truth = pd.DataFrame(
        {
            "platform_user_id": ["1", "2", "3", "4"],
            "contact_id": ["p1", "p2", "p3", None],
            "company_id": ["c1", "c1", "c2", None],
        }
    )
    assert score_links(links, truth) == {
        "links_scored": 3,
        "links_correct": 2,
        "precision": 2 / 3,
        "recall": 2 / 3,
    }
