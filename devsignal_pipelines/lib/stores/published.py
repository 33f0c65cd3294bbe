"""The analysts' read path: committed core.* and analytics.* tables as Parquet files, and a small
DuckDB file of views over them that analysts open read-only.

DuckDB lets one process hold the warehouse file and nobody else open it meanwhile (not even
read-only while it writes), so an analyst session on warehouse.duckdb would stop the pipeline and
a sync would stop the analyst. Instead the pipeline publishes what it committed:

    <dir>/core/signals/organization_id=acme/<version>.parquet
                                           one file per organization's part of a table, per
                                           version, never rewritten (a table without an
                                           organization_id column: <dir>/core/x/<version>.parquet)
    <dir>/devsignal.duckdb                 views core.signals, ... over the current files, and
                                           the table published_tables (rows, when)
    <dir>/manifest.json                    the same state, read by the next publish

Tables are published per organization: a part is exported (COPY ... TO parquet, set-based) only
when its fingerprint (row count and the sum of its row hashes) differs from the published one,
and only the parts of the organizations asked for are even fingerprinted. An organization's sync
step therefore re-exports that organization's rows, not the whole table (at 10M signals across
50 organizations the whole of core.signals is 670 MB and 20-70 s to export; an organization's
part is a fraction of it). A change of a table's columns re-exports all of its parts. Each file is written under a
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
from urllib.parse import quote

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
    comments_changed: bool = False
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
    organizations: Iterable[str] | None = None,
) -> PublishReport:
    """Publish the warehouse's core.* and analytics.* tables into `directory`.

    `tables`: the qualified names a step just committed (others are not even fingerprinted);
    None: every published table. Tables that exist but were never published are always included.
    `organizations`: the organizations whose rows the step changed (an organization partition's
    run); None: look at every organization. Publishers take turns (a lock file); readers never
    wait.
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
    scope = None if organizations is None else sorted(set(organizations))
    with _publisher_lock(directory):
        manifest = _read_manifest(directory)
        entries: dict[str, dict] = manifest.get("tables", {})
        retired: dict[str, float] = manifest.get("retired", {})
        with warehouse.read_connection() as con:
            con.execute("BEGIN TRANSACTION")  # one snapshot for every table
            relations = _published_relations(con)
            wanted = set(relations) if tables is None else set(tables) & set(relations)
            wanted |= set(relations) - set(entries)
            comments = _comments(con)
            for name in sorted(wanted):
                entry, written = _publish_table(
                    con, directory, name, relations[name], entries.get(name), scope, retired
                )
                # The warehouse's table and column descriptions (COMMENT ON), for the views.
                entry["comments"] = comments.get(name, {})
                if entry["comments"] != (entries.get(name) or {}).get("comments"):
                    report.comments_changed = True
                entries[name] = entry
                if written:
                    report.written[name] = written
                else:
                    report.unchanged.append(name)
            con.execute("COMMIT")
        for name in sorted(set(entries) - set(relations)):
            for part in entries.pop(name)["parts"].values():
                retired[part["file"]] = time.time()
            report.dropped.append(name)
        views = directory / VIEWS_FILE
        if (
            report.written
            or report.dropped
            or report.comments_changed
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


# Part keys: a table without organization_id is one part; a per-organization table with no rows
# keeps an empty part that carries its columns, so its view still answers (0 rows).
WHOLE_TABLE = "*"
SCHEMA_ONLY = ""
_NULL_ORGANIZATION = "(null)"


def _publish_table(
    con: duckdb.DuckDBPyConnection,
    directory: Path,
    name: str,
    columns: str,
    entry: dict | None,
    scope: list[str] | None,
    retired: dict[str, float],
) -> tuple[dict, dict | None]:
    """Export the parts of `name` that changed; returns its new manifest entry and what was
    written (None: nothing)."""
    started = time.perf_counter()
    digest = hashlib.sha256(columns.encode()).hexdigest()[:16]
    fresh = entry is None or entry.get("columns") != digest or "parts" not in entry
    parts: dict[str, dict] = {} if fresh else dict(entry["parts"])
    by_organization = "organization_id" in {c.split(" ", 1)[0] for c in columns.split(", ")}
    if not by_organization:
        looked_at, fingerprints = {WHOLE_TABLE}, _fingerprints(con, name, None, False)
    else:
        asked = None if fresh else scope
        fingerprints = _fingerprints(con, name, asked, True)
        looked_at = (set(parts) - {SCHEMA_ONLY} if asked is None else set(asked)) | set(
            fingerprints
        )
    exported: list[dict] = []
    for key in sorted(looked_at):
        current, fingerprint = parts.get(key), fingerprints.get(key)
        if fingerprint is None:  # the organization has no rows any more
            if current:
                retired[parts.pop(key)["file"]] = time.time()
            continue
        if (
            current
            and current["fingerprint"] == fingerprint
            and (directory / current["file"]).exists()
        ):
            continue
        parts[key] = _export(con, directory, name, key, fingerprint)
        exported.append(parts[key])
        if current:
            retired[current["file"]] = time.time()
    if by_organization:
        has_rows = any(key != SCHEMA_ONLY for key in parts)
        if has_rows and SCHEMA_ONLY in parts:
            retired[parts.pop(SCHEMA_ONLY)["file"]] = time.time()
        elif not has_rows and SCHEMA_ONLY not in parts:
            parts[SCHEMA_ONLY] = _export(con, directory, name, SCHEMA_ONLY, "0:0")
            exported.append(parts[SCHEMA_ONLY])
    changed = bool(exported) or fresh or (entry is not None and set(entry["parts"]) != set(parts))
    newest = max(parts.values(), key=lambda part: part["version"])
    new_entry = {
        "columns": digest,
        "parts": parts,
        "rows": sum(part["rows"] for part in parts.values()),
        "bytes": sum(part["bytes"] for part in parts.values()),
        "version": newest["version"],
        "published_at": newest["published_at"],
    }
    if not changed:
        return new_entry, None
    return new_entry, {
        "rows": sum(part["rows"] for part in exported),
        "bytes": sum(part["bytes"] for part in exported),
        "parts": len(exported),
        "seconds": round(time.perf_counter() - started, 3),
    }


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


def _comments(con: duckdb.DuckDBPyConnection) -> dict[str, dict[str, str]]:
    """{'core.signals': {'': table comment, column: comment, ...}} of the published relations."""
    schemas = ", ".join(f"'{s}'" for s in PUBLISHED_SCHEMAS)
    where = f"database_name = current_database() AND schema_name IN ({schemas}) AND comment <> ''"
    rows = con.execute(
        f"SELECT schema_name || '.' || table_name, '', comment FROM duckdb_tables() WHERE {where} "
        f"UNION ALL SELECT schema_name || '.' || table_name, column_name, comment "
        f"FROM duckdb_columns() WHERE {where}"
    ).fetchall()
    comments: dict[str, dict[str, str]] = {}
    for name, column, comment in rows:
        comments.setdefault(name, {})[column] = comment
    return comments


def _fingerprints(
    con: duckdb.DuckDBPyConnection,
    name: str,
    organizations: list[str] | None,
    by_organization: bool,
) -> dict[str, str]:
    """{part key: 'rows:sum of row hashes'} of the parts with rows, one scan (only the asked
    organizations' rows when given); changes whenever a row changes."""
    if not by_organization:
        rows, row_hash = con.execute(
            f"SELECT count(*), coalesce(sum(hash(t)), 0)::VARCHAR FROM {name} t"
        ).fetchone()
        return {WHOLE_TABLE: f"{rows}:{row_hash}"} if rows else {WHOLE_TABLE: "0:0"}
    if organizations is not None and not organizations:
        return {}
    where, params = "", []
    if organizations is not None:
        where = f"WHERE organization_id IN ({', '.join('?' for _ in organizations)})"
        params = list(organizations)
    found = con.execute(
        f"SELECT organization_id, count(*), sum(hash(t))::VARCHAR FROM {name} t {where} GROUP BY 1",
        params,
    ).fetchall()
    return {
        _NULL_ORGANIZATION if org is None else org: f"{rows}:{row_hash}"
        for org, rows, row_hash in found
    }


def _export(
    con: duckdb.DuckDBPyConnection, directory: Path, name: str, key: str, fingerprint: str
) -> dict:
    """Write one part of `name` as a new Parquet file (temporary name, fsync, rename)."""
    started = time.perf_counter()
    now = datetime.now(UTC)
    version = f"{now:%Y%m%dT%H%M%S%f}Z-{hashlib.sha256(fingerprint.encode()).hexdigest()[:8]}"
    table_dir = Path(*name.split("."))
    if key == WHOLE_TABLE:
        relative, where, params = table_dir / f"{version}.parquet", "", []
    elif key == SCHEMA_ONLY:
        relative, where, params = table_dir / "_empty" / f"{version}.parquet", "WHERE false", []
    else:
        part_dir = f"organization_id={quote(key, safe='')}"
        relative = table_dir / part_dir / f"{version}.parquet"
        if key == _NULL_ORGANIZATION:
            where, params = "WHERE organization_id IS NULL", []
        else:
            where, params = "WHERE organization_id = ?", [key]
    final = directory / relative
    final.parent.mkdir(parents=True, exist_ok=True)
    temporary = final.with_name(_TMP + final.name)
    con.execute(
        f"COPY (SELECT * FROM {name} {where}) TO {_literal(temporary)} "
        "(FORMAT parquet, COMPRESSION zstd)",
        params,
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
            files = ", ".join(
                _literal(directory / part["file"]) for _, part in sorted(entry["parts"].items())
            )
            con.execute(f"CREATE VIEW {name} AS SELECT * FROM read_parquet([{files}])")
            for column, comment in sorted(entry.get("comments", {}).items()):
                target = f"VIEW {name}" if not column else f'COLUMN {name}."{column}"'
                con.execute(f"COMMENT ON {target} IS {_quoted(comment)}")
        con.execute(
            "CREATE TABLE published_tables (table_name VARCHAR, organizations BIGINT, rows BIGINT, "
            "bytes BIGINT, published_at TIMESTAMPTZ, version VARCHAR, directory VARCHAR)"
        )
        if entries:
            con.executemany(
                "INSERT INTO published_tables VALUES (?, ?, ?, ?, ?::TIMESTAMPTZ, ?, ?)",
                [
                    [
                        name,
                        len(set(e["parts"]) - {WHOLE_TABLE, SCHEMA_ONLY}),
                        e["rows"],
                        e["bytes"],
                        e["published_at"],
                        e["version"],
                        str(directory / Path(*name.split("."))),
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
    current = {part["file"] for entry in entries.values() for part in entry["parts"].values()}
    schemas = [directory / schema for schema in PUBLISHED_SCHEMAS]
    candidates = [path for root in schemas for path in root.rglob("*.parquet")]
    candidates += [path for root in schemas for path in root.rglob(f"{_TMP}*")]
    candidates += list(directory.glob(f"{_TMP}*"))
    for path in dict.fromkeys(candidates):
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
    for root in schemas:  # empty part and table directories, deepest first
        for folder in sorted(root.rglob("*"), key=lambda p: len(p.parts), reverse=True):
            if folder.is_dir() and not any(folder.iterdir()):
                folder.rmdir()
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


def _quoted(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _literal(path: Path) -> str:
    return "'" + str(path).replace("'", "''") + "'"
