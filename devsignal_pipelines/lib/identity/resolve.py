"""Resolve one organization's authors on every platform to contacts, in one warehouse transaction.

1. Stream the organization's companies, contacts and identities out of the control DB (one
   query each, in batches) into temporary tables of the warehouse transaction.
2. Run the rules (identity_graph) set-based in the warehouse, X first, then Stack Overflow, so a
   person the first platform just created a contact for is found by the second.
3. Bulk insert-missing the new contacts and identities into the control DB (one control
   transaction), streaming them out of the warehouse as plain tuples.
4. Bring the organization's core.identity_links in line with the identities (rows that changed
   go, new ones come; an unchanged re-run writes nothing), in the same warehouse transaction.

Links are always built from identities, and an identity's evidence is stored as the exact JSON
text written the first time, so a re-run rewrites byte-identical rows. A crash after step 3 is
harmless: the next run finds those authors by id. New contact ids derive from (organization,
platform, user id), so a retry never creates a twin.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime

import pandas as pd

from devsignal_pipelines.lib.identity.graph import derive_contact_keys, drop, resolve_platform
from devsignal_pipelines.lib.identity.rules import FREE_DOMAINS, NAME_ONLY_PLATFORMS, PLATFORMS
from devsignal_pipelines.lib.identity.sources import SOURCES, STATED_PRESENT_SQL
from devsignal_pipelines.lib.identity.sql import json_object_sql
from devsignal_pipelines.lib.sources.crm import frames as crm
from devsignal_pipelines.lib.stores import control as c
from devsignal_pipelines.lib.stores.control import ControlDB
from devsignal_pipelines.lib.stores.tables import CORE_IDENTITY_LINKS
from devsignal_pipelines.lib.stores.warehouse import Warehouse, WarehouseTransaction

WRITE_BATCH_ROWS = 100_000
# DuckDB's working memory during resolution; a million authors need about 1.6 GB of RSS with it.
DUCKDB_MEMORY_LIMIT = "1GB"
_COMPANY_TYPES = {"company_id": "text", "domain": "text"}
_CONTACT_TYPES = {"contact_id": "text", "company_id": "text", "full_name": "text", "source": "text"}
_IDENTITY_TYPES = {
    "platform": "text",
    "platform_user_id": "text",
    "contact_id": "text",
    "username": "text",
    "method": "text",
    "confidence": "double",
    "evidence": "text",
    "created_at": "timestamptz",
    "is_new": "boolean",
}
_HANDLE_TYPES = {"platform": "text", "handle": "text", "contact_id": "text"}
_STAGED = ("idr_companies", "idr_contacts", "idr_identities", "idr_free", "idr_handles")
_NEW_CONTACT = (
    "id",
    "organization_id",
    "company_id",
    "full_name",
    "source",
    "created_at",
    "updated_at",
)
_NEW_IDENTITY = (
    "organization_id",
    "platform",
    "platform_user_id",
    "contact_id",
    "username",
    "method",
    "confidence",
    "evidence",
    "created_at",
)


@dataclass
class IdentityRunReport:
    """What one resolution run did; `seconds` splits resolution from write-back."""

    organization_id: str
    authors: dict[str, int] = field(default_factory=dict)  # platform -> authors seen
    links: dict[str, dict[str, int]] = field(default_factory=dict)  # platform -> method -> n
    contacts_created: int = 0
    identities_created: int = 0
    links_deleted: int = 0  # rows of core.identity_links that changed or vanished
    links_inserted: int = 0  # new or changed rows
    seconds: dict[str, float] = field(default_factory=dict)

    @property
    def resolution_seconds(self) -> float:
        """Reading and staging the CRM inputs plus the rules."""
        return sum(self.seconds.get(k, 0.0) for k in ("inputs", "resolve"))

    @property
    def write_back_seconds(self) -> float:
        """New contacts and identities into the control DB, and core.identity_links."""
        return sum(self.seconds.get(k, 0.0) for k in ("write_control", "write_links"))


def resolve_identities(
    warehouse: Warehouse,
    control: ControlDB,
    organization_id: str,
    *,
    platforms: Iterable[str] = PLATFORMS,
    name_only_platforms: Iterable[str] = NAME_ONLY_PLATFORMS,
    now: datetime | None = None,
) -> IdentityRunReport:
    """Link every author of `organization_id` on `platforms`; see the module docstring."""
    now = now or datetime.now(UTC)
    platforms = list(platforms)
    name_only = set(name_only_platforms)
    report = IdentityRunReport(organization_id)

    with warehouse.transaction() as tx:
        prepare_transaction(tx)
        with _timed(report.seconds, "inputs"):
            _stage_inputs(tx, control, organization_id)
        with _timed(report.seconds, "resolve"):
            for platform in platforms:
                others = [SOURCES[p] for p in platforms if p != platform]
                resolve_platform(
                    tx, SOURCES[platform], organization_id, now, platform in name_only, others
                )
        with _timed(report.seconds, "write_control"):
            contacts, identities, expected = _write_control(tx, control, organization_id, now)
            report.contacts_created, report.identities_created = contacts, identities
            if identities < expected:
                # Someone else recorded some of these authors first: theirs is the truth.
                _stage_inputs(tx, control, organization_id)
        with _timed(report.seconds, "write_links"):
            report.links_deleted, report.links_inserted = _replace_links(
                tx, organization_id, platforms
            )
            report.authors, report.links = _link_counts(tx, organization_id)
            drop(tx, _STAGED)
    return report


def prepare_transaction(tx: WarehouseTransaction) -> None:
    """Engine settings the resolution needs.

    DuckDB 1.5.6 silently drops a large append (one row group, 122,880 rows, or more) to a table
    that, in the same transaction, was created or appended from an empty scan (an empty staged
    frame, an empty table): the INSERT reports its rows, the table stays empty. Organizations
    with no CRM identities hit exactly that. Not preserving insertion order takes the unaffected
    code path, and nothing here relies on it (every ordered read says ORDER BY).

    DuckDB also gets a memory budget (spilling beyond it) unless DEVSIGNAL_DUCKDB_MEMORY_LIMIT
    sets one: its buffer pool would otherwise grow with every temporary table of a large run.
    """
    if tx.dialect == "duckdb":
        tx.execute("SET preserve_insertion_order = false")
        if not os.environ.get("DEVSIGNAL_DUCKDB_MEMORY_LIMIT"):
            tx.execute(f"SET memory_limit = '{DUCKDB_MEMORY_LIMIT}'")


def _stage_inputs(tx: WarehouseTransaction, control: ControlDB, organization_id: str) -> None:
    """The organization's companies, contacts and identities, streamed into temporary tables."""
    companies = crm.company_domains(control, organization_id)
    _stage_stream(tx, "idr_companies", companies, _COMPANY_TYPES)
    tx.execute("UPDATE idr_companies SET domain = regexp_replace(domain, '^www[.]', '')")
    contacts = crm.contact_names(control, organization_id)
    _stage_stream(tx, "idr_contacts_in", contacts, _CONTACT_TYPES)
    derive_contact_keys(tx)
    identities = (f.assign(is_new=False) for f in crm.identity_records(control, organization_id))
    _stage_stream(tx, "idr_identities", identities, _IDENTITY_TYPES)
    _stage_stream(
        tx, "idr_handle_claims", crm.contact_handles(control, organization_id), _HANDLE_TYPES
    )
    tx.execute("DROP TABLE IF EXISTS idr_handles")
    tx.execute(
        "CREATE TEMP TABLE idr_handles AS SELECT platform, handle, contact_id, "
        "count(*) OVER (PARTITION BY platform, handle) AS claimants FROM idr_handle_claims"
    )
    tx.execute("DROP TABLE idr_handle_claims")
    tx.stage_frame("idr_free", pd.DataFrame({"domain": sorted(FREE_DOMAINS)}), {"domain": "text"})


