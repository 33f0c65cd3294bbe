"""Identity rules that need no database: normalization, domains, ids, scoring."""

from __future__ import annotations

import re

import pandas as pd

from devsignal_pipelines.lib.identity.rules import (
    is_free_domain,
    is_full_name,
    new_contact_id,
    normalize_name,
    score_links,
    url_domain,
    url_key,
)


def test_url_domains_strip_scheme_www_user_port_path() -> None:
    assert url_domain("https://www.BrightLoop.io/team?x=1") == "brightloop.io"
    assert url_domain("blog.kettle.dev") == "blog.kettle.dev"
    assert url_domain("http://user:pw@WWW2.acme.io:8080/a#b") == "acme.io"
    assert url_domain("mailto:ada@acme.io") == "acme.io"
    assert url_domain("acme.io.") == "acme.io"
    assert url_domain("") is None and url_domain("https://localhost") is None
    assert url_domain(None) is None


def test_url_keys_keep_the_page_not_the_query() -> None:
    assert url_key("https://www.Alice.dev/blog/?x=1") == "alice.dev/blog"
    assert url_key("https://medium.com/@ada") == "medium.com/@ada"
    assert url_key("localhost") is None


def test_free_hosting_and_free_mail_domains_and_their_subdomains() -> None:
    for domain in ("alice.github.io", "gmail.com", "x.vercel.app", "sites.google.com", "proton.me"):
        assert is_free_domain(domain), domain
    assert not is_free_domain("brightloop.io")
    assert not is_free_domain("github.io.example.com")


def test_names_normalize_accents_case_punctuation_and_spacing() -> None:
    assert normalize_name("  José  O'Neil ") == "jose oneil"
    assert normalize_name("ZOË Ångström-Lévy") == "zoe angstromlevy"
    assert normalize_name("Straße Ærø Łukasz") == "strasse aero lukasz"
    assert normalize_name("Jean\tLuc\u00a0PICARD") == "jean luc picard"
    assert normalize_name("Ada 🚀") == "ada"
    assert normalize_name(None) == "" and normalize_name("") == ""


def test_a_full_name_has_two_real_words() -> None:
    assert is_full_name("ada lovelace") and is_full_name("li na")
    assert not is_full_name("ada l") and not is_full_name("j r smith") and not is_full_name("ada")


def test_new_contact_ids_are_deterministic_uuid_shaped_and_tenant_scoped() -> None:
    first = new_contact_id("acme", "twitter", "1")
    assert first == new_contact_id("acme", "twitter", "1")
    assert re.fullmatch(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", first)
    assert first != new_contact_id("nimbus", "twitter", "1")
    assert first != new_contact_id("acme", "stackoverflow", "1")


def test_score_links_scores_contact_and_company_claims_not_new_contacts() -> None:
    links = pd.DataFrame(
        {
            "platform_user_id": ["1", "2", "3", "4", "5"],
            "contact_id": ["p1", "pX", "new", "new2", "p5"],
            "company_id": ["c1", "c1", "c2", None, None],
            "method": ["platform_id", "bio_domain_name", "bio_domain", "new_contact", "name"],
        }
    )
    truth = pd.DataFrame(
        {
            "platform_user_id": ["1", "2", "3", "4", "5"],
            "contact_id": ["p1", "p2", "p3", None, "p5"],
            "company_id": ["c1", "c1", "c2", None, None],
        }
    )
    assert score_links(links, truth) == {
        "links_scored": 4,
        "links_correct": 3,
        "precision": 3 / 4,
        "recall": 3 / 4,
    }
