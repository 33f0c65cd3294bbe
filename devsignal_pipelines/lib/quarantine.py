"""Rows for raw.quarantine: malformed API records kept for inspection instead of crashing a sync.

Sources that can ask for a record by id (X posts; Stack Overflow questions, answers through their
question, users) also fetch quarantined records again on later runs, so a record broken in one
response is not lost once the cursor has moved past it. Such a row says what the record is
(`record_type`) and the id to ask for (`record_id`). Each run asks again for every record still
quarantined; what parses is loaded through the sync's usual path and its rows get `resolved_at`.
A read of a record that comes back malformed again, or not at all, counts in `attempts`; at
MAX_MALFORMED_RETRIES reads the record stays quarantined and is no longer asked for. The limit and
its meaning (at most that many reads of something that keeps coming back malformed, the first one
included) are those of GitHub's re-read of a resource with malformed items
(lib/sources/github/fetch.py).

`settle_quarantine` writes all of it inside the sync's one transaction, with the data and the
cursors: a crash before the commit leaves the quarantine as it was, and the next run asks again.
"""

from __future__ import annotations

import hashlib
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, NamedTuple

import pandas as pd

from devsignal_pipelines.lib.stores.tables import RAW_QUARANTINE

if TYPE_CHECKING:  # the CLI's `orgs connect` imports this module through the X client
    from devsignal_pipelines.lib.stores.warehouse import Warehouse, WarehouseTransaction

MAX_MALFORMED_RETRIES = 3
KEY = ["record_type", "record_id"]


class QuarantinedRecord(NamedTuple):
    reason: str
    payload: str  # the record as received
    record_type: str | None = None  # set by sources that fetch records again by id
    record_id: str | None = None  # None: no id could be read, so it cannot be asked for again


def quarantine_frame(
    organization_id: str, source: str, records: Sequence[tuple[str, ...]], now: pd.Timestamp
) -> pd.DataFrame:
    """`records`: (reason, payload) pairs, or QuarantinedRecords."""
    rows = [QuarantinedRecord(*record) for record in records]
    return pd.DataFrame(
        {
            "organization_id": organization_id,
            "source": source,
            "record_hash": [hashlib.sha256(r.payload.encode()).hexdigest() for r in rows],
            "reason": [r.reason for r in rows],
            "payload": [r.payload for r in rows],
            "quarantined_at": now,
            "record_type": [r.record_type for r in rows],
            "record_id": [r.record_id for r in rows],
            "attempts": pd.array([None] * len(rows), dtype="Int64"),
            "resolved_at": pd.Series(pd.NaT, index=range(len(rows)), dtype="datetime64[ns, UTC]"),
        },
        columns=list(RAW_QUARANTINE.column_names),
    )


def pending_refetch(
    warehouse: Warehouse, organization_id: str, source: str
) -> dict[str, list[str]]:
    """Ids per record type of the records still quarantined and read fewer than
    MAX_MALFORMED_RETRIES times: what this run asks for again."""
    frame = warehouse.read_df(
        "SELECT record_type, record_id FROM raw.quarantine WHERE organization_id = :o "
        "AND source = :s AND resolved_at IS NULL AND record_id IS NOT NULL "
        "GROUP BY record_type, record_id HAVING max(attempts) < :limit "
        "ORDER BY record_type, record_id",
        {"o": organization_id, "s": source, "limit": MAX_MALFORMED_RETRIES},
    )
    return {kind: list(ids) for kind, ids in frame.groupby("record_type")["record_id"]}


@dataclass
class RefetchCounts:
    """What one run did about quarantined records (distinct records, not rows)."""

    refetched: int = 0  # asked for again by id
    recovered: int = 0  # quarantined before, loaded this run
    given_up: int = 0  # will not be asked for again: the retry limit, or no id to ask by

    def as_metadata(self) -> dict[str, int]:
        return {
            "quarantined_refetched": self.refetched,
            "quarantined_recovered": self.recovered,
            "quarantined_given_up": self.given_up,
        }


def settle_quarantine(
    tx: WarehouseTransaction,
    organization_id: str,
    source: str,
    records: Sequence[QuarantinedRecord],
    *,
    asked: Collection[tuple[str, str]],
    loaded: pd.DataFrame,
    refetchable: Collection[str],
    now: pd.Timestamp,
) -> RefetchCounts:
    """Merge this run's quarantined `records` and move the state of the records it touched.

    `asked`: (record_type, record_id) fetched again this run; `loaded`: the (record_type,
    record_id) of every record this run loaded (a record quarantined earlier and delivered
    intact by the normal read is recovered as well); `refetchable`: the record types this
    source asks for by id.
    """
    new = quarantine_frame(organization_id, source, records, now)
    keys = pd.concat(
        [loaded[KEY], pd.DataFrame(list(asked), columns=KEY), new[KEY]], ignore_index=True
    )
    keys = keys.dropna().drop_duplicates()
    stage = tx.stage_frame("_quarantine_keys", keys, {"record_type": "text", "record_id": "text"})
    columns = ", ".join(f"q.{c}" for c in RAW_QUARANTINE.column_names)
    known = tx.fetch_df(
        f"SELECT {columns} FROM raw.quarantine q JOIN {stage} k "
        "ON q.record_type = k.record_type AND q.record_id = k.record_id "
        "WHERE q.organization_id = :o AND q.source = :s AND q.resolved_at IS NULL",
        {"o": organization_id, "s": source},
    )
    tx.execute(f"DROP TABLE {stage}")

    prior = {
        key: int(attempts)
        for key, attempts in known.groupby(KEY)["attempts"].max().fillna(0).items()
    }
    loaded_keys = set(loaded[KEY].itertuples(index=False, name=None))
    broken_again = set(new.dropna(subset=["record_id"])[KEY].itertuples(index=False, name=None))
    # A broken read, or an id asked for that did not come back at all, is one more attempt.
    failed = broken_again | (set(asked) - loaded_keys)
    attempts = {key: prior.get(key, 0) + 1 for key in failed}

    rows = pd.concat([known, new], ignore_index=True).drop_duplicates("record_hash")
    row_keys = pd.Series(list(zip(rows["record_type"], rows["record_id"], strict=True)), rows.index)
    counted = row_keys.map(attempts)
    rows["attempts"] = (
        counted.where(counted.notna(), rows["attempts"]).fillna(1).astype("int64").to_numpy()
    )
    resolved = row_keys.isin(loaded_keys)
    rows["resolved_at"] = pd.to_datetime(rows["resolved_at"], utc=True).where(~resolved, now)
    tx.merge(RAW_QUARANTINE, rows)

    # Records that will not be asked for again although not loaded: the limit was reached this
    # run, no id could be read, or the source cannot ask for that kind of record by id.
    reached_limit = {
        key
        for key, count in attempts.items()
        if key not in loaded_keys
        and key[0] in refetchable
        and prior.get(key, 0) < MAX_MALFORMED_RETRIES <= count
    }
    unaskable = {
        key
        for key in broken_again - loaded_keys
        if key[0] not in refetchable and prior.get(key, 0) == 0
    }
    without_id = int(new["record_id"].isna().sum())
    return RefetchCounts(
        refetched=len(set(asked)),
        recovered=len(set(prior) & loaded_keys),
        given_up=len(reached_limit) + len(unaskable) + without_id,
    )
