"""A sandbox world's first-party data, as its organizations would send it to DevSignal.

- `crm_export`: each organization's CRM as an export file would hold it (companies, contacts with
  the X / Stack Overflow accounts the CRM knows, deals), for `devsignal import`;
- `deal_updates`: each deal as a CRM automation would PUT it: created in the first stage, then
  moved to its current stage a few days later (so stage history and deal.stage_changed exist);
- `segment_messages`: the product events (not GitHub stars: the GitHub connector reads those from
  the sandbox's GitHub API) as a Segment SDK sends them: a visitor's events before
  sign-up carry only an anonymousId, `identify` (userId + anonymousId + email, name) comes at
  sign-up, `group` puts the user in their company's account, later events carry the userId.

The CRM's own ids are the world's record ids; DevSignal derives its ids from them
(`crm_company_id`, `crm_contact_id`), which is how tests compare links with the world's truth.
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from datetime import timedelta
from typing import Any

import pandas as pd

from devsignal_pipelines.lib.identity.rules import new_contact_id
from devsignal_pipelines.lib.sources.crm.upsert import new_company_id
from devsignal_pipelines.sandbox.crm import ascii_slug
from devsignal_pipelines.sandbox.records import ProductSignal
from devsignal_pipelines.sandbox.world import World

CRM_HISTORY_DAYS = 60  # the CRM export says its records were entered this long before the anchor
FIRST_STAGE = "lead"
# What the product itself sees; stars are GitHub's to tell (the github connector reads them).
PRODUCT_SIGNAL_TYPES = ("docs_view", "signup", "api_call", "feature_usage")
_TRACK_EVENTS = {
    "signup": "Signed Up",
    "api_call": "API Call Made",
    "feature_usage": "Feature Used",
}


def crm_company_id(organization_id: str, world_company_id: str | None) -> str | None:
    return (
        None
        if world_company_id is None
        else new_company_id(organization_id, "crm", world_company_id)
    )


def crm_contact_id(organization_id: str, world_contact_id: str | None) -> str | None:
    return (
        None
        if world_contact_id is None
        else new_contact_id(organization_id, "crm", world_contact_id)
    )


def product_user_id(contact_id: str) -> str:
    """The id the organization's product gives the person (not the CRM's)."""
    return "usr_" + hashlib.sha1(contact_id.encode()).hexdigest()[:16]


def docs_host(world: World, organization_id: str) -> str:
    org = next(o for o in world.organizations if o.id == organization_id)
    return f"docs.{ascii_slug(org.product)}.dev"


def crm_export(world: World, organization_id: str) -> dict[str, pd.DataFrame]:
    """The organization's CRM export: one frame per record kind, columns as a CRM names them."""
    entered = (world.anchor - timedelta(days=CRM_HISTORY_DAYS)).isoformat()
    companies = pd.DataFrame(
        [
            {
                "id": c.id,
                "name": c.name,
                "domain": c.domain,
                "createdate": entered,
                "hs_lastmodifieddate": entered,
            }
            for c in world.companies
            if c.organization_id == organization_id
        ]
    )
    accounts: dict[str, dict[str, str]] = defaultdict(dict)
    for identity in [*world.identities, *world.so_identities, *world.github_identities]:
        if identity.organization_id != organization_id:
            continue
        person = accounts[identity.contact_id]
        if identity.platform == "twitter":
            person.update(twitter_user_id=identity.platform_user_id, twitter=identity.username)
        elif identity.platform == "github":
            person.update(github_user_id=identity.platform_user_id, github=identity.username)
        else:
            person["stackoverflow_user_id"] = identity.platform_user_id
    contacts = pd.DataFrame(
        [
            {
                "id": c.id,
                "email": c.email,
                "name": c.full_name,
                "company_id": c.company_id,
                **accounts.get(c.id, {}),
                "createdate": entered,
                "lastmodifieddate": entered,
            }
            for c in world.contacts
            if c.organization_id == organization_id
        ]
    ).rename(columns={"company_id": "associatedcompanyid"})
    return {"companies": companies, "contacts": contacts}


def deal_updates(world: World, organization_id: str) -> list[tuple[str, dict[str, Any]]]:
    """(deal id, body) in the order a CRM automation sends them."""
    updates = []
    for deal in world.deals:
        if deal.organization_id != organization_id:
            continue
        base = {
            "dealname": deal.name,
            "amount": str(int(deal.amount)),
            "associatedcompanyid": deal.company_id,
            "createdate": deal.created_at.isoformat(),
        }
        updates.append(
            (
                deal.id,
                {
                    **base,
                    "dealstage": FIRST_STAGE,
                    "hs_lastmodifieddate": deal.created_at.isoformat(),
                },
            )
        )
        if deal.stage != FIRST_STAGE:
            moved = min(deal.created_at + timedelta(days=3), world.anchor)
            updates.append(
                (
                    deal.id,
                    {**base, "dealstage": deal.stage, "hs_lastmodifieddate": moved.isoformat()},
                )
            )
    return updates


def segment_messages(world: World, organization_id: str) -> list[dict[str, Any]]:
    """Every product event of the organization as Segment messages, oldest first."""
    contacts = {c.id: c for c in world.contacts if c.organization_id == organization_id}
    companies = {c.id: c for c in world.companies if c.organization_id == organization_id}
    by_contact: dict[str, list[ProductSignal]] = defaultdict(list)
    for signal in world.product_signals:
        if signal.organization_id == organization_id and signal.signal_type in PRODUCT_SIGNAL_TYPES:
            by_contact[signal.contact_id].append(signal)
    host = docs_host(world, organization_id)
    messages: list[dict[str, Any]] = []
    for contact_id, signals in sorted(by_contact.items()):
        contact = contacts[contact_id]
        signals.sort(key=lambda s: (s.occurred_at, s.id))
        signup = next((s for s in signals if s.signal_type == "signup"), signals[0])
        user_id, anonymous_id = product_user_id(contact_id), "anon-" + contact_id[:8]
        known_from = signup.occurred_at
        messages.append(
            {
                "type": "identify",
                "messageId": f"identify-{contact_id}",
                "userId": user_id,
                "anonymousId": anonymous_id,
                "traits": {"email": contact.email, "name": contact.full_name},
                "timestamp": _iso(known_from),
            }
        )
        company = companies.get(contact.company_id or "")
        if company is not None:
            messages.append(
                {
                    "type": "group",
                    "messageId": f"group-{contact_id}",
                    "userId": user_id,
                    "groupId": "acct_" + company.id[:12],
                    "traits": {"name": company.name, "website": f"https://{company.domain}"},
                    "timestamp": _iso(known_from),
                }
            )
        for signal in signals:
            who = (
                {"userId": user_id}
                if signal.occurred_at >= known_from
                else {"anonymousId": anonymous_id}
            )
            messages.append({**who, **_event(signal, host)})
    return sorted(messages, key=lambda m: (m["timestamp"], m["messageId"]))


def _event(signal: ProductSignal, host: str) -> dict[str, Any]:
    common = {"messageId": signal.id, "timestamp": _iso(signal.occurred_at)}
    if signal.signal_type == "docs_view":
        page = signal.properties.get("page", "/docs")
        return {**common, "type": "page", "name": page.rsplit("/", 1)[-1].title(),
                "properties": {"url": f"https://{host}{page}", "path": page}}  # fmt: skip
    return {
        **common,
        "type": "track",
        "event": _TRACK_EVENTS[signal.signal_type],
        "properties": signal.properties,
    }


def _iso(moment) -> str:
    return moment.isoformat().replace("+00:00", "Z")
