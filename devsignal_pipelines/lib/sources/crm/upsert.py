"""Write validated CRM records into the control DB, with their webhook events, in one transaction.

The organization's own ids are the keys: a company or contact is found by its CRM id (or Segment
groupId / userId) through `company_identities` / `contact_identities`, else by domain / email,
else created with an id derived from (organization, platform, external id), so a retried request
or a re-imported file never creates a twin. Fields that are sent replace the stored ones; fields
left out keep their value (`properties` are merged key by key).

`company.created`, `contact.created`, `contact.updated`, `deal.created` and every
`deal.stage_changed` go to the webhook outbox in the same control-DB transaction as the change:
immediately, one event per transition, with deterministic ids (the warehouse's later diff of
core.companies / core.contacts computes the same ids for `*.created`, so nothing is sent twice).
Everything is set-based: one read per table, pandas merges, bulk inserts and updates.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import pandas as pd
import sqlalchemy as sa

from devsignal_pipelines.lib.identity.rules import new_contact_id
from devsignal_pipelines.lib.sources.crm.frames import (
    control_time,
    insert_missing_rows,
    update_rows,
)
from devsignal_pipelines.lib.sources.crm.records import work_email_domain
from devsignal_pipelines.lib.stores import control as c
from devsignal_pipelines.lib.stores.control import ControlDB
from devsignal_pipelines.lib.webhooks.events import Event, jsonable
from devsignal_pipelines.lib.webhooks.outbox import write_events

COMPANY_COLUMNS = ("name", "domain", "description", "plan", "employees", "properties")
CONTACT_COLUMNS = (
    "full_name",
    "email",
    "company_id",
    "title",
    "phone",
    "twitter_handle",
    "github_handle",
    "properties",
)
DEAL_COLUMNS = (
    "name",
    "stage",
    "amount",
    "currency",
    "close_date",
    "pipeline",
    "company_id",
    "properties",
)
# Platform ids a CRM contact can carry: they become identities, found by identity resolution.
_PLATFORM_ID_FIELDS = {
    "twitter_user_id": "twitter",
    "stackoverflow_user_id": "stackoverflow",
    "github_user_id": "github",
}


class ConflictError(ValueError):
    """Records that contradict what is stored (e.g. a domain that belongs to another company)."""

    def __init__(self, kind: str, problems: list[tuple[int, str, str]]):
        self.kind = kind
        self.problems = problems  # (line, field, message)
        line, _, message = problems[0]
        more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
        super().__init__(f"{kind}: line {line}: {message}{more}")

    def lines(self, limit: int = 20) -> list[str]:
        shown = [f"line {line}: {message}" for line, _, message in self.problems[:limit]]
        if len(self.problems) > limit:
            shown.append(f"... and {len(self.problems) - limit} more problems")
        return shown


@dataclass
class UpsertResult:
    """What one upsert did. `ids` maps each external id to the record's DevSignal id."""

    kind: str
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    stale: int = 0  # older than the record last applied through its key: a late delivery
    conflicts_ignored: int = 0  # lenient writes: values left as stored (a domain another holds)
    events: int = 0  # new in the outbox
    companies_created: int = 0  # contacts: companies created from work-email domains
    stage_changes: int = 0
    ids: dict[str, str] = field(default_factory=dict)
    created_ids: set[str] = field(default_factory=set)

    def as_metadata(self) -> dict[str, int]:
        prefix = self.kind
        out = {
            f"{prefix}_created": self.created,
            f"{prefix}_updated": self.updated,
            f"{prefix}_unchanged": self.unchanged,
        }
        if self.stale:
            out[f"{prefix}_stale"] = self.stale
        if self.conflicts_ignored:
            out[f"{prefix}_conflicts_ignored"] = self.conflicts_ignored
        if self.companies_created:
            out["companies_created_from_email_domains"] = self.companies_created
        if self.stage_changes:
            out["deal_stage_changes"] = self.stage_changes
        return out


def _md5_uuid(text: str) -> str:
    digest = hashlib.md5(text.encode()).hexdigest()
    return f"{digest[:8]}-{digest[8:12]}-{digest[12:16]}-{digest[16:20]}-{digest[20:]}"


def new_company_id(organization_id: str, platform: str, external_id: str) -> str:
    return _md5_uuid(f"devsignal-company:{organization_id}:{platform}:{external_id}")


def new_deal_id(organization_id: str, external_id: str) -> str:
    return _md5_uuid(f"devsignal-deal:{organization_id}:crm:{external_id}")


