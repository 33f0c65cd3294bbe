"""`devsignal import ORG companies|contacts|deals|events FILE`: backfills and CRM exports.

A file is CSV (a header row), JSON lines (one object per line) or Parquet, by extension or
`--format`. Columns are matched by name (CRM records: lib/sources/crm/records.FIELDS and their
aliases; events: Segment's message fields, with `properties.x` / `traits.x` / `context.x` columns
folded into those objects in CSV and Parquet). Every row is checked first and every problem
reported by its line in the file (`line 812: amount "12k" is not a number`); only a file without
problems is written, in one control-DB transaction: all of it or nothing. Re-importing the same
file changes nothing (records are keyed by their external id, events by messageId).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd

from devsignal_pipelines.lib.sources.crm.records import KINDS, RecordError, normalize_records
from devsignal_pipelines.lib.sources.crm.upsert import ConflictError, write_records
from devsignal_pipelines.lib.sources.events.intake import chunked, write_intake
from devsignal_pipelines.lib.sources.events.messages import MessageError, parse_message
from devsignal_pipelines.lib.stores.control import ControlDB

FORMATS = ("csv", "jsonl", "parquet")
IMPORT_KINDS = (*KINDS, "events")
WRITE_CHUNK = 5_000
_NESTED = ("properties", "traits", "context")
_EXTENSIONS = {
    ".csv": "csv",
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
    ".json": "jsonl",
    ".parquet": "parquet",
}

Progress = Callable[[int, int], None]  # (rows done, rows in all)


class ImportRefused(ValueError):
    """The file cannot be imported; `problems` lists each by line (nothing was written)."""

    def __init__(self, path: Path, problems: list[str], total: int | None = None):
        self.path = path
        self.problems = problems
        self.total = total if total is not None else len(problems)
        super().__init__(f"{path}: {self.total} problem(s), nothing imported")


@dataclass
class ImportReport:
    kind: str
    rows: int
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    stale: int = 0
    events: int = 0  # webhook events written
    stored: int = 0  # events: messages new to the intake table
    already_received: int = 0  # events: messageIds already waiting there
    seconds: dict[str, float] = field(default_factory=dict)


def detect_format(path: Path, fmt: str | None) -> str:
    if fmt:
        if fmt not in FORMATS:
            raise ValueError(f"--format must be one of {', '.join(FORMATS)}, not {fmt!r}")
        return fmt
    found = _EXTENSIONS.get(path.suffix.lower())
    if found is None:
        raise ValueError(
            f"cannot tell the format of {path.name} from its extension; pass --format csv|jsonl|parquet"
        )
    return found


def read_rows(path: Path, fmt: str) -> tuple[pd.DataFrame, list[int]]:
    """The file's rows as text columns, and each row's line in the file (for messages)."""
    if not path.exists():
        raise ValueError(f"{path} does not exist")
    if fmt == "csv":
        try:
            frame = pd.read_csv(path, dtype=str, keep_default_na=False, na_values=[""])
        except pd.errors.ParserError as exc:
            raise ImportRefused(path, [str(exc)]) from None
        return frame, list(range(2, len(frame) + 2))  # line 1 is the header
    if fmt == "parquet":
        frame = pd.read_parquet(path)
        return frame, list(range(1, len(frame) + 1))
    records, lines, problems = [], [], []
    with path.open("rb") as handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                value = json.loads(line)
            except ValueError as exc:
                problems.append(f"line {number}: not valid JSON ({exc.msg})")
                continue
            if not isinstance(value, dict):
                problems.append(f"line {number}: not a JSON object")
                continue
            records.append(value)
            lines.append(number)
    if problems:
        raise ImportRefused(path, problems[:50], len(problems))
    return pd.DataFrame.from_records(records), lines


def import_file(
    control: ControlDB,
    organization_id: str,
    kind: str,
    path: Path,
    *,
    fmt: str | None = None,
    dry_run: bool = False,
    progress: Progress | None = None,
    now: datetime | None = None,
) -> ImportReport:
    """Check the whole file, then write it in one transaction (nothing when `dry_run`)."""
    if kind not in IMPORT_KINDS:
        raise ValueError(f"unknown kind {kind!r}; use one of {', '.join(IMPORT_KINDS)}")
    path = Path(path)
    fmt = detect_format(path, fmt)
    started = time.perf_counter()
    if kind == "events":
        messages = (
            _json_lines(path)
            if fmt == "jsonl"
            else _messages_from_columns(path, *read_rows(path, fmt))
        )
        report = ImportReport(kind, len(messages))
        report.seconds["read"] = time.perf_counter() - started
        return _import_events(
            control, organization_id, path, messages, report, dry_run, progress, now
        )
    frame, lines = read_rows(path, fmt)
    report = ImportReport(kind, len(frame))
    report.seconds["read"] = time.perf_counter() - started
    started = time.perf_counter()
    try:
        records = normalize_records(kind, frame, lines=lines)
    except RecordError as exc:
        raise ImportRefused(path, exc.lines(50), len(exc.errors)) from None
    report.seconds["check"] = time.perf_counter() - started
    if dry_run:
        return report
    started = time.perf_counter()
    if progress:
        progress(0, len(records))
    try:
        result = write_records(control, organization_id, kind, records, now=now)
    except ConflictError as exc:
        raise ImportRefused(path, exc.lines(50), len(exc.problems)) from None
    if progress:
        progress(len(records), len(records))
    report.seconds["write"] = time.perf_counter() - started
    report.created, report.updated = result.created, result.updated
    report.unchanged, report.stale, report.events = result.unchanged, result.stale, result.events
    return report


def _import_events(
    control: ControlDB,
    organization_id: str,
    path: Path,
    messages: list[tuple[int, bytes]],
    report: ImportReport,
    dry_run: bool,
    progress: Progress | None,
    now: datetime | None,
) -> ImportReport:
    """Each message checked as the API checks it, then all stored in one intake transaction."""
    started = time.perf_counter()
    received_at = now or datetime.now(UTC)
    rows, problems = [], []
    for line, message in messages:
        row, problem = parse_message(message, organization_id, received_at, via="import")
        if problem is not None:
            problems.append(_line_message(line, problem))
        else:
            rows.append(row)
    if problems:
        raise ImportRefused(path, problems[:50], len(problems))
    report.seconds["check"] = time.perf_counter() - started
    if dry_run:
        return report
    started = time.perf_counter()
    control.ensure_pushed_source(organization_id, "events")
    with control.begin() as conn:  # all of the file, or none of it
        done = 0
        for part in chunked(rows, WRITE_CHUNK):
            report.stored += write_intake(control, part, conn)
            done += len(part)
            if progress:
                progress(done, len(rows))
    report.seconds["write"] = time.perf_counter() - started
    report.already_received = len(rows) - report.stored
    return report


def _json_lines(path: Path) -> list[tuple[int, bytes]]:
    """(line number, raw JSON) of every non-blank line: checked by the same code as the API's."""
    if not path.exists():
        raise ValueError(f"{path} does not exist")
    with path.open("rb") as handle:
        return [(number, line) for number, line in enumerate(handle, start=1) if line.strip()]


