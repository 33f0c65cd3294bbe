"""CRM data of the sandbox organizations: companies, contacts, deals and product signals.

Every id is a uuid5 of a stable string (seed, kind, position), so a world is reproducible down
to its ids, and every random draw comes from the one ``random.Random`` passed in.
"""

from __future__ import annotations

import random
import unicodedata
import uuid
from datetime import datetime, timedelta

from devsignal_pipelines.sandbox.records import (
    Company,
    Contact,
    Deal,
    Organization,
    ProductSignal,
)
from devsignal_pipelines.sandbox.vocabulary import (
    COMPANY_PREFIXES,
    COMPANY_SUFFIXES,
    COMPANY_TLDS,
    DEAL_PLANS,
    DEAL_STAGES,
    FIRST_NAMES,
    LAST_NAMES,
    PERSONAL_EMAIL_DOMAINS,
)

_NAMESPACE = uuid.UUID("6f1c2a52-3d0e-5b7a-9a41-5d2f0c8e7b10")

# Funnel of product signals: (type, probability a contact reaches it given the previous step,
# how many events a contact who reached it emits). Later steps are rarer, as in real funnels.
_FUNNEL: tuple[tuple[str, float, tuple[int, int]], ...] = (
    ("github_star", 0.9, (1, 1)),
    ("docs_view", 0.6, (1, 2)),
    ("signup", 0.6, (1, 1)),
    ("api_call", 0.7, (1, 2)),
    ("feature_usage", 0.5, (1, 2)),
)
_DOC_PAGES = ("/docs/quickstart", "/docs/install", "/docs/pricing", "/docs/api", "/docs/limits")


def stable_id(seed: int, kind: str, *parts: object) -> str:
    """A reproducible UUID for the ``kind`` record at ``parts`` in the world of ``seed``."""
    name = "/".join([str(seed), kind, *(str(part) for part in parts)])
    return str(uuid.uuid5(_NAMESPACE, name))


def ascii_slug(text: str) -> str:
    """Lowercase ASCII letters and digits only: "José García" -> "josegarcia"."""
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(ch for ch in decomposed.lower() if ch.isascii() and ch.isalnum())


def normalized_name(full_name: str) -> str:
    """The form in which two full names count as the same: "  Zoë  O'Brien" -> "zoe obrien".

    Accents, case, punctuation and extra spaces are ignored; the generators use it to decide
    which CRM names are ambiguous within an organization.
    """
    return " ".join(filter(None, (ascii_slug(token) for token in full_name.split())))


def random_full_name(rng: random.Random) -> str:
    return f"{rng.choice(FIRST_NAMES)} {rng.choice(LAST_NAMES)}"


def generate_companies(
    rng: random.Random, seed: int, organizations: list[Organization], per_org: int
) -> list[Company]:
    """``per_org`` companies per organization; names and domains are unique across the world."""
    companies: list[Company] = []
    used_names: set[str] = set()
    for org in organizations:
        for index in range(per_org):
            name = _unique_company_name(rng, used_names)
            domain = ascii_slug(name) + rng.choice(COMPANY_TLDS)
            company_id = stable_id(seed, "company", org.id, index)
            companies.append(Company(company_id, org.id, name, domain))
    return companies


def _unique_company_name(rng: random.Random, used: set[str]) -> str:
    while True:
        name = rng.choice(COMPANY_PREFIXES) + rng.choice(COMPANY_SUFFIXES)
        if name in used:
            name = f"{name} {rng.choice(('Labs', 'Systems', 'Cloud', 'HQ'))}"
        if name not in used:
            used.add(name)
            return name


