"""Segment `identify` and `group` calls -> contacts, companies and memberships in the control DB.

- `group(userId, groupId, traits)` creates or updates the company keyed by the groupId (platform
  `segment_group`), matched by domain when the groupId is new (traits `website` / `domain`,
  `name`, `plan`, `employees`), and records that the user belongs to it.
- `identify(userId, traits)` creates or updates the contact keyed by the userId (platform
  `product`), matched by email when the userId is new (traits `email`, `name` or `firstName` +
  `lastName`, `title`, `phone`, `company`, `twitter`, `github`). Its company: the group the user
  was last seen in, else `traits.company` (its `id` as a groupId, or its name), else the company
  on the email's domain, created when the organization has none (a work domain, not gmail.com).

The newest call wins: a call older than the one last applied to that user or group (a late
delivery) changes nothing. A trait with a bad value (an email that is none) is dropped and
counted, the rest of the call still applies. CRM writes go through lib/sources/crm/upsert, so
contact.created / contact.updated / company.created reach the outbox in the same transaction.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import pandas as pd
import sqlalchemy as sa

from devsignal_pipelines.lib.sources.crm.frames import control_time, insert_missing_rows
from devsignal_pipelines.lib.sources.crm.records import RecordError, normalize_records
from devsignal_pipelines.lib.sources.crm.upsert import (
    UpsertResult,
    upsert_companies,
    upsert_contacts,
)
from devsignal_pipelines.lib.stores import control as c
from devsignal_pipelines.lib.stores.control import ControlDB

GROUP_PLATFORM = "segment_group"
PRODUCT_PLATFORM = "product"

# Segment trait names (and common variants) -> the CRM record field they fill.
_GROUP_TRAITS = {
    "name": "name",
    "website": "domain",
    "domain": "domain",
    "plan": "plan",
    "employees": "employees",
    "employee_count": "employees",
    "employeeCount": "employees",
    "description": "description",
    "createdAt": "created_at",
    "created_at": "created_at",
}
_USER_TRAITS = {
    "email": "email",
    "name": "full_name",
    "firstName": "first_name",
    "first_name": "first_name",
    "lastName": "last_name",
    "last_name": "last_name",
    "title": "title",
    "phone": "phone",
    "twitter": "twitter",
    "twitter_username": "twitter",
    "twitterUsername": "twitter",
    "github": "github",
    "github_username": "github",
    "githubUsername": "github",
    "createdAt": "created_at",
    "created_at": "created_at",
}


@dataclass
class IdentityReport:
    companies: UpsertResult = field(default_factory=lambda: UpsertResult("companies"))
    contacts: UpsertResult = field(default_factory=lambda: UpsertResult("contacts"))
    memberships: int = 0
    traits_dropped: int = 0  # trait values that were not valid (e.g. an email that is none)

    def as_metadata(self) -> dict[str, int]:
        return {
            **{f"group_{k}": v for k, v in self.companies.as_metadata().items()},
            **{f"identify_{k}": v for k, v in self.contacts.as_metadata().items()},
            "group_memberships_new": self.memberships,
            "traits_dropped": self.traits_dropped,
            "identity_webhook_events_new": self.companies.events + self.contacts.events,
        }


def apply_identities(
    control: ControlDB, organization_id: str, messages: pd.DataFrame, now: datetime
) -> IdentityReport:
    """Apply the identify and group messages of `messages` (intake rows) to the control DB."""
    report = IdentityReport()
    groups = _latest(messages[messages["type"] == "group"].dropna(subset=["group_id"]), "group_id")
    identifies = _latest(
        messages[messages["type"] == "identify"].dropna(subset=["user_id"]), "user_id"
    )
    if groups.empty and identifies.empty:
        return report
    with control.begin() as conn:
        control.lock_organization(conn, organization_id)
        if not groups.empty:
            companies, dropped = _records("companies", groups, "group_id", _GROUP_TRAITS)
            report.traits_dropped += dropped
            report.companies = upsert_companies(
                control, organization_id, companies, platform=GROUP_PLATFORM, now=now,
                conn=conn, strict=False,
            )  # fmt: skip
        members = messages[messages["type"] == "group"].dropna(subset=["group_id", "user_id"])
        report.memberships = _record_memberships(control, conn, organization_id, members)
        contacts, dropped = _records("contacts", identifies, "user_id", _USER_TRAITS)
        report.traits_dropped += dropped
        contacts = _with_membership(conn, organization_id, contacts, members)
        if not contacts.empty:
            report.contacts = upsert_contacts(
                control, organization_id, contacts, platform=PRODUCT_PLATFORM, now=now,
                conn=conn, companies_from_email=True,
            )  # fmt: skip
    return report


def _latest(frame: pd.DataFrame, key: str) -> pd.DataFrame:
    return frame.sort_values(["occurred_at", "seq"]).drop_duplicates(key, keep="last")


def _records(
    kind: str, calls: pd.DataFrame, key: str, names: dict[str, str]
) -> tuple[pd.DataFrame, int]:
    """Validated CRM records from the calls' traits; bad trait values dropped (and counted)."""
    rows: list[dict[str, Any]] = []
    for call_key, traits_text, occurred in zip(
        calls[key], calls["traits"], calls["occurred_at"], strict=True
    ):
        traits = _object(traits_text)
        record: dict[str, Any] = {"external_id": call_key, "updated_at": occurred.isoformat()}
        extra: dict[str, Any] = {}
        for trait, value in traits.items():
            target = names.get(trait)
            if target and not isinstance(value, dict | list):
                record.setdefault(target, value)
            elif kind == "contacts" and trait == "company":
                record.update(_company_trait(value))
            else:
                extra[trait] = value
        if extra:
            record["properties"] = json.dumps(extra, sort_keys=True, default=str)
        rows.append(record)
    if not rows:
        return pd.DataFrame(), 0
    frame = pd.DataFrame.from_records(rows)
    fields = frame.drop(columns=["properties", "company_group_id"], errors="ignore")
    try:
        return _reattach(normalize_records(kind, fields), frame), 0
    except RecordError as exc:
        bad = exc.errors
        for line, field_name in zip(bad["line"], bad["field"], strict=True):
            fields.loc[line - 1, field_name] = None
        return _reattach(normalize_records(kind, fields), frame), len(bad)


