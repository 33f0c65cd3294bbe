"""Load an organization's waiting Segment messages into raw.product_events, in bulk.

Per batch of intake rows (oldest first): apply its identify / group calls to the control DB
(contacts, companies, memberships, with their webhook events), insert the messages into
raw.product_events in one warehouse transaction (a messageId already there is skipped: the first
one stored wins), then delete exactly those intake rows. Each step is idempotent, so a crash
anywhere repeats work and never loses or duplicates a message.

A call the control DB refuses does not hold the others back: when the batch's calls cannot be
applied together, each is applied alone and the ones that still fail go to raw.quarantine with
the reason (the message itself is kept in raw.product_events like any other).
"""

from __future__ import annotations

import json
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime

import pandas as pd
import sqlalchemy as sa

from devsignal_pipelines.lib.quarantine import quarantine_frame
from devsignal_pipelines.lib.sources.events.identities import IdentityReport, apply_identities
from devsignal_pipelines.lib.sources.events.intake import delete_loaded, read_pending
from devsignal_pipelines.lib.stores.control import ControlDB
from devsignal_pipelines.lib.stores.tables import RAW_PRODUCT_EVENTS, RAW_QUARANTINE
from devsignal_pipelines.lib.stores.warehouse import Warehouse

LOAD_BATCH_ROWS = 100_000
SOURCE = "events"
# What a call the control DB refuses raises (bad values, a conflict); not an outage, which must
# fail the run so that it is retried with nothing quarantined.
_REFUSED = (ValueError, TypeError, sa.exc.IntegrityError, sa.exc.DataError)


@dataclass
class LoadReport:
    organization_id: str
    messages: int = 0  # intake rows read
    new: int = 0  # new rows of raw.product_events
    by_type: Counter = field(default_factory=Counter)
    identities: list[IdentityReport] = field(default_factory=list)
    batches: int = 0
    quarantined: int = 0  # identify / group calls the control DB refused (see raw.quarantine)
    seconds: dict[str, float] = field(default_factory=dict)

    @property
    def already_loaded(self) -> int:
        """Messages whose messageId raw.product_events already held (a client sent them again)."""
        return self.messages - self.new

    def as_metadata(self) -> dict[str, int | float]:
        totals: Counter = Counter()
        for report in self.identities:
            totals.update(report.as_metadata())
        return {
            "messages_loaded": self.messages,
            "messages_new": self.new,
            "messages_already_loaded": self.already_loaded,
            "identity_calls_quarantined": self.quarantined,
            **{f"messages_{kind}": int(n) for kind, n in sorted(self.by_type.items())},
            **dict(sorted(totals.items())),
            **{f"seconds_{phase}": round(s, 3) for phase, s in self.seconds.items()},
        }


def load_events(
    warehouse: Warehouse,
    control: ControlDB,
    organization_id: str,
    *,
    batch_rows: int = LOAD_BATCH_ROWS,
    now: datetime | None = None,
) -> LoadReport:
    """Load everything the organization has waiting (see the module docstring)."""
    report = LoadReport(organization_id)
    while True:
        with _timed(report, "read"):
            frame = read_pending(control, organization_id, batch_rows)
        if frame.empty:
            return report
        stamp = now or datetime.now(UTC)
        with _timed(report, "identities"):
            applied, refused = _apply_identities(control, organization_id, frame, stamp)
        report.identities += applied
        with _timed(report, "warehouse"), warehouse.transaction() as tx:
            rows = frame.drop(columns="seq").assign(loaded_at=pd.Timestamp(stamp))
            counts = tx.merge(RAW_PRODUCT_EVENTS, rows)
            if refused:
                tx.merge(
                    RAW_QUARANTINE,
                    quarantine_frame(organization_id, SOURCE, refused, pd.Timestamp(stamp)),
                )
        report.quarantined += len(refused)
        with _timed(report, "delete"):
            delete_loaded(control, organization_id, frame["seq"].tolist())
        report.messages += len(frame)
        report.new += counts.new
        report.by_type.update(frame["type"].value_counts().to_dict())
        report.batches += 1
        if len(frame) < batch_rows:
            return report


def _apply_identities(
    control: ControlDB, organization_id: str, frame: pd.DataFrame, now: datetime
) -> tuple[list[IdentityReport], list[tuple[str, str]]]:
    """The batch's identify / group calls applied together; if the control DB refuses that, each
    call alone (in time order), and the (reason, payload) of those it still refuses."""
    try:
        return [apply_identities(control, organization_id, frame, now)], []
    except _REFUSED:
        pass
    calls = frame[frame["type"].isin(["identify", "group"])].sort_values(["occurred_at", "seq"])
    reports, refused = [], []
    for position in range(len(calls)):
        call = calls.iloc[[position]]
        try:
            reports.append(apply_identities(control, organization_id, call, now))
        except _REFUSED as exc:
            refused.append((f"{call['type'].iat[0]} not applied: {exc}", _payload(call)))
    return reports, refused


def _payload(call: pd.DataFrame) -> str:
    """The call as it was received (intake columns), JSON text."""
    row = call.drop(columns="seq").iloc[0]
    return json.dumps(
        {k: (v.isoformat() if isinstance(v, pd.Timestamp) else v) for k, v in row.items()
         if not pd.isna(v)},
        sort_keys=True,
    )  # fmt: skip


class _timed:
    def __init__(self, report: LoadReport, phase: str):
        self.report, self.phase = report, phase

    def __enter__(self) -> None:
        self.started = time.perf_counter()

    def __exit__(self, *exc: object) -> None:
        seconds = self.report.seconds
        seconds[self.phase] = seconds.get(self.phase, 0.0) + time.perf_counter() - self.started