@contextmanager
def _transaction(control: ControlDB, conn: sa.Connection | None) -> Iterator[sa.Connection]:
    if conn is not None:
        yield conn
    else:
        with control.begin() as tx:
            yield tx


def _read(conn: sa.Connection, statement: sa.Executable) -> pd.DataFrame:
    result = conn.execute(statement)
    return pd.DataFrame(result.fetchall(), columns=list(result.keys()))


def _utc(values: pd.Series) -> pd.Series:
    return pd.to_datetime(values, utc=True, format="ISO8601")


def _json_text(value: Any) -> str | None:
    if value is None or (isinstance(value, float) and value != value):
        return None
    if isinstance(value, str):
        return value
    return json.dumps(value, sort_keys=True, default=str)


def _merge_properties(old: pd.Series, new: pd.Series) -> pd.Series:
    """Key-by-key merge of JSON objects (new keys win); only rows that sent properties change."""
    merged = [_json_text(v) for v in old.astype(object).tolist()]
    for position, sent in enumerate(new.astype(object).tolist()):
        if _json_text(sent) is None:
            continue
        before = json.loads(merged[position]) if merged[position] else {}
        before.update(json.loads(_json_text(sent)))
        merged[position] = json.dumps(before, sort_keys=True)
    return pd.Series(merged, index=old.index, dtype=object)


def _take(frame: pd.DataFrame, new: pd.DataFrame, columns: tuple[str, ...]) -> pd.DataFrame:
    """`frame`'s values, replaced by `new`'s wherever `new` has one (same index)."""
    out = frame.copy()
    for column in columns:
        if column in new.columns and column != "properties":
            out[column] = new[column].where(new[column].notna(), out[column])
    if "properties" in columns:
        out["properties"] = _merge_properties(out["properties"], new["properties"])
    return out


def _plain_values(values: pd.Series, parse_json: bool = False) -> list[Any]:
    """Python values to compare (lists, not Series.map: a `str` column turns None back to NaN)."""
    out = [jsonable(v) for v in values.astype(object).tolist()]
    if parse_json:
        out = [json.loads(v) if isinstance(v, str) else v for v in out]
    return out


def _differs(a: pd.DataFrame, b: pd.DataFrame, columns: tuple[str, ...]) -> pd.Series:
    """Per row: does any of `columns` differ between a and b (NULL = NULL; JSON by value)?"""
    changed = pd.Series(False, index=a.index)
    for column in columns:
        left = _plain_values(a[column], parse_json=column == "properties")
        right = _plain_values(b[column], parse_json=column == "properties")
        changed |= pd.Series([x != y for x, y in zip(left, right, strict=True)], index=a.index)
    return changed


def _rows(control: ControlDB, frame: pd.DataFrame, columns: list[str]) -> list[tuple]:
    """Plain tuples for the bulk writers: timestamps as the control DB stores them, None for NA."""
    out = frame[columns].astype(object)
    for column in columns:
        if pd.api.types.is_datetime64_any_dtype(frame[column]):
            out[column] = pd.Series(  # object: a list of datetimes would turn back into NaT
                [
                    None if pd.isna(v) else control_time(control, v.to_pydatetime())
                    for v in frame[column]
                ],
                index=out.index,
                dtype=object,
            )
        elif column == "properties":
            out[column] = frame[column].map(_json_text)
    out = out.where(out.notna(), None)
    return [
        tuple(None if isinstance(v, float) and v != v else _plain_int(v) for v in row)
        for row in out.itertuples(index=False, name=None)
    ]


def _plain_int(value: Any) -> Any:
    return int(value) if hasattr(value, "item") and isinstance(value.item(), int) else value


def _event_data(row: dict[str, Any], drop: tuple[str, ...] = ()) -> dict[str, Any]:
    data = {k: v for k, v in row.items() if k not in ("organization_id", *drop)}
    if isinstance(data.get("properties"), str):
        data["properties"] = json.loads(data["properties"])
    return data


def _company_events(organization_id: str, created: pd.DataFrame, now: datetime) -> list[Event]:
    return [
        Event.build(
            organization_id,
            "company.created",
            (row["company_id"],),
            row["created_at"].to_pydatetime() if pd.notna(row["created_at"]) else now,
            _event_data(row),
        )
        for row in created.to_dict("records")
    ]


# --- companies ----------------------------------------------------------------------------------