def generate_contacts(
    rng: random.Random,
    seed: int,
    organizations: list[Organization],
    companies: list[Company],
    loose_per_org: int,
) -> list[Contact]:
    """2-5 contacts per company with work emails, plus ``loose_per_org`` personal sign-ups."""
    contacts: list[Contact] = []
    for org in organizations:
        emails: set[str] = set()
        org_companies = [c for c in companies if c.organization_id == org.id]
        for company in org_companies:
            for _ in range(rng.randint(2, 5)):
                full_name = random_full_name(rng)
                email = _unique_email(rng, full_name, company.domain, emails)
                contact_id = stable_id(seed, "contact", org.id, len(contacts))
                contacts.append(Contact(contact_id, org.id, company.id, full_name, email))
        for _ in range(loose_per_org):
            full_name = random_full_name(rng)
            email = _unique_email(rng, full_name, rng.choice(PERSONAL_EMAIL_DOMAINS), emails)
            contact_id = stable_id(seed, "contact", org.id, len(contacts))
            contacts.append(Contact(contact_id, org.id, None, full_name, email))
    return contacts


def _unique_email(rng: random.Random, full_name: str, domain: str, used: set[str]) -> str:
    first, _, last = full_name.partition(" ")
    first, last = ascii_slug(first), ascii_slug(last)
    local = rng.choice((f"{first}.{last}", first, f"{first[0]}{last}", f"{first}{last[0]}"))
    email = f"{local}@{domain}"
    suffix = 2
    while email in used:
        email = f"{local}{suffix}@{domain}"
        suffix += 1
    used.add(email)
    return email


def generate_deals(
    rng: random.Random,
    seed: int,
    organizations: list[Organization],
    companies: list[Company],
    per_org: int,
    anchor: datetime,
) -> list[Deal]:
    deals: list[Deal] = []
    for org in organizations:
        org_companies = [c for c in companies if c.organization_id == org.id]
        for index in range(per_org):
            company = rng.choice(org_companies)
            created_at = anchor - timedelta(days=rng.randint(1, 120), hours=rng.randint(0, 23))
            deals.append(
                Deal(
                    id=stable_id(seed, "deal", org.id, index),
                    organization_id=org.id,
                    company_id=company.id,
                    name=f"{company.name} - {rng.choice(DEAL_PLANS)}",
                    stage=rng.choice(DEAL_STAGES),
                    amount=float(rng.choice((6, 12, 18, 24, 36, 48, 60, 96, 120)) * 1000),
                    created_at=created_at,
                )
            )
    return deals


def generate_product_signals(
    rng: random.Random,
    seed: int,
    organizations: list[Organization],
    contacts: list[Contact],
    anchor: datetime,
) -> list[ProductSignal]:
    """Walk each contact down the funnel; their events are in funnel order within 60 days."""
    products = {org.id: org for org in organizations}
    signals: list[ProductSignal] = []
    for contact in contacts:
        org = products[contact.organization_id]
        events = _funnel_events(rng, org)
        offsets = sorted(rng.randint(60, 60 * 24 * 60) for _ in events)
        for (signal_type, properties), minutes_ago in zip(events, reversed(offsets), strict=True):
            signals.append(
                ProductSignal(
                    id=stable_id(seed, "signal", contact.id, len(signals)),
                    organization_id=org.id,
                    contact_id=contact.id,
                    company_id=contact.company_id,
                    signal_type=signal_type,
                    occurred_at=anchor - timedelta(minutes=minutes_ago),
                    properties=properties,
                )
            )
    return signals


def _funnel_events(rng: random.Random, org: Organization) -> list[tuple[str, dict]]:
    events: list[tuple[str, dict]] = []
    for signal_type, probability, (low, high) in _FUNNEL:
        if rng.random() >= probability:
            break
        for _ in range(rng.randint(low, high)):
            events.append((signal_type, _signal_properties(rng, org, signal_type)))
    return events


def _signal_properties(rng: random.Random, org: Organization, signal_type: str) -> dict:
    if signal_type == "github_star":
        return {"repo": f"{org.id}/{ascii_slug(org.product)}"}
    if signal_type == "docs_view":
        return {"page": rng.choice(_DOC_PAGES)}
    if signal_type == "signup":
        return {"plan": rng.choice(("free", "free", "trial", "team"))}
    if signal_type == "api_call":
        return {
            "endpoint": rng.choice(("/v1/query", "/v1/deploy", "/v1/docs")),
            "count": rng.randint(1, 500),
        }
    return {"feature": rng.choice(("sso", "audit_log", "branching", "webhooks", "sdk"))}
