"""The analysts' read path: committed core.* and analytics.* tables as Parquet files, and a small
DuckDB file of views over them that analysts open read-only.

DuckDB lets one process hold the warehouse file and nobody else open it meanwhile (not even
read-only while it writes), so an analyst session on warehouse.duckdb would stop the pipeline and
a sync would stop the analyst. Instead the pipeline publishes what it committed:

    <dir>/core/signals/<version>.parquet   one file per table version, never rewritten
    <dir>/devsignal.duckdb                 views core.signals, ... over the current versions, and
                                           the table published_tables (version, rows, when)
    <dir>/manifest.json                    the same state, read by the next publish

A table is exported (COPY ... TO parquet, set-based) only when its fingerprint (row count, the sum
of its row hashes, its column list) differs from the published one. Each file is written under a
temporary name and renamed; the views file is built beside the live one, fsynced and swapped with
os.replace. A reader therefore sees the previous complete state or the new one, never half a
table; a session that opened the previous views keeps reading the previous files, which are
deleted only after a grace period. A crash mid-publish leaves the previous published state; the
next publish clears its temporary files and catches up.

Published: core.* and analytics.*, what analysts query. Not raw.* (vendor payloads and the
pipeline's own cursors) nor intermediate.* (the models' building blocks: daily_account_signals
would add half of core.signals' export time to every publish, and core.account_scores /
analytics.* hold what it feeds). On PostgreSQL nothing is published: analysts query the database,
which has no single-writer lock.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import duckdb

from devsignal_pipelines.lib.stores.warehouse import Warehouse

PUBLISHED_SCHEMAS = ("core", "analytics")
VIEWS_FILE = "devsignal.duckdb"
MANIFEST_FILE = "manifest.json"
_LOCK_FILE = ".publish.lock"
_TMP = ".tmp-"


@dataclass
class PublishReport:
    read_path: Path
    written: dict[str, dict] = field(default_factory=dict)  # table -> rows, bytes, seconds
    unchanged: list[str] = field(default_factory=list)
    dropped: list[str] = field(default_factory=list)
    deleted_files: int = 0
    seconds: float = 0.0

    def summary(self) -> str:
        names = list(self.written)
        if names:
            shown = ", ".join(names[:4]) + (f" and {len(names) - 4} more" if len(names) > 4 else "")
            rows = sum(entry["rows"] for entry in self.written.values())
            size = sum(entry["bytes"] for entry in self.written.values()) / 1e6
            text = f"published {shown} ({rows:,} rows, {size:.1f} MB)"
        else:
            text = "published nothing new"
        if self.unchanged:
            text += f"; {len(self.unchanged)} unchanged"
        if self.dropped:
            text += f"; dropped {', '.join(self.dropped)}"
        return f"{text}; read path {self.read_path} ({self.seconds:.1f} s)"


def publish(
    warehouse: Warehouse,
    directory: Path,
    tables: Iterable[str] | None = None,
    grace_s: float = 3600.0,
) -> PublishReport:
    """Publish the warehouse's core.* and analytics.* tables into `directory`.

    `tables`: the qualified names a step just committed (others are not even fingerprinted);
    None: every published table. Tables that exist but were never published are always included.
    Publishers take turns (a lock file); readers never wait.
    """
    started = time.perf_counter()
    if warehouse.dialect != "duckdb":
        raise ValueError(
            "only a DuckDB warehouse is published; on PostgreSQL query the database directly"
        )
    directory = directory.resolve()
    report = PublishReport(read_path=directory / VIEWS_FILE)
    assert warehouse.path is not None
    if not warehouse.path.exists():
        return report
    directory.mkdir(parents=True, exist_ok=True)
    with _publisher_lock(directory):
        manifest = _read_manifest(directory)
        entries: dict[str, dict] = manifest.get("tables", {})
        retired: dict[str, float] = manifest.get("retired", {})
        with warehouse.read_connection() as con:
            con.execute("BEGIN TRANSACTION")  # one snapshot for every table
            relations = _published_relations(con)
            wanted = set(relations) if tables is None else set(tables) & set(relations)
            wanted |= set(relations) - set(entries)
            for name in sorted(wanted):
                fingerprint = _fingerprint(con, name, relations[name])
                entry = entries.get(name)
                if (
                    entry
                    and entry["fingerprint"] == fingerprint
                    and (directory / entry["file"]).exists()
                ):
                    report.unchanged.append(name)
                    continue
                new_entry = _export(con, directory, name, fingerprint)
                if entry:
                    retired[entry["file"]] = time.time()
                entries[name] = new_entry
                report.written[name] = new_entry
            con.execute("COMMIT")
        for name in sorted(set(entries) - set(relations)):
            retired[entries.pop(name)["file"]] = time.time()
            report.dropped.append(name)
        views = directory / VIEWS_FILE
        if (
            report.written
            or report.dropped
            or manifest.get("directory") != str(directory)
            or manifest.get("views") != _file_identity(views)
        ):
            _write_views(views, directory, entries)
        report.deleted_files = _collect_garbage(directory, entries, retired, grace_s)
        _write_json(
            directory / MANIFEST_FILE,
            {
                "directory": str(directory),
                "views": _file_identity(views),
                "tables": entries,
                "retired": retired,
            },
        )
    report.seconds = time.perf_counter() - started
    return report


def read_manifest(directory: Path) -> dict:
    """What is published: {"tables": {name: {file, rows, bytes, published_at, ...}}, ...}."""
    return _read_manifest(directory.resolve())


# --- the warehouse side ------------------------------------------------------------------------


def _published_relations(con: duckdb.DuckDBPyConnection) -> dict[str, str]:
    """{'core.signals': 'signal_id VARCHAR, ...'} for every table and view to publish."""
    schemas = ", ".join(f"'{s}'" for s in PUBLISHED_SCHEMAS)
    rows = con.execute(
        "SELECT table_schema || '.' || table_name, "
        "string_agg(column_name || ' ' || data_type, ', ' ORDER BY ordinal_position) "
        f"FROM information_schema.columns WHERE table_schema IN ({schemas}) GROUP BY ALL"
    ).fetchall()
    return dict(rows)


def _fingerprint(con: duckdb.DuckDBPyConnection, name: str, columns: str) -> str:
    """Changes whenever a row, the row count or the columns change (one scan, no sort)."""
    rows, row_hash = con.execute(
        f"SELECT count(*), coalesce(sum(hash(t)), 0)::VARCHAR FROM {name} t"
    ).fetchone()
    return f"{rows}:{row_hash}:{hashlib.sha256(columns.encode()).hexdigest()[:16]}"


def _export(con: duckdb.DuckDBPyConnection, directory: Path, name: str, fingerprint: str) -> dict:
    started = time.perf_counter()
    now = datetime.now(UTC)
    version = f"{now:%Y%m%dT%H%M%S%f}Z-{hashlib.sha256(fingerprint.encode()).hexdigest()[:8]}"
    relative = Path(*name.split(".")) / f"{version}.parquet"
    final = directory / relative
    final.parent.mkdir(parents=True, exist_ok=True)
    temporary = final.with_name(_TMP + final.name)
    con.execute(
        f"COPY (SELECT * FROM {name}) TO {_literal(temporary)} (FORMAT parquet, COMPRESSION zstd)"
    )
    _fsync(temporary)
    os.replace(temporary, final)
    _fsync(final.parent)
    return {
        "file": str(relative),
        "version": version,
        "fingerprint": fingerprint,
        "rows": int(fingerprint.split(":")[0]),
        "bytes": final.stat().st_size,
        "published_at": now.isoformat(),
        "seconds": round(time.perf_counter() - started, 3),
    }


# --- the read side -----------------------------------------------------------------------------


def _write_views(views: Path, directory: Path, entries: dict[str, dict]) -> None:
    """Build the views file beside the live one, then swap it in atomically."""
    temporary = views.with_name(f"{_TMP}{views.name}-{os.getpid()}")
    for leftover in (temporary, temporary.with_name(temporary.name + ".wal")):
        leftover.unlink(missing_ok=True)
    con = duckdb.connect(str(temporary))
    try:
        for schema in sorted({name.split(".")[0] for name in entries}):
            con.execute(f"CREATE SCHEMA {schema}")
        for name, entry in sorted(entries.items()):
            con.execute(
                f"CREATE VIEW {name} AS SELECT * FROM read_parquet({_literal(directory / entry['file'])})"
            )
        con.execute(
            "CREATE TABLE published_tables (table_name VARCHAR, version VARCHAR, rows BIGINT, "
            "bytes BIGINT, published_at TIMESTAMPTZ, file VARCHAR)"
        )
        if entries:
            con.executemany(
                "INSERT INTO published_tables VALUES (?, ?, ?, ?, ?::TIMESTAMPTZ, ?)",
                [
                    [
                        name,
                        e["version"],
                        e["rows"],
                        e["bytes"],
                        e["published_at"],
                        str(directory / e["file"]),
                    ]
                    for name, e in sorted(entries.items())
                ],
            )
        con.execute("CHECKPOINT")
    finally:
        con.close()
    _fsync(temporary)
    os.replace(temporary, views)
    _fsync(directory)


def _collect_garbage(
    directory: Path, entries: dict[str, dict], retired: dict[str, float], grace_s: float
) -> int:
    """Delete superseded versions older than the grace period and crashed publishes' leftovers."""
    now, deleted = time.time(), 0
    current = {entry["file"] for entry in entries.values()}
    for path in [*directory.glob("*/*/*.parquet"), *directory.glob(f"{_TMP}*")]:
        relative = str(path.relative_to(directory))
        if relative in current:
            continue
        if path.name.startswith(_TMP):
            expired = True  # only a publisher writes these, and we hold the publishers' lock
        else:
            # A file no manifest knows (a crash after its rename) counts from its own mtime.
            since = retired.get(relative, path.stat().st_mtime)
            expired = now - since >= grace_s
        if expired:
            path.unlink(missing_ok=True)
            retired.pop(relative, None)
            deleted += 1
    for gone in [r for r in retired if not (directory / r).exists()]:
        del retired[gone]
    for table_dir in directory.glob("*/*/"):
        if table_dir.is_dir() and not any(table_dir.iterdir()):
            table_dir.rmdir()
    return deleted


# --- files -------------------------------------------------------------------------------------


@contextmanager
def _publisher_lock(directory: Path) -> Iterator[None]:
    with open(directory / _LOCK_FILE, "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _read_manifest(directory: Path) -> dict:
    try:
        return json.loads((directory / MANIFEST_FILE).read_text())
    except FileNotFoundError:
        return {}


def _write_json(path: Path, value: dict) -> None:
    temporary = path.with_name(f"{_TMP}{path.name}-{os.getpid()}")
    temporary.write_text(json.dumps(value, indent=1, sort_keys=True))
    _fsync(temporary)
    os.replace(temporary, path)
    _fsync(path.parent)


def _file_identity(path: Path) -> list[int] | None:
    """Inode, size and mtime: a views file swapped by a publish that crashed before its manifest
    differs from what the manifest recorded, and is rebuilt."""
    try:
        stat = path.stat()
    except FileNotFoundError:
        return None
    return [stat.st_ino, stat.st_size, stat.st_mtime_ns]


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _literal(path: Path) -> str:
    return "'" + str(path).replace("'", "''") + "'"