def _line_message(line: int, problem: MessageError) -> str:
    return f"line {line}: {problem.field}: {problem.message}"


def _messages_from_columns(
    path: Path, frame: pd.DataFrame, lines: list[int]
) -> list[tuple[int, bytes]]:
    """CSV / Parquet rows -> Segment messages: `properties.plan` -> {"properties": {"plan": ...}}
    (a whole `properties` column holds a JSON object); snake_case column names are accepted for
    the top-level fields (user_id -> userId). A cell that is not valid JSON is a problem of its
    line, like any other."""
    renames = {
        "user_id": "userId", "anonymous_id": "anonymousId", "message_id": "messageId",
        "group_id": "groupId", "previous_id": "previousId", "sent_at": "sentAt",
    }  # fmt: skip
    messages, problems = [], []
    clean = frame.astype(object).where(frame.notna(), None)
    for line, row in zip(lines, clean.to_dict("records"), strict=True):
        message: dict[str, Any] = {}
        for column, value in row.items():
            if value is None or value == "":
                continue
            head, _, rest = str(column).partition(".")
            if head in _NESTED and rest:
                message.setdefault(head, {})[rest] = value
            elif head in _NESTED and isinstance(value, str) and value.strip().startswith("{"):
                try:
                    message[head] = json.loads(value)
                except ValueError as exc:
                    problems.append(f"line {line}: {head}: not valid JSON ({exc})")
            else:
                message[renames.get(str(column), str(column))] = value
        message.setdefault("type", "track")
        messages.append((line, json.dumps(message, default=str).encode()))
    if problems:
        raise ImportRefused(path, problems[:50], len(problems))
    return messages