def _company_state(conn: sa.Connection, organization_id: str) -> pd.DataFrame:
    co = c.companies
    frame = _read(
        conn,
        sa.select(
            co.c.id.label("company_id"),
            co.c.name,
            sa.func.lower(co.c.domain).label("domain"),
            co.c.description,
            co.c.plan,
            co.c.employees,
            sa.cast(co.c.properties, sa.Text).label("properties"),
            co.c.created_at,
            co.c.updated_at,
        ).where(co.c.organization_id == organization_id),
    )
    for column in ("created_at", "updated_at"):
        frame[column] = _utc(frame[column])
    frame["employees"] = frame["employees"].astype("Int64")
    return frame


def _identities(
    conn: sa.Connection, table: sa.Table, key: str, target: str, organization_id: str, platform: str
) -> pd.DataFrame:
    frame = _read(
        conn,
        sa.select(
            table.c[key].label("external_id"), table.c[target].label(target), table.c.updated_at
        ).where(table.c.organization_id == organization_id, table.c.platform == platform),
    )
    frame["updated_at"] = _utc(frame["updated_at"])
    return frame


def upsert_companies(
    control: ControlDB,
    organization_id: str,
    records: pd.DataFrame,
    *,
    platform: str = "crm",
    now: datetime | None = None,
    conn: sa.Connection | None = None,
    strict: bool = True,
) -> UpsertResult:
    """Companies keyed by the organization's `external_id` on `platform` ('crm' or
    'segment_group'), matched by domain when the key is new.

    A record whose `updated_at` is older than the one last applied through its key is skipped
    (a late delivery). `strict` (CRM writes): a new company without a name or domain, or a
    domain another company holds, is refused with ConflictError. Otherwise (Segment `group`
    calls, which cannot be answered) the company is created anyway and a clashing domain is
    left as stored, counted in `conflicts_ignored`.
    """
    now = now or datetime.now(UTC)
    result = UpsertResult("companies")
    if records.empty:
        return result
    with _transaction(control, conn) as tx:
        control.lock_organization(tx, organization_id)
        state = _company_state(tx, organization_id)
        known = _identities(
            tx, c.company_identities, "external_id", "company_id", organization_id, platform
        )
        batch = records.reset_index(drop=True).merge(
            known.rename(columns={"updated_at": "applied_at"}), on="external_id", how="left"
        )
        batch, result.stale = _drop_late(batch)
        if batch.empty:
            return result
        by_domain = state.dropna(subset=["domain"]).drop_duplicates("domain").set_index("domain")
        domain_match = batch["domain"].map(by_domain["company_id"])
        batch["company_id"] = batch["company_id"].where(batch["company_id"].notna(), domain_match)
        # New companies: the first record naming a domain creates it, the others link to it.
        fresh = batch["company_id"].isna()
        minted = pd.Series(
            [new_company_id(organization_id, platform, x) for x in batch.loc[fresh, "external_id"]],
            index=batch.index[fresh],
            dtype=object,
        )
        first_by_domain = minted.groupby(batch.loc[fresh, "domain"]).transform("first")
        minted = first_by_domain.where(batch.loc[fresh, "domain"].notna(), minted)
        batch.loc[fresh, "company_id"] = minted
        result.ids = dict(zip(batch["external_id"], batch["company_id"], strict=True))
        clashes = _domain_clashes(batch, state)
        if strict and not clashes.empty:
            raise ConflictError("companies", list(clashes.itertuples(index=False, name=None)))
        batch.loc[batch["line"].isin(clashes["line"]), "domain"] = None
        result.conflicts_ignored = len(clashes)

        latest = batch.drop_duplicates("company_id", keep="last").set_index("company_id")
        existing = state.set_index("company_id")
        old = existing.reindex(latest.index[latest.index.isin(existing.index)])
        merged = _take(old, latest.loc[old.index], COMPANY_COLUMNS)
        changed = _differs(old, merged, COMPANY_COLUMNS)
        updated = merged[changed].assign(
            updated_at=latest.loc[merged.index[changed], "updated_at"].fillna(now)
        )
        new = latest.loc[~latest.index.isin(existing.index)].copy()
        if strict:
            _require_new(
                new, "companies", ("name", "domain"), "a new company needs a name or domain"
            )
        new["created_at"] = new["created_at"].fillna(new["updated_at"]).fillna(pd.Timestamp(now))
        new["updated_at"] = new["updated_at"].fillna(pd.Timestamp(now))
        new = new.reset_index()
        new["organization_id"] = organization_id
        insert_cols = [
            "company_id",
            "organization_id",
            *COMPANY_COLUMNS,
            "created_at",
            "updated_at",
        ]
        rows = _rows(control, new, insert_cols)
        insert_missing_rows(control, tx, c.companies, ["id", *insert_cols[1:]], rows)
        update_rows(
            control,
            tx,
            c.companies,
            ["id"],
            [*COMPANY_COLUMNS, "updated_at"],
            _rows(control, updated.reset_index(), ["company_id", *COMPANY_COLUMNS, "updated_at"]),
        )
        _write_identities(
            control, tx, c.company_identities, "external_id", "company_id",
            organization_id, platform, batch, now,
        )  # fmt: skip
        result.created = len(new)
        result.created_ids = set(new["company_id"])
        result.updated = int(changed.sum())
        result.unchanged = len(latest) - result.created - result.updated
        result.events = write_events(
            control,
            _company_events(
                organization_id,
                new[["company_id", *COMPANY_COLUMNS, "created_at", "updated_at"]].assign(
                    source=platform
                ),
                now,
            ),
            now,
            conn=tx,
        )
    return result


