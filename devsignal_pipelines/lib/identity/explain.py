"""Why is this author that contact? Human-readable explanations of core.identity_links.

Reads the links (method, confidence, evidence, when) from the warehouse, the contact and its
company from the control DB, and the accounts' current handles / display names from the raw
tables, and turns each link's evidence into a sentence. For `devsignal identity explain`.
"""

from __future__ import annotations

import json
from typing import Any

import pandas as pd
import sqlalchemy as sa

from devsignal_pipelines.lib.stores import control as c
from devsignal_pipelines.lib.stores.control import ControlDB
from devsignal_pipelines.lib.stores.warehouse import Warehouse

_LINKS = (
    "SELECT platform, platform_user_id, contact_id, company_id, method, confidence, "
    "CAST(evidence AS TEXT) AS evidence, linked_at FROM core.identity_links "
    "WHERE organization_id = :o AND {where} ORDER BY platform, platform_user_id"
)


def explain_contact(
    warehouse: Warehouse, control: ControlDB, organization_id: str, contact_id: str
) -> str:
    """Every identity linked to `contact_id`, each with its method, confidence and evidence.

    Raises LookupError when the organization has no such contact.
    """
    contact = _contact(control, organization_id, contact_id)
    links = warehouse.read_df(
        _LINKS.format(where="contact_id = :c"), {"o": organization_id, "c": contact_id}
    )
    recorded = _recorded_identities(control, organization_id, contact_id)
    lines = [_contact_header(contact, organization_id)]
    if links.empty:
        lines.append("  no author on any platform is linked to this contact yet")
    lines += _link_lines(warehouse, organization_id, links)
    seen = set(zip(links["platform"], links["platform_user_id"], strict=True))
    unseen = [r for r in recorded if (r["platform"], r["platform_user_id"]) not in seen]
    for identity in unseen:
        lines.append(
            f"  {identity['platform']} {identity['platform_user_id']}"
            f"{_handle(identity['platform'], identity['username'])}: recorded ({identity['method']}), "
            "no activity synced from this account yet"
        )
    return "\n".join(lines)


def explain_identity(
    warehouse: Warehouse,
    control: ControlDB,
    organization_id: str,
    platform: str,
    platform_user_id: str,
) -> str:
    """Why one platform account (X user id, Stack Overflow user_id) is linked to its contact.

    Raises LookupError when the account has no link in the organization.
    """
    links = warehouse.read_df(
        _LINKS.format(where="platform = :p AND platform_user_id = :u"),
        {"o": organization_id, "p": platform, "u": str(platform_user_id)},
    )
    if links.empty:
        raise LookupError(
            f"no identity link for {platform} user {platform_user_id} in organization "
            f"{organization_id!r}: it has not been seen by a sync, or identity resolution has not "
            "run since (core/identity_links)"
        )
    contact = _contact(control, organization_id, links.at[0, "contact_id"])
    return "\n".join(
        [_contact_header(contact, organization_id), *_link_lines(warehouse, organization_id, links)]
    )


def _contact(control: ControlDB, organization_id: str, contact_id: str) -> dict[str, Any]:
    row = control.read_df(
        sa.select(
            c.contacts.c.id,
            c.contacts.c.full_name,
            c.contacts.c.email,
            c.contacts.c.source,
            c.companies.c.name.label("company_name"),
            c.companies.c.domain.label("company_domain"),
        )
        .outerjoin(c.companies, c.companies.c.id == c.contacts.c.company_id)
        .where(c.contacts.c.organization_id == organization_id, c.contacts.c.id == contact_id)
    )
    if row.empty:
        raise LookupError(f"organization {organization_id!r} has no contact {contact_id!r}")
    return row.iloc[0].to_dict()


def _recorded_identities(
    control: ControlDB, organization_id: str, contact_id: str
) -> list[dict[str, Any]]:
    ident = c.contact_identities
    frame = control.read_df(
        sa.select(ident.c.platform, ident.c.platform_user_id, ident.c.username, ident.c.method)
        .where(ident.c.organization_id == organization_id, ident.c.contact_id == contact_id)
        .order_by(ident.c.platform, ident.c.platform_user_id)
    )
    return frame.to_dict("records")


def _contact_header(contact: dict[str, Any], organization_id: str) -> str:
    name = contact["full_name"] or "(no name)"
    origin = (
        "from the CRM"
        if contact["source"] == "crm"
        else f"created by identity resolution from {contact['source']}"
    )
    company = (
        f" at {contact['company_name'] or '(unnamed company)'} ({contact['company_domain']})"
        if contact["company_name"] or contact["company_domain"]
        else ", no company"
    )
    return f"Contact {contact['id']} {name!r}{company}, {origin} [organization {organization_id}]"