def _reattach(normalized: pd.DataFrame, raw: pd.DataFrame) -> pd.DataFrame:
    """Unmapped traits as the record's properties (JSON text), and `traits.company.id`."""
    normalized["properties"] = (
        raw["properties"].to_numpy() if "properties" in raw else [None] * len(raw)
    )
    if "company_group_id" in raw:
        normalized["company_group_id"] = raw["company_group_id"].to_numpy()
    return normalized


def _company_trait(value: Any) -> dict[str, Any]:
    """Segment's `traits.company`: an object {id, name, ...} or a name."""
    if isinstance(value, dict):
        out = {}
        if value.get("id") is not None:
            out["company_group_id"] = str(value["id"])
        if isinstance(value.get("name"), str):
            out["company_name"] = value["name"]
        return out
    return {"company_name": value} if isinstance(value, str) else {}


def _object(text: Any) -> dict[str, Any]:
    if not isinstance(text, str) or not text:
        return {}
    try:
        value = json.loads(text)
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def _record_memberships(
    control: ControlDB, conn: sa.Connection, organization_id: str, members: pd.DataFrame
) -> int:
    """Which user is in which group, with the latest time seen (late calls do not move it back)."""
    if members.empty:
        return 0
    latest = (
        members.sort_values(["occurred_at", "seq"])
        .drop_duplicates(["user_id", "group_id"], keep="last")
        .reset_index(drop=True)
    )
    rows = [
        (organization_id, user, group, control_time(control, stamp.to_pydatetime()))
        for user, group, stamp in zip(
            latest["user_id"], latest["group_id"], latest["occurred_at"], strict=True
        )
    ]
    inserted = insert_missing_rows(
        control,
        conn,
        c.group_memberships,
        ["organization_id", "user_id", "group_id", "observed_at"],
        rows,
    )
    m = c.group_memberships
    conn.execute(
        sa.update(m)
        .where(
            m.c.organization_id == sa.bindparam("o"),
            m.c.user_id == sa.bindparam("u"),
            m.c.group_id == sa.bindparam("g"),
            m.c.observed_at < sa.bindparam("t"),
        )
        .values(observed_at=sa.bindparam("t")),
        [
            {"o": organization_id, "u": u, "g": g, "t": t.to_pydatetime()}
            for u, g, t in zip(
                latest["user_id"], latest["group_id"], latest["occurred_at"], strict=True
            )
        ],
    )
    return inserted


def _with_membership(
    conn: sa.Connection, organization_id: str, contacts: pd.DataFrame, members: pd.DataFrame
) -> pd.DataFrame:
    """Each user's company from the group they were last seen in (this batch or before); users
    seen only in a group call get a record too, so their contact joins that company."""
    users = set(members["user_id"])
    if not contacts.empty:
        users |= set(contacts["external_id"])
    if not users:
        return contacts
    m, ci = c.group_memberships, c.company_identities
    result = conn.execute(
        sa.select(m.c.user_id, m.c.observed_at, ci.c.company_id)
        .join(
            ci,
            sa.and_(
                ci.c.organization_id == m.c.organization_id,
                ci.c.platform == GROUP_PLATFORM,
                ci.c.external_id == m.c.group_id,
            ),
        )
        .where(m.c.organization_id == organization_id, m.c.user_id.in_(sorted(users)))
    )
    memberships = pd.DataFrame(result.fetchall(), columns=["user_id", "observed_at", "company_id"])
    memberships["observed_at"] = pd.to_datetime(
        memberships["observed_at"], utc=True, format="ISO8601"
    )
    company_of = (
        memberships.sort_values(["observed_at", "company_id"])
        .drop_duplicates("user_id", keep="last")
        .set_index("user_id")["company_id"]
    )
    only_in_groups = sorted(set(members["user_id"]) - set(contacts.get("external_id", [])))
    extra = pd.DataFrame({"external_id": only_in_groups})
    if not extra.empty:
        extra = normalize_records("contacts", extra)
        extra["updated_at"] = pd.Series(pd.NaT, index=extra.index, dtype="datetime64[ns, UTC]")
    frame = pd.concat([contacts, extra], ignore_index=True) if not contacts.empty else extra
    frame["company_id"] = frame["external_id"].map(company_of)
    group_ids = frame.get("company_group_id")
    if group_ids is not None:
        by_group = _group_companies(conn, organization_id)
        frame["company_id"] = frame["company_id"].where(
            frame["company_id"].notna(), group_ids.map(by_group)
        )
    return frame


def _group_companies(conn: sa.Connection, organization_id: str) -> pd.Series:
    ci = c.company_identities
    result = conn.execute(
        sa.select(ci.c.external_id, ci.c.company_id).where(
            ci.c.organization_id == organization_id, ci.c.platform == GROUP_PLATFORM
        )
    )
    frame = pd.DataFrame(result.fetchall(), columns=["external_id", "company_id"])
    return frame.set_index("external_id")["company_id"]
