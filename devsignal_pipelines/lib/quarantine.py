"""Rows for raw.quarantine: malformed API records kept for inspection instead of crashing a sync."""

from __future__ import annotations

import hashlib

import pandas as pd

from devsignal_pipelines.lib.stores.tables import RAW_QUARANTINE


def quarantine_frame(
    organization_id: str, source: str, records: list[tuple[str, str]], now: pd.Timestamp
) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "organization_id": organization_id,
            "source": source,
            "record_hash": [hashlib.sha256(raw.encode()).hexdigest() for _, raw in records],
            "reason": [reason for reason, _ in records],
            "payload": [raw for _, raw in records],
            "quarantined_at": now,
        },
        columns=list(RAW_QUARANTINE.column_names),
    )