def _link_lines(warehouse: Warehouse, organization_id: str, links: pd.DataFrame) -> list[str]:
    profiles = _profiles(warehouse, organization_id, links)
    lines = []
    for link in links.to_dict("records"):
        evidence = _as_dict(link["evidence"])
        profile = profiles.get((link["platform"], link["platform_user_id"]), "")
        linked_at = pd.Timestamp(link["linked_at"]).tz_convert("UTC").strftime("%Y-%m-%d %H:%M UTC")
        lines.append(
            f"  {link['platform']} {link['platform_user_id']}{profile}: {link['method']}, "
            f"confidence {float(link['confidence']):.2f}, linked {linked_at}"
        )
        lines.append(f"      {_because(link['method'], evidence, link['platform'])}")
        lines.append(f"      evidence: {json.dumps(evidence, sort_keys=True, ensure_ascii=False)}")
    return lines


def _profiles(
    warehouse: Warehouse, organization_id: str, links: pd.DataFrame
) -> dict[tuple[str, str], str]:
    """(platform, id) -> ' @handle "Display Name"' as last synced."""
    found: dict[tuple[str, str], str] = {}
    ids = {p: list(g["platform_user_id"]) for p, g in links.groupby("platform")}
    if ids.get("twitter") and warehouse.table_exists("raw.twitter_users"):
        frame = warehouse.read_df(
            "SELECT user_id, username, name FROM raw.twitter_users WHERE organization_id = :o",
            {"o": organization_id},
        )
        for row in frame[frame["user_id"].isin(ids["twitter"])].itertuples(index=False):
            found[("twitter", row.user_id)] = f" @{row.username} {row.name!r}"
    if ids.get("stackoverflow") and warehouse.table_exists("raw.so_users"):
        frame = warehouse.read_df(
            "SELECT CAST(user_id AS TEXT) AS user_id, display_name, website_url FROM raw.so_users "
            "WHERE organization_id = :o",
            {"o": organization_id},
        )
        for row in frame[frame["user_id"].isin(ids["stackoverflow"])].itertuples(index=False):
            site = (
                f" <{row.website_url}>"
                if isinstance(row.website_url, str) and row.website_url
                else ""
            )
            found[("stackoverflow", row.user_id)] = f" {row.display_name!r}{site}"
    if ids.get("github") and warehouse.table_exists("raw.github_users"):
        frame = warehouse.read_df(
            "SELECT CAST(user_id AS TEXT) AS user_id, login, name FROM raw.github_users "
            "WHERE organization_id = :o",
            {"o": organization_id},
        )
        for row in frame[frame["user_id"].isin(ids["github"])].itertuples(index=False):
            name = f" {row.name!r}" if isinstance(row.name, str) and row.name else ""
            found[("github", row.user_id)] = f" @{row.login}{name}"
    return found


def _because(method: str, evidence: dict[str, Any], platform: str) -> str:
    e = evidence
    if method == "platform_id":
        handle = _handle(platform, e.get("crm_username"))
        return (
            f"the CRM recorded this permanent {platform} id{handle}; ids never change, handles do"
        )
    if method == "claimed_handle":
        return (
            f"the account's handle {_handle(platform, e.get('handle')).strip()} is the one "
            f"{e.get('contact_name')!r} (from {e.get('contact_source')}) names as theirs, and no "
            "other contact names it"
        )
    if method == "linked_account":
        return (
            f"the profile names the X account {e.get('twitter_username')} as its owner's, and that "
            f"account is linked to {e.get('contact_name')!r} (from {e.get('contact_source')})"
        )
    if method == "identify":
        return (
            "the organization's product identified this user id (Segment identify): its own contact"
        )
    if method == "email":
        return (
            f"the organization's product identified this user id with email {e.get('email')!r}, "
            "the email of this contact"
        )
    if method == "bio_domain_name":
        return (
            f"profile {_via(e)} {e.get('profile_url')!r} is on {e.get('company_domain')}, the domain of "
            f"exactly one company, and {e.get('author_name')!r} is the only contact there named "
            f"{e.get('contact_name')!r} (normalized)"
        )
    if method == "name":
        shared = f", and both profiles link {e.get('shared_url')}" if e.get("shared_url") else ""
        return (
            f"full name {e.get('author_name')!r} matches exactly one contact of the organization, "
            f"{e.get('contact_name')!r} (from {e.get('contact_source')}){shared}, and no company "
            "domain on the profile says otherwise"
        )
    if method == "bio_domain":
        return (
            f"profile {_via(e)} {e.get('profile_url')!r} is on {e.get('company_domain')}, the domain of "
            "exactly one company, but no single contact there has this full name: a new contact "
            "was created at that company"
        )
    if method == "new_contact":
        return f"nothing matched ({e.get('reason', 'no evidence')}): a new contact carries this identity"
    return f"recorded by {method}"


def _via(evidence: dict[str, Any]) -> str:
    return {
        "bio_email": "email",
        "website_url": "website",
        "bio_url": "URL",
        "blog": "website",
        "profile_email": "public email",
        "company_org": "company (GitHub organization)",
    }.get(str(evidence.get("via")), "URL")


def _handle(platform: str, username: Any) -> str:
    if not username:
        return ""
    return f" (as @{username})" if platform == "twitter" else f" (as {username!r})"


def _as_dict(value: Any) -> dict[str, Any]:
    if isinstance(value, dict):
        return value
    try:
        parsed = json.loads(value) if value else {}
    except (TypeError, ValueError):
        return {"raw": value}
    return parsed if isinstance(parsed, dict) else {"value": parsed}
