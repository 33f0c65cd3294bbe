"""Load an organization's waiting Segment messages into raw.product_events, in bulk.

Per batch of intake rows (oldest first): apply its identify / group calls to the control DB
(contacts, companies, memberships, with their webhook events), insert the messages into
raw.product_events in one warehouse transaction (a messageId already there is skipped: the first
one stored wins), then delete exactly those intake rows. Each step is idempotent, so a crash
anywhere repeats work and never loses or duplicates a message.
"""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime

import pandas as pd

from devsignal_pipelines.lib.sources.events.identities import IdentityReport, apply_identities
from devsignal_pipelines.lib.sources.events.intake import delete_loaded, read_pending
from devsignal_pipelines.lib.stores.control import ControlDB
from devsignal_pipelines.lib.stores.tables import RAW_PRODUCT_EVENTS
from devsignal_pipelines.lib.stores.warehouse import Warehouse

LOAD_BATCH_ROWS = 100_000


@dataclass
class LoadReport:
    organization_id: str
    messages: int = 0  # intake rows read
    new: int = 0  # new rows of raw.product_events
    by_type: Counter = field(default_factory=Counter)
    identities: list[IdentityReport] = field(default_factory=list)
    batches: int = 0
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
            report.identities.append(apply_identities(control, organization_id, frame, stamp))
        with _timed(report, "warehouse"), warehouse.transaction() as tx:
            rows = frame.drop(columns="seq").assign(loaded_at=pd.Timestamp(stamp))
            counts = tx.merge(RAW_PRODUCT_EVENTS, rows)
        with _timed(report, "delete"):
            delete_loaded(control, organization_id, frame["seq"].tolist())
        report.messages += len(frame)
        report.new += counts.new
        report.by_type.update(frame["type"].value_counts().to_dict())
        report.batches += 1
        if len(frame) < batch_rows:
            return report


class _timed:
    def __init__(self, report: LoadReport, phase: str):
        self.report, self.phase = report, phase

    def __enter__(self) -> None:
        self.started = time.perf_counter()

    def __exit__(self, *exc: object) -> None:
        seconds = self.report.seconds
        seconds[self.phase] = seconds.get(self.phase, 0.0) + time.perf_counter() - self.started
