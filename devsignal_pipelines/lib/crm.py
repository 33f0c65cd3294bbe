"""Read an organization's CRM side from the control DB as DataFrames for the warehouse."""

from __future__ import annotations

import pandas as pd
import sqlalchemy as sa

from devsignal_pipelines.lib.stores import control as c
from devsignal_pipelines.lib.stores.control import ControlDB


def _utc(frame: pd.DataFrame, *columns: str) -> pd.DataFrame:
    # SQLite hands back naive datetimes; every stored time is UTC.
    for column in columns:
        frame[column] = pd.to_datetime(frame[column], utc=True)
    return frame


def companies_frame(control: ControlDB, organization_id: str) -> pd.DataFrame:
    frame = control.read_df(
        sa.select(
            c.companies.c.organization_id,
            c.companies.c.id.label("company_id"),
            c.companies.c.name,
            sa.func.lower(c.companies.c.domain).label("domain"),
            c.companies.c.created_at,
        )
        .where(c.companies.c.organization_id == organization_id)
        .order_by(c.companies.c.id)
    )
    return _utc(frame, "created_at")


def contacts_frame(control: ControlDB, organization_id: str) -> pd.DataFrame:
    frame = control.read_df(
        sa.select(
            c.contacts.c.organization_id,
            c.contacts.c.id.label("contact_id"),
            c.contacts.c.company_id,
            c.contacts.c.full_name,
            c.contacts.c.email,
            c.contacts.c.source,
            c.contacts.c.created_at,
        )
        .where(c.contacts.c.organization_id == organization_id)
        .order_by(c.contacts.c.id)
    )
    return _utc(frame, "created_at")


def identities_frame(control: ControlDB, organization_id: str, platform: str) -> pd.DataFrame:
    """Recorded identities joined to their contact's company."""
    ident = c.contact_identities
    frame = control.read_df(
        sa.select(
            ident.c.organization_id,
            ident.c.platform,
            ident.c.platform_user_id,
            ident.c.contact_id,
            c.contacts.c.company_id,
            ident.c.username,
            ident.c.method,
            ident.c.confidence,
            ident.c.evidence,
            ident.c.created_at,
        )
        .join(
            c.contacts,
            (c.contacts.c.id == ident.c.contact_id)
            & (c.contacts.c.organization_id == ident.c.organization_id),
        )
        .where(ident.c.organization_id == organization_id, ident.c.platform == platform)
    )
    return _utc(frame, "created_at")


def product_signals_frame(control: ControlDB, organization_id: str) -> pd.DataFrame:
    ps = c.product_signals
    frame = control.read_df(
        sa.select(
            ps.c.id,
            ps.c.organization_id,
            ps.c.signal_type,
            ps.c.occurred_at,
            ps.c.contact_id,
            sa.func.coalesce(ps.c.company_id, c.contacts.c.company_id).label("company_id"),
            ps.c.properties,
            ps.c.recorded_at,
        )
        .outerjoin(c.contacts, c.contacts.c.id == ps.c.contact_id)
        .where(ps.c.organization_id == organization_id)
    )
    return _utc(frame, "occurred_at", "recorded_at")