def _drop_late(batch: pd.DataFrame) -> tuple[pd.DataFrame, int]:
    """Records older than the last one applied through the same key: a late delivery, skipped
    so that the newest change wins whatever order they arrive in.

    Only the source's own times are compared (the record's `updated_at` against the time of the
    record last applied through that key, `applied_at`); a record without a time always applies.
    """
    late = (
        batch["applied_at"].notna()
        & batch["updated_at"].notna()
        & (batch["updated_at"] < batch["applied_at"])
    )
    return batch[~late].reset_index(drop=True), int(late.sum())


def _require_new(new: pd.DataFrame, kind: str, any_of: tuple[str, ...], message: str) -> None:
    """Records that would create a row must carry what a row needs (an update need not)."""
    missing = new[list(any_of)].isna().all(axis=1)
    if missing.any():
        field_name = any_of[0]
        raise ConflictError(
            kind, [(int(line), field_name, message) for line in new.loc[missing, "line"]]
        )


def _domain_clashes(batch: pd.DataFrame, state: pd.DataFrame) -> pd.DataFrame:
    """(line, field, message) of the records that would move a company onto a domain another
    company holds (stored, or named by another record of the batch)."""
    owners = state.dropna(subset=["domain"]).set_index("domain")["company_id"]
    wanted = batch.dropna(subset=["domain"])
    owner = wanted["domain"].map(owners)
    clash = owner.notna() & (owner != wanted["company_id"])
    in_batch = wanted.groupby("domain")["company_id"].transform("nunique") > 1
    problems = [
        (int(row.line), "domain", f"domain {row.domain!r} already belongs to another company "
         "(send that company's id, or a different domain)")
        for row in wanted[clash | in_batch].itertuples()
    ]  # fmt: skip
    return pd.DataFrame(problems, columns=["line", "field", "message"])


def _write_identities(
    control: ControlDB,
    conn: sa.Connection,
    table: sa.Table,
    key: str,
    target: str,
    organization_id: str,
    platform: str,
    batch: pd.DataFrame,
    now: datetime,
    extra: dict[str, Any] | None = None,
) -> None:
    """Insert the identities that are new; `updated_at` is the source's time of the newest record
    applied through the key (moved forward, never back; NULL while none came with a time)."""
    stamps = batch["updated_at"]
    frame = pd.DataFrame(
        {
            "organization_id": organization_id,
            "platform": platform,
            key: batch["external_id"],
            target: batch[target],
            "created_at": pd.Timestamp(now),
            "updated_at": stamps,
            **(extra or {}),
        }
    ).drop_duplicates([key], keep="last")
    columns = list(frame.columns)
    insert_missing_rows(control, conn, table, columns, _rows(control, frame, columns))
    applied = frame.merge(
        batch[["external_id", "applied_at"]].drop_duplicates("external_id", keep="last"),
        left_on=key,
        right_on="external_id",
        how="left",
    )
    moves_forward = applied["updated_at"].notna() & (
        applied["applied_at"].isna() | (applied["updated_at"] > applied["applied_at"])
    )
    newer = frame[moves_forward.to_numpy()]
    update_rows(
        control,
        conn,
        table,
        ["organization_id", "platform", key],
        ["updated_at"],
        _rows(control, newer, ["organization_id", "platform", key, "updated_at"]),
    )


# --- contacts -----------------------------------------------------------------------------------


