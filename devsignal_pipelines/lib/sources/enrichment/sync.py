"""Fill raw.enrichment_cache for one organization: only what is new, stale or still queued.

Inputs are the CRM's company domains and contact emails. Values that are not domains or emails
are rejected before any call (cached as `invalid`, counted). Each lookup is billed and
firmographics change slowly, so a cached answer is asked again only when its status's refresh
period has passed (RefreshPolicy: found after 30 days, not_found / invalid after 7, and never
within the 24 h TTL), except `queued`, which is asked again on the next run. New keys are asked at
once.
Answers are written every few batches: each row is independent, so a crash keeps what was paid
for and the next run continues with the rest.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from devsignal_pipelines.lib.json_frames import dumps_column
from devsignal_pipelines.lib.sources.crm import frames as crm
from devsignal_pipelines.lib.sources.enrichment.client import EnrichmentClient, Lookup, LookupResult
from devsignal_pipelines.lib.sources.enrichment.firmographics import (
    is_legacy_company,
    map_company,
    map_person,
    normalize_domain,
    normalize_email,
)
from devsignal_pipelines.lib.stores.control import ControlDB
from devsignal_pipelines.lib.stores.tables import RAW_ENRICHMENT_CACHE
from devsignal_pipelines.lib.stores.warehouse import Warehouse

KINDS = ("company", "person")
FLUSH_EVERY = 200
DEFAULT_TTL = pd.Timedelta(hours=24)
REFRESH_FOUND = pd.Timedelta(days=30)
REFRESH_NOT_FOUND = pd.Timedelta(days=7)


@dataclass(frozen=True)
class RefreshPolicy:
    """How old a cached answer gets before it is asked again, by status."""

    ttl: pd.Timedelta = DEFAULT_TTL  # no answer is asked again sooner (queued excepted)
    found: pd.Timedelta = REFRESH_FOUND
    not_found: pd.Timedelta = REFRESH_NOT_FOUND  # also `invalid` answers of the API

    def max_age(self, status: pd.Series) -> pd.Series:
        """The age at which each cached answer is due again (queued: at once)."""
        periods = {"found": self.found, "not_found": self.not_found, "invalid": self.not_found}
        age = status.map(lambda s: max(periods.get(s, self.ttl), self.ttl))
        return age.where(status != "queued", pd.Timedelta(0))

    def calls_per_day(self, status: pd.Series) -> float:
        """Refresh calls a day in the steady state for cached answers of these statuses."""
        days = self.max_age(status[status != "queued"]) / pd.Timedelta(days=1)
        return float((1 / days).sum()) + float((status == "queued").sum())


@dataclass
class EnrichmentReport:
    organization_id: str
    kinds: list[str]
    records: dict[str, int] = field(default_factory=dict)
    cache_hits: int = 0
    rejected_before_call: int = 0
    missing_key: int = 0
    looked_up: int = 0
    by_status: dict[str, int] = field(default_factory=dict)
    expected_calls_per_day: float = 0.0
    seconds: float = 0.0

    def as_metadata(self) -> dict[str, Any]:
        return {
            "kinds": ", ".join(self.kinds),
            **{f"{kind}_records": n for kind, n in self.records.items()},
            "cache_hits": self.cache_hits,
            "rejected_before_call": self.rejected_before_call,
            "records_without_key": self.missing_key,
            "lookups": self.looked_up,
            **{f"answers_{status}": n for status, n in sorted(self.by_status.items())},
            "expected_refresh_calls_per_day": round(self.expected_calls_per_day, 2),
            "seconds": round(self.seconds, 3),
        }


def crm_lookup_keys(control: ControlDB, organization_id: str, kinds: Sequence[str]) -> pd.DataFrame:
    """kind, raw value and normalized lookup key (None when invalid) of every CRM record."""
    frames = []
    if "company" in kinds:
        companies = crm.companies_frame(control, organization_id)
        frames.append(pd.DataFrame({"kind": "company", "raw": companies["domain"].tolist()}))
    if "person" in kinds:
        contacts = crm.contacts_frame(control, organization_id)
        frames.append(pd.DataFrame({"kind": "person", "raw": contacts["email"].tolist()}))
    keys = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=["kind", "raw"])
    normalize = {"company": normalize_domain, "person": normalize_email}
    keys["lookup_key"] = [normalize[k](v) for k, v in zip(keys["kind"], keys["raw"], strict=True)]
    return keys


def plan(
    keys: pd.DataFrame, cache: pd.DataFrame, policy: RefreshPolicy, now: pd.Timestamp
) -> tuple[list[Lookup], pd.DataFrame, int, int]:
    """(lookups to call, rejected rows to cache as invalid, cache hits, records without a key)."""
    present = keys.dropna(subset=["raw"])
    present = present[present["raw"].astype(str).str.strip() != ""]
    missing_key = len(keys) - len(present)
    rejected = present[present["lookup_key"].isna()].assign(
        lookup_key=lambda f: f["raw"].astype(str).str.strip().str.lower()
    )
    valid = present.dropna(subset=["lookup_key"]).drop_duplicates(["kind", "lookup_key"])
    age = now - pd.to_datetime(cache["fetched_at"], utc=True)
    fresh = cache[age < policy.max_age(cache["status"])]
    merged = valid.merge(
        fresh[["kind", "lookup_key"]], on=["kind", "lookup_key"], how="left", indicator=True
    )
    due = merged[merged["_merge"] == "left_only"].sort_values(["kind", "lookup_key"])
    lookups = [Lookup(kind, key) for kind, key in zip(due["kind"], due["lookup_key"], strict=True)]
    rejected = rejected.drop_duplicates(["kind", "lookup_key"])
    return lookups, rejected, len(valid) - len(due), missing_key


def cache_rows(
    organization_id: str, results: list[LookupResult], now: pd.Timestamp
) -> pd.DataFrame:
    mapped = [
        (map_company if r.lookup.kind == "company" else map_person)(r.payload)
        if r.payload
        else None
        for r in results
    ]
    for row, r in zip(mapped, results, strict=True):
        if row is not None:
            row["source"] = (
                "clearbit_v1"
                if r.lookup.kind == "company" and is_legacy_company(r.payload)
                else "clearbit_v2"
            )
    return pd.DataFrame(
        {
            "organization_id": organization_id,
            "kind": [r.lookup.kind for r in results],
            "lookup_key": [r.lookup.key for r in results],
            "status": [r.status for r in results],
            "http_status": [r.http_status for r in results],
            "payload": dumps_column([r.payload for r in results]),
            "mapped": dumps_column(mapped),
            "fetched_at": now,
        },
        columns=list(RAW_ENRICHMENT_CACHE.column_names),
    )


def rejected_rows(organization_id: str, rejected: pd.DataFrame, now: pd.Timestamp) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "organization_id": organization_id,
            "kind": rejected["kind"].tolist(),
            "lookup_key": rejected["lookup_key"].tolist(),
            "status": "invalid",
            "http_status": None,
            "payload": None,
            "mapped": None,
            "fetched_at": now,
        },
        columns=list(RAW_ENRICHMENT_CACHE.column_names),
    )


def sync_enrichment(
    warehouse: Warehouse,
    control: ControlDB,
    client: EnrichmentClient,
    organization_id: str,
    kinds: Sequence[str] = KINDS,
    policy: RefreshPolicy = RefreshPolicy(),
) -> EnrichmentReport:
    started = time.perf_counter()
    kinds = [k for k in KINDS if k in kinds]
    report = EnrichmentReport(organization_id, list(kinds))
    keys = crm_lookup_keys(control, organization_id, kinds)
    report.records = keys["kind"].value_counts().to_dict()
    cache = warehouse.read_df(
        "SELECT kind, lookup_key, status, fetched_at FROM raw.enrichment_cache WHERE organization_id = :o",
        {"o": organization_id},
    )
    now = pd.Timestamp.now(tz="UTC")
    lookups, rejected, report.cache_hits, report.missing_key = plan(keys, cache, policy, now)
    report.rejected_before_call = len(rejected)
    if not rejected.empty:
        with warehouse.transaction() as tx:
            tx.merge(RAW_ENRICHMENT_CACHE, rejected_rows(organization_id, rejected, now))

    pending: list[LookupResult] = []

    def flush() -> None:
        if pending:
            with warehouse.transaction() as tx:
                tx.merge(
                    RAW_ENRICHMENT_CACHE,
                    cache_rows(organization_id, pending, pd.Timestamp.now(tz="UTC")),
                )
            pending.clear()

    def on_batch(batch: list[LookupResult]) -> None:
        for result in batch:
            report.by_status[result.status] = report.by_status.get(result.status, 0) + 1
        pending.extend(batch)
        if len(pending) >= FLUSH_EVERY:
            flush()

    try:
        client.lookup_many(lookups, on_batch=on_batch)
    finally:
        flush()  # keep what was paid for, even when the run stops on an error
    report.looked_up = len(lookups)
    # The steady state for the keys the CRM has now: each answer asked again once a period.
    cache = warehouse.read_df(
        "SELECT kind, lookup_key, status FROM raw.enrichment_cache WHERE organization_id = :o",
        {"o": organization_id},
    )
    current = cache.merge(keys.dropna(subset=["lookup_key"]), on=["kind", "lookup_key"])
    report.expected_calls_per_day = policy.calls_per_day(
        current.drop_duplicates(["kind", "lookup_key"])["status"]
    )
    report.seconds = time.perf_counter() - started
    return report