def _stage_stream(
    tx: WarehouseTransaction, name: str, frames: Iterable[pd.DataFrame], types: dict[str, str]
) -> None:
    """Stage batches of a control-DB read into one temporary table (bounded memory)."""
    staged = False
    for frame in frames:
        if not staged:
            tx.stage_frame(name, frame, types)
            staged = True
        else:
            tx.stage_frame("idr_batch", frame, types)
            tx.execute(f"INSERT INTO {name} SELECT * FROM idr_batch")
    if not staged:
        tx.stage_frame(name, pd.DataFrame({c: pd.Series(dtype=object) for c in types}), types)
    tx.execute("DROP TABLE IF EXISTS idr_batch")


def _write_control(
    tx: WarehouseTransaction, control: ControlDB, organization_id: str, now: datetime
) -> tuple[int, int, int]:
    """Insert-missing the new contacts, then their identities; one control transaction.

    Rows stream out of the warehouse as plain tuples in primary-key order, ready for the
    control DB's bulk insert; nothing goes through a DataFrame.
    """
    params = {"o": organization_id, "t": crm.control_time(control, now)}
    contacts = identities = expected = 0
    with control.begin() as conn:
        for rows in tx.fetch_rows(
            "SELECT contact_id, :o, company_id, full_name, source, :t, :t FROM idr_contacts "
            "WHERE is_new ORDER BY contact_id",
            params,
            WRITE_BATCH_ROWS,
        ):
            contacts += crm.insert_missing_rows(control, conn, c.contacts, _NEW_CONTACT, rows)
        for rows in tx.fetch_rows(
            "SELECT :o, platform, platform_user_id, contact_id, username, method, confidence, "
            "evidence, :t FROM idr_identities WHERE is_new ORDER BY platform, platform_user_id",
            params,
            WRITE_BATCH_ROWS,
        ):
            expected += len(rows)
            identities += crm.insert_missing_rows(
                control, conn, c.contact_identities, _NEW_IDENTITY, rows
            )
    return contacts, identities, expected