def _contact_state(conn: sa.Connection, organization_id: str) -> pd.DataFrame:
    ct = c.contacts
    frame = _read(
        conn,
        sa.select(
            ct.c.id.label("contact_id"),
            ct.c.full_name,
            sa.func.lower(ct.c.email).label("email"),
            ct.c.company_id,
            ct.c.title,
            ct.c.phone,
            ct.c.twitter_handle,
            ct.c.github_handle,
            sa.cast(ct.c.properties, sa.Text).label("properties"),
            ct.c.source,
            ct.c.created_at,
            ct.c.updated_at,
        ).where(ct.c.organization_id == organization_id),
    )
    for column in ("created_at", "updated_at"):
        frame[column] = _utc(frame[column])
    return frame


def _resolve_companies(
    conn: sa.Connection, organization_id: str, batch: pd.DataFrame, companies: pd.DataFrame
) -> pd.Series:
    """The company each record names: CRM company id, domain, unique name, in that order."""
    crm_ids = _identities(
        conn, c.company_identities, "external_id", "company_id", organization_id, "crm"
    ).set_index("external_id")["company_id"]
    by_domain = companies.dropna(subset=["domain"]).drop_duplicates("domain")
    by_domain = by_domain.set_index("domain")["company_id"]
    names = companies.dropna(subset=["name"]).assign(
        key=lambda f: f["name"].str.strip().str.lower()
    )
    unique_names = names.drop_duplicates("key", keep=False).set_index("key")["company_id"]
    found = batch.get("company_id", pd.Series(None, index=batch.index, dtype=object)).copy()
    for candidates in (
        batch["company_external_id"].map(crm_ids) if "company_external_id" in batch else None,
        batch["company_domain"].map(by_domain) if "company_domain" in batch else None,
        batch["company_name"].str.strip().str.lower().map(unique_names)
        if "company_name" in batch
        else None,
    ):
        if candidates is not None:
            found = found.where(found.notna(), candidates)
    return found


