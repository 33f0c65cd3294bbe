"""Read and delete one CRM record by the organization's own id (GET / DELETE /api/v1/{kind}/{id})."""

from __future__ import annotations

import json
from typing import Any

import sqlalchemy as sa

from devsignal_pipelines.lib.sources.crm.upsert import (
    COMPANY_COLUMNS,
    CONTACT_COLUMNS,
    DEAL_COLUMNS,
    new_deal_id,
)
from devsignal_pipelines.lib.stores import control as c
from devsignal_pipelines.lib.stores.control import ControlDB
from devsignal_pipelines.lib.webhooks.events import jsonable

_FIELDS = {
    "companies": COMPANY_COLUMNS,
    "contacts": (*CONTACT_COLUMNS, "source"),
    "deals": DEAL_COLUMNS,
}
_TABLES = {"companies": c.companies, "contacts": c.contacts, "deals": c.deals}


def _record_id(
    conn: sa.Connection, organization_id: str, kind: str, external_id: str
) -> str | None:
    if kind == "deals":
        return new_deal_id(organization_id, external_id)
    table, target, key = (
        (c.company_identities, "company_id", "external_id")
        if kind == "companies"
        else (c.contact_identities, "contact_id", "platform_user_id")
    )
    return conn.execute(
        sa.select(table.c[target]).where(
            table.c.organization_id == organization_id,
            table.c.platform == "crm",
            table.c[key] == external_id,
        )
    ).scalar()


def get_record(
    control: ControlDB, organization_id: str, kind: str, external_id: str
) -> dict[str, Any] | None:
    """The record as stored (DevSignal id, the CRM id, fields, times), or None."""
    table = _TABLES[kind]
    with control.engine.connect() as conn:
        record_id = _record_id(conn, organization_id, kind, external_id)
        if record_id is None:
            return None
        row = conn.execute(
            sa.select(table).where(
                table.c.id == record_id, table.c.organization_id == organization_id
            )
        ).first()
        if row is None:
            return None
        values = row._mapping
        out: dict[str, Any] = {"id": record_id, "external_id": external_id}
        for name in (*_FIELDS[kind], "created_at", "updated_at"):
            value = values[name]
            out[name] = jsonable(
                value if not isinstance(value, str) or name != "properties" else json.loads(value)
            )
        if kind == "deals":
            history = conn.execute(
                sa.select(c.deal_stage_changes.c.from_stage, c.deal_stage_changes.c.to_stage,
                          c.deal_stage_changes.c.changed_at)
                .where(c.deal_stage_changes.c.deal_id == record_id)
                .order_by(c.deal_stage_changes.c.changed_at, c.deal_stage_changes.c.id)
            )  # fmt: skip
            out["stage_history"] = [
                {"from": r.from_stage, "to": r.to_stage, "changed_at": jsonable(r.changed_at)}
                for r in history
            ]
    return out


def delete_record(control: ControlDB, organization_id: str, kind: str, external_id: str) -> bool:
    """Forget the CRM's record: its key goes; the company or contact itself goes too unless
    another key still names it (a Segment groupId / userId). A deal is deleted with its history.
    Returns False when no such record exists."""
    with control.begin() as conn:
        record_id = _record_id(conn, organization_id, kind, external_id)
        if record_id is None:
            return False
        if kind == "deals":
            deleted = conn.execute(
                sa.delete(c.deals).where(
                    c.deals.c.id == record_id, c.deals.c.organization_id == organization_id
                )
            ).rowcount
        else:
            table, target, key = (
                (c.company_identities, "company_id", "external_id")
                if kind == "companies"
                else (c.contact_identities, "contact_id", "platform_user_id")
            )
            conn.execute(
                sa.delete(table).where(
                    table.c.organization_id == organization_id,
                    table.c.platform == "crm",
                    table.c[key] == external_id,
                )
            )
            stated = ["segment_group"] if kind == "companies" else ["product"]
            others = conn.execute(
                sa.select(sa.func.count()).where(
                    table.c.organization_id == organization_id,
                    table.c[target] == record_id,
                    table.c.platform.in_(stated),
                )
            ).scalar_one()
            deleted = 1
            if not others:
                conn.execute(sa.delete(_TABLES[kind]).where(_TABLES[kind].c.id == record_id))
        control.touch_source(conn, organization_id, "crm")
    return bool(deleted)