def _replace_links(
    tx: WarehouseTransaction, organization_id: str, platforms: Iterable[str]
) -> tuple[int, int]:
    """Make the organization's core.identity_links equal its identities of the authors it has
    seen; returns (rows deleted, rows inserted).

    Only rows that changed or vanished are deleted and only new or changed ones inserted: an
    unchanged re-run writes nothing (rewriting a million unchanged keys in one transaction is
    also what DuckDB's primary-key index handles worst).
    """
    params = {"o": organization_id}
    crm_evidence = json_object_sql(
        {"crm_username": "i.username", "platform_user_id": "i.platform_user_id"}
    )
    json_type = CORE_IDENTITY_LINKS.column_type("evidence", tx.dialect)
    present = (
        " UNION ALL ".join(
            [
                *(
                    f"SELECT '{p}' AS platform, s.platform_user_id FROM ({SOURCES[p].present_sql()}) s"
                    for p in platforms
                ),
                *(
                    f"SELECT '{p}' AS platform, s.platform_user_id FROM ({sql}) s"
                    for p, sql in STATED_PRESENT_SQL.items()
                ),
            ]
        )
        or "SELECT CAST(NULL AS TEXT) AS platform, CAST(NULL AS TEXT) AS platform_user_id"
    )
    tx.execute(
        f"""
        CREATE TEMP TABLE idr_links AS
        SELECT CAST(:o AS TEXT) AS organization_id, i.platform, i.platform_user_id, i.contact_id,
               k.company_id, CASE WHEN i.method = 'crm' THEN 'platform_id' ELSE i.method END AS method,
               i.confidence,
               CAST(CASE WHEN i.method = 'crm' THEN {crm_evidence}
                         ELSE coalesce(i.evidence, '{{}}') END AS {json_type}) AS evidence,
               i.created_at AS linked_at
        FROM idr_identities i
        JOIN ({present}) a ON a.platform = i.platform AND a.platform_user_id = i.platform_user_id
        LEFT JOIN idr_contacts k ON k.contact_id = i.contact_id
        """,
        params,
    )
    columns = ", ".join(CORE_IDENTITY_LINKS.column_names)
    existing = _count(
        tx, "SELECT count(*) AS n FROM core.identity_links WHERE organization_id = :o", params
    )
    if not existing:  # first run: nothing to compare with
        tx.execute(f"INSERT INTO core.identity_links ({columns}) SELECT {columns} FROM idr_links")
        inserted = _count(tx, "SELECT count(*) AS n FROM idr_links", {})
        tx.execute("DROP TABLE idr_links")
        return 0, inserted
    same = " AND ".join(
        f"n.{column} IS NOT DISTINCT FROM core.identity_links.{column}"
        for column in CORE_IDENTITY_LINKS.column_names
        if column != "organization_id"
    )
    deleted = _count(
        tx,
        f"SELECT count(*) AS n FROM core.identity_links WHERE organization_id = :o "
        f"AND NOT EXISTS (SELECT 1 FROM idr_links n WHERE {same})",
        params,
    )
    if deleted:
        tx.execute(
            "DELETE FROM core.identity_links WHERE organization_id = :o "
            f"AND NOT EXISTS (SELECT 1 FROM idr_links n WHERE {same})",
            params,
        )
    missing = (
        "FROM idr_links n WHERE NOT EXISTS (SELECT 1 FROM core.identity_links t "
        "WHERE t.organization_id = :o AND t.platform = n.platform "
        "AND t.platform_user_id = n.platform_user_id)"
    )
    inserted = _count(tx, f"SELECT count(*) AS n {missing}", params)
    if inserted:
        tx.execute(
            f"INSERT INTO core.identity_links ({columns}) SELECT {columns} {missing}", params
        )
    tx.execute("DROP TABLE idr_links")
    return deleted, inserted


def _count(tx: WarehouseTransaction, sql: str, params: dict) -> int:
    return int(tx.fetch_df(sql, params).iat[0, 0])


def _link_counts(
    tx: WarehouseTransaction, organization_id: str
) -> tuple[dict[str, int], dict[str, dict[str, int]]]:
    counts = tx.fetch_df(
        "SELECT platform, method, count(*) AS n FROM core.identity_links "
        "WHERE organization_id = :o GROUP BY platform, method",
        {"o": organization_id},
    )
    authors: dict[str, int] = {}
    links: dict[str, dict[str, int]] = {}
    for platform, method, n in counts.itertuples(index=False):
        authors[platform] = authors.get(platform, 0) + int(n)
        links.setdefault(platform, {})[method] = int(n)
    return authors, links


@contextmanager
def _timed(seconds: dict[str, float], phase: str) -> Iterator[None]:
    """Add the block's wall-clock seconds to `seconds[phase]`."""
    started = time.perf_counter()
    try:
        yield
    finally:
        seconds[phase] = seconds.get(phase, 0.0) + time.perf_counter() - started