def upsert_contacts(
    control: ControlDB,
    organization_id: str,
    records: pd.DataFrame,
    *,
    platform: str = "crm",
    now: datetime | None = None,
    conn: sa.Connection | None = None,
    companies_from_email: bool = False,
) -> UpsertResult:
    """Contacts keyed by the organization's `external_id` on `platform` ('crm', or 'product' for
    Segment userIds), matched by email when the key is new. A record older than the one last
    applied through its key is skipped (a late delivery).

    A record's company: an explicit `company_id` column (Segment group membership), else its CRM
    company id, domain or unique name; a contact without one gets the company on its work-email
    domain. `companies_from_email` creates that company when the organization has none yet
    (`identify` of a new user). `twitter_user_id` / `stackoverflow_user_id` become identities.
    """
    now = now or datetime.now(UTC)
    result = UpsertResult("contacts")
    if records.empty:
        return result
    with _transaction(control, conn) as tx:
        control.lock_organization(tx, organization_id)
        batch = records.reset_index(drop=True).copy()
        companies = _company_state(tx, organization_id)
        batch["explicit_company"] = _resolve_companies(tx, organization_id, batch, companies)
        batch["email_domain"] = work_email_domain(batch["email"])
        if companies_from_email:
            created, result.events = _companies_for_domains(
                control, tx, organization_id, batch, companies, now
            )
            result.companies_created = len(created)
            companies = _company_state(tx, organization_id)
        by_domain = companies.dropna(subset=["domain"]).drop_duplicates("domain")
        batch["email_company"] = batch["email_domain"].map(
            by_domain.set_index("domain")["company_id"]
        )

        state = _contact_state(tx, organization_id)
        known = _identities(
            tx, c.contact_identities, "platform_user_id", "contact_id", organization_id, platform
        )
        batch = batch.merge(
            known.rename(columns={"updated_at": "applied_at"}), on="external_id", how="left"
        )
        batch, result.stale = _drop_late(batch)
        if batch.empty:
            return result
        # Unknown key: the contact with that email, else a new contact.
        emails = state.dropna(subset=["email"]).sort_values(["source", "contact_id"])
        by_email = emails.drop_duplicates("email").set_index("email")["contact_id"]
        matched = batch["email"].map(by_email)
        batch["method"] = "crm" if platform == "crm" else "identify"
        batch.loc[batch["contact_id"].isna() & matched.notna(), "method"] = "email"
        batch["contact_id"] = batch["contact_id"].where(batch["contact_id"].notna(), matched)
        fresh = batch["contact_id"].isna()
        minted = pd.Series(
            [new_contact_id(organization_id, platform, x) for x in batch.loc[fresh, "external_id"]],
            index=batch.index[fresh],
            dtype=object,
        )
        minted = minted.groupby(batch.loc[fresh, "email"].fillna(minted)).transform("first")
        batch.loc[fresh, "contact_id"] = minted
        result.ids = dict(zip(batch["external_id"], batch["contact_id"], strict=True))

        batch["twitter_handle"] = batch.get("twitter")
        batch["github_handle"] = batch.get("github")
        latest = batch.drop_duplicates("contact_id", keep="last").set_index("contact_id")
        existing = state.set_index("contact_id")
        known_ids = latest.index.isin(existing.index)
        old = existing.loc[latest.index[known_ids]]
        incoming = latest.loc[old.index].copy()
        # An explicit company replaces the stored one; a work-email domain only fills a blank.
        incoming["company_id"] = incoming["explicit_company"].where(
            incoming["explicit_company"].notna(),
            incoming["email_company"].where(old["company_id"].isna(), None),
        )
        merged = _take(old, incoming, CONTACT_COLUMNS)
        changed = _differs(old, merged, CONTACT_COLUMNS)
        updated = merged[changed].assign(
            updated_at=incoming.loc[merged.index[changed], "updated_at"].fillna(pd.Timestamp(now))
        )
        new = latest.loc[~known_ids].copy()
        new["company_id"] = new["explicit_company"].where(
            new["explicit_company"].notna(), new["email_company"]
        )
        new["created_at"] = new["created_at"].fillna(new["updated_at"]).fillna(pd.Timestamp(now))
        new["updated_at"] = new["updated_at"].fillna(pd.Timestamp(now))
        new["source"] = "crm" if platform == "crm" else "product"
        new = new.reset_index()
        new["organization_id"] = organization_id
        insert_cols = [
            "contact_id",
            "organization_id",
            *CONTACT_COLUMNS,
            "source",
            "created_at",
            "updated_at",
        ]
        insert_missing_rows(
            control, tx, c.contacts, ["id", *insert_cols[1:]], _rows(control, new, insert_cols)
        )
        update_rows(
            control,
            tx,
            c.contacts,
            ["id"],
            [*CONTACT_COLUMNS, "updated_at"],
            _rows(control, updated.reset_index(), ["contact_id", *CONTACT_COLUMNS, "updated_at"]),
        )
        evidence = batch["email"].map(
            lambda e: json.dumps({"email": e}) if isinstance(e, str) else "{}"
        )
        _write_identities(
            control, tx, c.contact_identities, "platform_user_id", "contact_id",
            organization_id, platform, batch, now,
            extra={"method": batch["method"], "confidence": 1.0,
                   "evidence": evidence.where(batch["method"] == "email", "{}")},
        )  # fmt: skip
        _write_platform_ids(control, tx, organization_id, batch, now)

        result.created = len(new)
        result.created_ids = set(new["contact_id"])
        result.updated = int(changed.sum())
        result.unchanged = len(latest) - result.created - result.updated
        events = [
            Event.build(
                organization_id,
                "contact.created",
                (row["contact_id"],),
                row["created_at"].to_pydatetime(),
                _event_data(row),
            )
            for row in new[
                ["contact_id", *CONTACT_COLUMNS, "source", "created_at", "updated_at"]
            ].to_dict("records")
        ]
        events += _contact_updates(organization_id, old[changed], merged[changed], updated, now)
        result.events += write_events(control, events, now, conn=tx)
    return result


def _contact_updates(
    organization_id: str,
    old: pd.DataFrame,
    new: pd.DataFrame,
    stamps: pd.DataFrame,
    now: datetime,
) -> list[Event]:
    events = []
    for contact_id in new.index:
        before = {col: jsonable(old.at[contact_id, col]) for col in CONTACT_COLUMNS}
        after = {col: jsonable(new.at[contact_id, col]) for col in CONTACT_COLUMNS}
        for state in (before, after):
            if isinstance(state["properties"], str):
                state["properties"] = json.loads(state["properties"])
        changed = [col for col in CONTACT_COLUMNS if before[col] != after[col]]
        updated_at = jsonable(stamps.at[contact_id, "updated_at"])
        data = {"contact_id": contact_id, **after, "updated_at": updated_at}
        data["changed_fields"] = changed
        data["previous"] = {col: before[col] for col in changed}
        parts = (
            contact_id,
            json.dumps(before, sort_keys=True),
            json.dumps(after, sort_keys=True),
            updated_at,
        )
        events.append(Event.build(organization_id, "contact.updated", parts, now, data))
    return events


def _companies_for_domains(
    control: ControlDB,
    conn: sa.Connection,
    organization_id: str,
    batch: pd.DataFrame,
    companies: pd.DataFrame,
    now: datetime,
) -> tuple[pd.DataFrame, int]:
    """Companies for work-email domains no company has yet (records without a company), and
    how many company.created events that added to the outbox."""
    domains = batch.loc[batch["explicit_company"].isna(), "email_domain"].dropna()
    missing = sorted(set(domains) - set(companies["domain"].dropna()))
    if not missing:
        return pd.DataFrame(), 0
    new = pd.DataFrame(
        {
            "company_id": [new_company_id(organization_id, "email_domain", d) for d in missing],
            "organization_id": organization_id,
            "name": None,
            "domain": missing,
            "description": None,
            "plan": None,
            "employees": None,
            "properties": None,
            "created_at": pd.Timestamp(now),
            "updated_at": pd.Timestamp(now),
        }
    )
    columns = list(new.columns)
    insert_missing_rows(
        control, conn, c.companies, ["id", *columns[1:]], _rows(control, new, columns)
    )
    events = write_events(
        control,
        _company_events(
            organization_id, new.drop(columns="organization_id").assign(source="email_domain"), now
        ),
        now,
        conn=conn,
    )
    return new, events


def _write_platform_ids(
    control: ControlDB,
    conn: sa.Connection,
    organization_id: str,
    batch: pd.DataFrame,
    now: datetime,
) -> None:
    """CRM-known X / Stack Overflow / GitHub user ids: identities resolution finds by permanent id."""
    for column, platform in _PLATFORM_ID_FIELDS.items():
        if column not in batch:
            continue
        rows = batch.dropna(subset=[column])
        if rows.empty:
            continue
        handle = {"twitter": "twitter", "github": "github"}.get(platform)
        username = rows[handle] if handle and handle in rows else None
        frame = pd.DataFrame(
            {
                "organization_id": organization_id,
                "platform": platform,
                "platform_user_id": rows[column],
                "contact_id": rows["contact_id"],
                "username": username,
                "method": "crm",
                "confidence": 1.0,
                "evidence": "{}",
                "created_at": pd.Timestamp(now),
            }
        )
        columns = list(frame.columns)
        insert_missing_rows(
            control, conn, c.contact_identities, columns, _rows(control, frame, columns)
        )


# --- deals --------------------------------------------------------------------------------------


def upsert_deals(
    control: ControlDB,
    organization_id: str,
    records: pd.DataFrame,
    *,
    now: datetime | None = None,
    conn: sa.Connection | None = None,
) -> UpsertResult:
    """Deals keyed by the CRM's id; every stage change is recorded with its time (the record's
    `updated_at`, else now) and sent as `deal.stage_changed`; a new deal as `deal.created`."""
    now = now or datetime.now(UTC)
    result = UpsertResult("deals")
    if records.empty:
        return result
    d = c.deals
    with _transaction(control, conn) as tx:
        control.lock_organization(tx, organization_id)
        batch = records.reset_index(drop=True).copy()
        batch["deal_id"] = [new_deal_id(organization_id, x) for x in batch["external_id"]]
        companies = _company_state(tx, organization_id)
        batch["company_id"] = _resolve_companies(tx, organization_id, batch, companies)
        result.ids = dict(zip(batch["external_id"], batch["deal_id"], strict=True))
        state = _read(
            tx,
            sa.select(
                d.c.id.label("deal_id"),
                *(d.c[col] for col in DEAL_COLUMNS if col != "properties"),
                sa.cast(d.c.properties, sa.Text).label("properties"),
                d.c.created_at,
                d.c.updated_at,
                d.c.source_updated_at.label("applied_at"),
            ).where(d.c.organization_id == organization_id),
        )
        for column in ("created_at", "updated_at", "close_date", "applied_at"):
            state[column] = _utc(state[column])
        batch = batch.merge(state[["deal_id", "applied_at"]], on="deal_id", how="left")
        batch, result.stale = _drop_late(batch)
        latest = batch.drop_duplicates("deal_id", keep="last").set_index("deal_id")
        existing = state.drop(columns="applied_at").set_index("deal_id")
        known = latest.index.isin(existing.index)
        old = existing.loc[latest.index[known]]
        merged = _take(old, latest.loc[old.index], DEAL_COLUMNS)
        changed = _differs(old, merged, DEAL_COLUMNS)
        stamps = latest.loc[old.index, "updated_at"].fillna(pd.Timestamp(now))
        updated = merged[changed].assign(updated_at=stamps[changed])
        new = latest.loc[~known].copy()
        _require_new(new, "deals", ("stage",), "a new deal needs a stage")
        new["name"] = new["name"].where(new["name"].notna(), "Deal " + new["external_id"])
        new["source_updated_at"] = new["updated_at"]
        new["created_at"] = new["created_at"].fillna(new["updated_at"]).fillna(pd.Timestamp(now))
        new["updated_at"] = new["updated_at"].fillna(new["created_at"])
        new = new.reset_index()
        new["organization_id"] = organization_id
        insert_cols = [
            "deal_id",
            "organization_id",
            "external_id",
            *DEAL_COLUMNS,
            "created_at",
            "updated_at",
            "source_updated_at",
        ]
        insert_missing_rows(
            control, tx, d, ["id", *insert_cols[1:]], _rows(control, new, insert_cols)
        )
        update_rows(
            control,
            tx,
            d,
            ["id"],
            [*DEAL_COLUMNS, "updated_at"],
            _rows(control, updated.reset_index(), ["deal_id", *DEAL_COLUMNS, "updated_at"]),
        )
        timed = latest[known & latest["updated_at"].notna().to_numpy()].reset_index()
        update_rows(
            control, tx, d, ["id"], ["source_updated_at"],
            _rows(control, timed, ["deal_id", "updated_at"]),
        )  # fmt: skip
        moved = old.index[(old["stage"] != merged["stage"]).to_numpy()]
        history = pd.concat(
            [
                pd.DataFrame(
                    {
                        "deal_id": new["deal_id"],
                        "from_stage": None,
                        "to_stage": new["stage"],
                        "changed_at": new["created_at"],
                    }
                ),
                pd.DataFrame(
                    {
                        "deal_id": moved,
                        "from_stage": old.loc[moved, "stage"].to_numpy(),
                        "to_stage": merged.loc[moved, "stage"].to_numpy(),
                        "changed_at": stamps.loc[moved].to_numpy(),
                    }
                ),
            ],
            ignore_index=True,
        )
        history["changed_at"] = _utc(history["changed_at"])
        if not history.empty:
            columns = ["deal_id", "from_stage", "to_stage", "changed_at"]
            insert_missing_rows(
                control, tx, c.deal_stage_changes, columns, _rows(control, history, columns)
            )
        result.created = len(new)
        result.created_ids = set(new["deal_id"])
        result.updated = int(changed.sum())
        result.unchanged = len(latest) - result.created - result.updated
        result.stage_changes = len(moved)
        result.events = write_events(
            control, _deal_events(organization_id, new, merged, old, moved, stamps), now, conn=tx
        )
    return result


def _deal_events(
    organization_id: str,
    new: pd.DataFrame,
    merged: pd.DataFrame,
    old: pd.DataFrame,
    moved: pd.Index,
    stamps: pd.Series,
) -> list[Event]:
    shown = ["deal_id", "external_id", *DEAL_COLUMNS, "created_at", "updated_at"]
    events = [
        Event.build(
            organization_id, "deal.created", (row["deal_id"],), row["created_at"].to_pydatetime(),
            _event_data(row),
        )
        for row in new[shown].to_dict("records")
    ]  # fmt: skip
    for deal_id in moved:
        changed_at = stamps.at[deal_id].to_pydatetime()
        data = _event_data(
            {"deal_id": deal_id, **merged.loc[deal_id, list(DEAL_COLUMNS)].to_dict()}
        )
        data["previous_stage"] = old.at[deal_id, "stage"]
        data["updated_at"] = changed_at
        parts = (
            deal_id,
            old.at[deal_id, "stage"],
            merged.at[deal_id, "stage"],
            jsonable(changed_at),
        )
        events.append(Event.build(organization_id, "deal.stage_changed", parts, changed_at, data))
    return events


UPSERTS = {"companies": upsert_companies, "contacts": upsert_contacts, "deals": upsert_deals}


def write_records(
    control: ControlDB,
    organization_id: str,
    kind: str,
    records: pd.DataFrame,
    *,
    now: datetime | None = None,
) -> UpsertResult:
    """Records sent by the organization's CRM (API or import): one transaction, events included;
    enables the organization's `crm` source and marks it changed for first_party_sensor."""
    control.ensure_pushed_source(organization_id, "crm")
    with control.begin() as conn:
        result = UPSERTS[kind](control, organization_id, records, now=now, conn=conn)
        control.touch_source(conn, organization_id, "crm")
    return result
