"""The analytical warehouse: DuckDB file by default, PostgreSQL by URL.

Everything derived by the pipeline goes through here, set-based: a DataFrame is staged in one
bulk step (Arrow for DuckDB, COPY for PostgreSQL) and merged with a single SQL statement. Writes
happen inside `Warehouse.transaction()`, which holds a DuckDB write connection only for as long
as the block runs, never across an HTTP call.

DuckDB allows one process to open a file for writing and none other meanwhile, not even
read-only. When another process holds the file, a connection waits for it, says which process
(PID and command line) every so often, and gives up after `lock_timeout_s`
(DEVSIGNAL_WAREHOUSE_LOCK_TIMEOUT_S) with `WarehouseLockedError`, one line. Analysts read the
published copy instead (lib/stores/published.py), which never holds this file.
"""

from __future__ import annotations

import io
import logging
import os
import random
import re
import shlex
import time
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd
import sqlalchemy as sa
from sqlalchemy.pool import NullPool

from devsignal_pipelines.lib.json_frames import dumps_column
from devsignal_pipelines.lib.stores import comments
from devsignal_pipelines.lib.stores.tables import (
    RAW_SYNC_CURSORS,
    WAREHOUSE_TABLES,
    Column,
    TableSpec,
)
from devsignal_pipelines.settings import LOCK_TIMEOUT_VARIABLE, load_settings

SCHEMAS = ("raw", "core", "analytics")
MERGE_BATCH_ROWS = 20_000
_CURSOR_SQL = "SELECT value FROM raw.sync_cursors WHERE organization_id = :o AND source = :s AND cursor_name = :c"
# A quoted literal (kept as is) or a `:name` parameter (not `::type`, `[:2]` or `{'k':v}`).
_LITERAL_OR_PARAM = re.compile(r"'(?:[^']|'')*'|(?<![:\w\['\]]):([A-Za-z_]\w*)")


def safe_url(url: str) -> str:
    """A database URL with any password masked, for logs and metadata."""
    url = re.sub(r"://([^:/@]+):[^@]*@", r"://\1:***@", url)
    return re.sub(r"(?i)(password=)[^&]*", r"\1***", url)


class WarehouseConfigError(ValueError):
    """The warehouse URL cannot be used."""


class WarehouseLockedError(RuntimeError):
    """Another process kept the DuckDB warehouse file for longer than the lock timeout."""


@dataclass(frozen=True)
class MergeCounts:
    new: int
    updated: int


def _is_duckdb_lock_error(exc: BaseException) -> bool:
    return isinstance(exc, duckdb.IOException) and "lock" in str(exc).lower()


# First report after a second (the pipeline's own steps hand the file over faster), then this often.
LOCK_REPORT_AFTER_S = 1.0
LOCK_REPORT_EVERY_S = 15.0
# DuckDB: 'Could not set lock on file "...": Conflicting lock is held in /usr/bin/duckdb (PID 4242)'
_LOCK_HOLDER = re.compile(r"lock is held in (?P<exe>.*?) \(PID (?P<pid>\d+)\)")
# A wait that starts within this long of another wait's last failed attempt on the same file
# continues that wait's clock: the steps of a run that all find the file held fail after the limit
# once, not one after the other.
LOCK_WAIT_CONTINUES_S = 5.0
_lock_waits: dict[Path, tuple[float, float]] = {}  # path -> (wait started, last failed attempt)
_log = logging.getLogger(__name__)


def lock_holder(message: str) -> str:
    """'PID 4242 (duckdb -readonly warehouse.duckdb, user ana)' from DuckDB's lock error message.

    The command line comes from /proc/<pid>/cmdline when the process is visible from here, else the
    executable DuckDB names.
    """
    found = _LOCK_HOLDER.search(message)
    if not found:
        return "another process"
    pid = int(found["pid"])
    return f"PID {pid} ({describe_process(pid) or found['exe']})"


def describe_process(pid: int) -> str | None:
    """The command line of a local process (program name without its directory) and its user."""
    try:
        argv = [
            a.decode(errors="replace")
            for a in Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
            if a
        ]
        uid = next(
            line.split()[1]
            for line in Path(f"/proc/{pid}/status").read_text().splitlines()
            if line.startswith("Uid:")
        )
    except (OSError, StopIteration, IndexError):
        return None
    if not argv:
        return None
    # Scripts passed as arguments (the duckdb CLI wrapper's `-cmd "SET ..."`) are shortened.
    args = [" ".join(a.split())[:24] + "..." if "\n" in a or len(a) > 120 else a for a in argv[1:]]
    command = shlex.join([os.path.basename(argv[0]), *args])
    if len(command) > 240:
        command = command[:237] + "..."
    try:
        import pwd

        user = pwd.getpwuid(int(uid)).pw_name
    except (ImportError, KeyError, ValueError):
        user = f"uid {uid}"
    return f"{command}, user {user}"


class Warehouse:
    """A handle on the warehouse; cheap to create, opens connections only when used."""

    def __init__(
        self,
        url: str,
        lock_timeout_s: float | None = None,
        on_lock_wait: Callable[[str], None] | None = None,
    ):
        """`lock_timeout_s`: how long to wait for a DuckDB file another process holds (default
        DEVSIGNAL_WAREHOUSE_LOCK_TIMEOUT_S); `on_lock_wait` receives the progress lines meanwhile
        (default: this module's logger, a warning)."""
        self.url = url
        self.lock_timeout_s = (
            load_settings().warehouse_lock_timeout_s if lock_timeout_s is None else lock_timeout_s
        )
        self.on_lock_wait = on_lock_wait or _log.warning
        self.lock_report_after_s = LOCK_REPORT_AFTER_S
        self.lock_report_every_s = LOCK_REPORT_EVERY_S
        self._session: duckdb.DuckDBPyConnection | None = None
        if url.startswith("duckdb:"):
            self.dialect = "duckdb"
            path = url.removeprefix("duckdb:").removeprefix("//").removeprefix("/")
            self.path = (
                None
                if path in ("", ":memory:")
                else Path("/" + path.lstrip("/") if url.startswith("duckdb:///") else path)
            )
            if self.path is None:
                raise WarehouseConfigError(
                    "DEVSIGNAL_WAREHOUSE_URL=duckdb:///:memory: cannot be shared between Dagster steps; "
                    "use a file such as duckdb:///$DEVSIGNAL_HOME/warehouse.duckdb"
                )
            self._engine = None
        elif url.startswith(("postgresql:", "postgresql+psycopg2:", "postgres:")):
            self.dialect = "postgres"
            self.path = None
            pg_url = re.sub(r"^postgres(ql)?(\+\w+)?:", "postgresql+psycopg2:", url)
            # Every session in UTC, as DuckDB's: dates of timestamptz values, date_trunc and interval
            # arithmetic must not depend on the server's configured time zone.
            self._engine = sa.create_engine(
                pg_url, poolclass=NullPool, connect_args={"options": "-c timezone=UTC"}
            )
        else:
            raise WarehouseConfigError(
                f"DEVSIGNAL_WAREHOUSE_URL must start with duckdb:/// or postgresql://, got {self.safe_url!r}"
            )

    @property
    def safe_url(self) -> str:
        return safe_url(self.url)

    # --- connections ---------------------------------------------------------------------------

    @contextmanager
    def session(self) -> Iterator[Warehouse]:
        """Reuse one DuckDB connection for every transaction and read inside the block.

        Opening a large DuckDB file costs tens of milliseconds each time; a run that issues many
        statements (the SQL models and their tests) opens it once. It holds DuckDB's single
        write lock for the whole block. No-op on PostgreSQL (pooled connections per transaction).
        """
        if self.dialect != "duckdb" or self._session is not None:
            yield self
            return
        with self._duckdb(read_only=False) as con:
            self._session = con
            try:
                yield self
            finally:
                self._session = None

    @contextmanager
    def read_connection(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """A read-only DuckDB connection for set-based exports (COPY ... TO); DuckDB only."""
        if self.dialect != "duckdb":
            raise WarehouseConfigError(f"{self.safe_url} is not a DuckDB warehouse")
        with self._duckdb(read_only=True) as con:
            yield con

    def _connect_duckdb(self, read_only: bool) -> duckdb.DuckDBPyConnection:
        """Open the file, waiting while another process holds it (see the module docstring)."""
        assert self.path is not None
        started = time.monotonic()
        previous = _lock_waits.get(self.path)
        if previous and started - previous[1] < LOCK_WAIT_CONTINUES_S:
            started = previous[0]
        next_report, last_holder, delay = time.monotonic() + self.lock_report_after_s, None, 0.05
        while True:
            try:
                con = duckdb.connect(str(self.path), read_only=read_only)
                _lock_waits.pop(self.path, None)
                return con
            except duckdb.IOException as exc:
                if not _is_duckdb_lock_error(exc):
                    raise
                holder = lock_holder(str(exc))
            now = time.monotonic()
            _lock_waits[self.path] = (started, now)
            waited = now - started
            if waited >= self.lock_timeout_s:
                raise WarehouseLockedError(
                    f"the DuckDB warehouse {self.path} is still held by {holder} after "
                    f"{waited:.1f} s ({LOCK_TIMEOUT_VARIABLE}={self.lock_timeout_s:g}): end that "
                    "session (analysts: query the published copy, `devsignal read-path`, which "
                    "never blocks the pipeline), then run again"
                )
            if now >= next_report or (last_holder is not None and holder != last_holder):
                self.on_lock_wait(
                    f"the DuckDB warehouse {self.path} is held by {holder}; waiting for it "
                    f"({waited:.0f} s of {self.lock_timeout_s:g} s, {LOCK_TIMEOUT_VARIABLE})"
                )
                next_report, last_holder = now + self.lock_report_every_s, holder
            time.sleep(min(delay * random.uniform(0.5, 1.0), self.lock_timeout_s - waited))
            delay = min(delay * 2, 1.0)

    @contextmanager
    def _duckdb(self, read_only: bool) -> Iterator[duckdb.DuckDBPyConnection]:
        if self._session is not None:
            yield self._session
            return
        assert self.path is not None
        self.path.parent.mkdir(parents=True, exist_ok=True)
        if read_only and not self.path.exists():
            read_only = False
        con = self._connect_duckdb(read_only)
        try:
            con.execute("SET TimeZone = 'UTC'")
            # Readers always ORDER BY; and DuckDB 1.5.6 can drop a large INSERT into a table created
            # from an empty scan in the same transaction unless insertion order is not preserved.
            con.execute("SET preserve_insertion_order = false")
            if os.environ.get("DEVSIGNAL_DUCKDB_MEMORY_LIMIT"):
                con.execute(f"SET memory_limit = '{os.environ['DEVSIGNAL_DUCKDB_MEMORY_LIMIT']}'")
            yield con
        finally:
            con.close()

    @contextmanager
    def transaction(self) -> Iterator[WarehouseTransaction]:
        """One atomic unit of writes: everything in the block commits together or not at all."""
        if self.dialect == "duckdb":
            with self._duckdb(read_only=False) as con:
                con.execute("BEGIN TRANSACTION")
                try:
                    yield _DuckDBTransaction(con)
                except BaseException:
                    con.execute("ROLLBACK")
                    raise
                con.execute("COMMIT")
        else:
            assert self._engine is not None
            with self._engine.begin() as conn:
                yield _PostgresTransaction(conn)

    def read_df(self, sql: str, params: dict[str, Any] | None = None) -> pd.DataFrame:
        """Run a read query (`:name` parameters) and return a DataFrame."""
        if self.dialect == "duckdb":
            with self._duckdb(read_only=True) as con:
                return con.execute(_duckdb_params(sql), params or {}).df()
        assert self._engine is not None
        with self._engine.connect() as conn:
            result = conn.execute(sa.text(sql), params or {})
            return pd.DataFrame(result.fetchall(), columns=list(result.keys()))

    def scalar(self, sql: str, params: dict[str, Any] | None = None) -> Any:
        frame = self.read_df(sql, params)
        return None if frame.empty else frame.iat[0, 0]

    def table_exists(self, qualified_name: str) -> bool:
        return _table_exists(self.read_df, qualified_name)

    # --- schema --------------------------------------------------------------------------------

    def ensure_tables(self, specs: Sequence[TableSpec] = WAREHOUSE_TABLES) -> None:
        """Create the schemas and any missing table or column (additive migrations only), and
        write the specs' descriptions into the catalog (COMMENT ON) where they differ.

        One catalog query finds what exists and its comments, so a warehouse that is up to date
        (every run's resources ask) costs a few milliseconds, not a statement per table.
        """
        with self.transaction() as tx:
            if self.dialect == "postgres":
                # Runs for several organizations start at once; one creates, the others wait.
                tx.execute("SELECT pg_advisory_xact_lock(8675309)")
            existing = comments.read_catalog(tx, SCHEMAS)
            for schema in SCHEMAS:
                tx.execute(f"CREATE SCHEMA IF NOT EXISTS {schema}")
            for spec in specs:
                current = existing.get((spec.schema, spec.name))
                if current is None:
                    tx.execute(spec.ddl(self.dialect))
                else:
                    for column in spec.columns:
                        if column.name not in current.columns:
                            tx.execute(
                                f"ALTER TABLE {spec.qualified_name} ADD COLUMN {column.name} "
                                f"{spec.column_type(column.name, self.dialect)}"
                            )
                comments.apply_comments(
                    tx,
                    comments.changed_comments(
                        spec.qualified_name,
                        spec.description,
                        {c.name: c.description for c in spec.columns},
                        current,
                    ),
                )

    # --- cursors -------------------------------------------------------------------------------

    def get_cursor(self, organization_id: str, source: str, cursor_name: str) -> str | None:
        if not self.table_exists(RAW_SYNC_CURSORS.qualified_name):
            return None
        return self.scalar(
            _CURSOR_SQL,
            {"o": organization_id, "s": source, "c": cursor_name},
        )


class WarehouseTransaction:
    """Writes inside one transaction. Created by `Warehouse.transaction()`."""

    dialect: str

    def execute(self, sql: str, params: dict[str, Any] | None = None) -> None:
        raise NotImplementedError

    def fetch_df(self, sql: str, params: dict[str, Any] | None = None) -> pd.DataFrame:
        raise NotImplementedError

    def execute_sql(self, sql: str) -> None:
        """Run SQL exactly as written (no `:name` parameters), e.g. a compiled model."""
        raise NotImplementedError

    def table_exists(self, qualified_name: str) -> bool:
        """Whether the table exists as this transaction sees it."""
        return _table_exists(self.fetch_df, qualified_name)

    def _stage(self, spec: TableSpec, frame: pd.DataFrame) -> str:
        """Make `frame` queryable as a relation shaped like `spec`; return its name."""
        raise NotImplementedError

    def drop_stage(self, stage: str) -> None:
        raise NotImplementedError

    def stage_frame(self, name: str, frame: pd.DataFrame, types: Mapping[str, str]) -> str:
        """Copy `frame` into a temporary table `name` for set-based SQL; returns `name`.

        `types` maps each column to a portable type (text, bigint, double, boolean, timestamptz,
        json). One bulk step (Arrow for DuckDB, COPY for PostgreSQL); a table of the same name
        staged earlier in the transaction is replaced. It disappears with the transaction's
        connection; callers may drop it sooner with `DROP TABLE`.
        """
        raise NotImplementedError

    def fetch_rows(
        self, sql: str, params: dict[str, Any] | None = None, batch_rows: int = 100_000
    ) -> Iterator[list[tuple]]:
        """Stream a query's result as lists of at most `batch_rows` plain tuples (bounded memory,
        no DataFrame conversion: for feeding another database's bulk insert).

        Run no other statement in this transaction until the iterator is exhausted.
        """
        raise NotImplementedError

    def merge(self, spec: TableSpec, frame: pd.DataFrame) -> MergeCounts:
        """Upsert on the primary key. Rows whose values are unchanged are left untouched.

        Large frames go in slices of MERGE_BATCH_ROWS inside the same transaction, which bounds the
        engine's working memory without giving up atomicity.
        """
        frame = _prepare(spec, frame).drop_duplicates(list(spec.primary_key), keep="first")
        new = updated = 0
        for start in range(0, len(frame), MERGE_BATCH_ROWS):
            counts = self._merge_batch(spec, frame.iloc[start : start + MERGE_BATCH_ROWS])
            new, updated = new + counts.new, updated + counts.updated
        return MergeCounts(new, updated)

    def _merge_batch(self, spec: TableSpec, frame: pd.DataFrame) -> MergeCounts:
        stage = self._stage(spec, frame)
        pk_join = " AND ".join(f"t.{k} = s.{k}" for k in spec.primary_key)
        changed_t = (
            " OR ".join(f"t.{c} IS DISTINCT FROM s.{c}" for c in spec.compared_columns) or "FALSE"
        )
        counts = self.fetch_df(
            f"SELECT count(*) FILTER (WHERE t.{spec.primary_key[0]} IS NULL) AS new, "
            f"count(*) FILTER (WHERE t.{spec.primary_key[0]} IS NOT NULL AND ({changed_t})) AS updated "
            f"FROM {stage} s LEFT JOIN {spec.qualified_name} t ON {pk_join}"
        )
        updatable = [c for c in spec.column_names if c not in spec.primary_key + spec.insert_only]
        set_clause = ", ".join(f"{c} = excluded.{c}" for c in updatable)
        changed_x = " OR ".join(
            f"t.{c} IS DISTINCT FROM excluded.{c}" for c in spec.compared_columns
        )
        conflict = (
            f"DO UPDATE SET {set_clause} WHERE {changed_x}"
            if updatable and changed_x
            else "DO NOTHING"
        )
        cols = ", ".join(spec.column_names)
        self.execute(
            f"INSERT INTO {spec.qualified_name} AS t ({cols}) SELECT {cols} FROM {stage} "
            f"ON CONFLICT ({', '.join(spec.primary_key)}) {conflict}"
        )
        self.drop_stage(stage)
        return MergeCounts(int(counts.at[0, "new"]), int(counts.at[0, "updated"]))

    def replace_partition(self, spec: TableSpec, frame: pd.DataFrame, organization_id: str) -> int:
        """Delete-then-insert one organization's rows (for tables rebuilt from upstream each run)."""
        frame = _prepare(spec, frame)
        if not frame.empty and set(frame["organization_id"]) != {organization_id}:
            raise ValueError(
                f"{spec.qualified_name}: rows for other organizations in partition {organization_id!r}"
            )
        self.execute(
            f"DELETE FROM {spec.qualified_name} WHERE organization_id = :o", {"o": organization_id}
        )
        if frame.empty:
            return 0
        stage = self._stage(spec, frame)
        cols = ", ".join(spec.column_names)
        self.execute(f"INSERT INTO {spec.qualified_name} ({cols}) SELECT {cols} FROM {stage}")
        self.drop_stage(stage)
        return len(frame)

    def get_cursor(self, organization_id: str, source: str, cursor_name: str) -> str | None:
        frame = self.fetch_df(
            _CURSOR_SQL,
            {"o": organization_id, "s": source, "c": cursor_name},
        )
        return None if frame.empty else frame.iat[0, 0]

    def set_cursor(self, organization_id: str, source: str, cursor_name: str, value: str) -> None:
        self.merge(
            RAW_SYNC_CURSORS,
            pd.DataFrame(
                {
                    "organization_id": [organization_id],
                    "source": [source],
                    "cursor_name": [cursor_name],
                    "value": [value],
                    "updated_at": [pd.Timestamp.now(tz="UTC")],
                }
            ),
        )


def _prepare(spec: TableSpec, frame: pd.DataFrame) -> pd.DataFrame:
    """Reorder to the table's columns, fail clearly on unknown ones, serialize JSON columns."""
    unknown = set(frame.columns) - set(spec.column_names)
    if unknown:
        raise ValueError(f"{spec.qualified_name} has no columns {sorted(unknown)}")
    frame = frame.reindex(columns=list(spec.column_names))
    for column in spec.columns:
        if column.type == "bigint" and frame[column.name].dtype != "Int64":
            frame[column.name] = frame[column.name].astype("Int64")
    for column in spec.json_columns:
        values = frame[column]
        needs_dump = values.map(lambda v: not (v is None or isinstance(v, str)) and not _isna(v))
        if needs_dump.any():
            frame[column] = values.where(
                ~needs_dump,
                pd.Series(dumps_column(values[needs_dump]), index=values[needs_dump].index),
            )
    for column in spec.columns:
        # PostgreSQL text cannot hold NUL; drop it on both engines so they store the same value.
        if column.type in ("text", "json") and pd.api.types.is_string_dtype(frame[column.name]):
            has_nul = frame[column.name].str.contains("\x00", regex=False, na=False)
            if has_nul.any():
                frame[column.name] = frame[column.name].where(
                    ~has_nul, frame[column.name].str.replace("\x00", "", regex=False)
                )
    return frame


def _table_exists(read: Callable[..., pd.DataFrame], qualified_name: str) -> bool:
    schema, name = qualified_name.split(".")
    found = read(
        "SELECT count(*) AS n FROM information_schema.tables WHERE table_schema = :s AND table_name = :n",
        {"s": schema, "n": name},
    )
    return bool(int(found.iat[0, 0]))


def _adhoc_spec(name: str, types: Mapping[str, str]) -> TableSpec:
    """A throwaway spec so staged frames get the same portable -> engine types as tables."""
    columns = tuple(Column(column, type_, column) for column, type_ in types.items())
    return TableSpec("temp", name, "staged frame", columns, primary_key=(columns[0].name,))


def _isna(value: Any) -> bool:
    return isinstance(value, float) and value != value


def _duckdb_params(sql: str) -> str:
    """`:name` -> `$name` (DuckDB's named parameters), leaving string literals alone."""
    return _LITERAL_OR_PARAM.sub(lambda m: f"${m.group(1)}" if m.group(1) else m.group(0), sql)


class _DuckDBTransaction(WarehouseTransaction):
    dialect = "duckdb"

    def __init__(self, con: duckdb.DuckDBPyConnection):
        self.con = con
        self._stages = 0

    def execute(self, sql: str, params: dict[str, Any] | None = None) -> None:
        self.con.execute(_duckdb_params(sql), params or {})

    def fetch_df(self, sql: str, params: dict[str, Any] | None = None) -> pd.DataFrame:
        return self.con.execute(_duckdb_params(sql), params or {}).df()

    def execute_sql(self, sql: str) -> None:
        self.con.execute(sql)

    def _stage(self, spec: TableSpec, frame: pd.DataFrame) -> str:
        # A typed view over the registered DataFrame: no copy of the batch inside DuckDB, which
        # keeps a 100k-post sync's peak memory down (the frame is scanned once per statement).
        self._stages += 1
        frame_name, stage = f"_frame_{self._stages}", f"_stage_{self._stages}"
        self.con.register(frame_name, frame)
        casts = ", ".join(
            f"CAST({c} AS {spec.column_type(c, 'duckdb')}) AS {c}" for c in spec.column_names
        )
        self.con.execute(f"CREATE TEMP VIEW {stage} AS SELECT {casts} FROM {frame_name}")
        return stage

    def drop_stage(self, stage: str) -> None:
        self.con.execute(f"DROP VIEW {stage}")
        self.con.unregister(stage.replace("_stage_", "_frame_"))

    def stage_frame(self, name: str, frame: pd.DataFrame, types: Mapping[str, str]) -> str:
        spec = _adhoc_spec(name, types)
        self._stages += 1
        source = f"_frame_{self._stages}"
        self.con.register(source, frame.reindex(columns=list(types)))
        casts = ", ".join(f"CAST({c} AS {spec.column_type(c, 'duckdb')}) AS {c}" for c in types)
        try:
            self.con.execute(f"CREATE OR REPLACE TEMP TABLE {name} AS SELECT {casts} FROM {source}")
        finally:
            self.con.unregister(source)
        return name

    def fetch_rows(
        self, sql: str, params: dict[str, Any] | None = None, batch_rows: int = 100_000
    ) -> Iterator[list[tuple]]:
        result = self.con.execute(_duckdb_params(sql), params or {})
        while rows := result.fetchmany(batch_rows):
            yield rows


class _PostgresTransaction(WarehouseTransaction):
    dialect = "postgres"

    def __init__(self, conn: sa.Connection):
        self.conn = conn
        self._stages = 0

    def execute(self, sql: str, params: dict[str, Any] | None = None) -> None:
        self.conn.execute(sa.text(sql), params or {})

    def execute_sql(self, sql: str) -> None:
        self.conn.exec_driver_sql(sql)

    def fetch_df(self, sql: str, params: dict[str, Any] | None = None) -> pd.DataFrame:
        result = self.conn.execute(sa.text(sql), params or {})
        return pd.DataFrame(result.fetchall(), columns=list(result.keys()))

    def _stage(self, spec: TableSpec, frame: pd.DataFrame) -> str:
        self._stages += 1
        stage = f"_stage_{self._stages}"
        self.conn.exec_driver_sql(
            f"CREATE TEMP TABLE {stage} (LIKE {spec.qualified_name} INCLUDING DEFAULTS) ON COMMIT DROP"
        )
        # A NULL marker no real value can collide with (a text value '\\N' must stay text); short,
        # because pandas cuts na_rep to 32 characters in float columns.
        null = f"NULL-{uuid.uuid4().hex[:20]}"
        buffer = io.StringIO()
        frame.to_csv(
            buffer, index=False, header=False, na_rep=null, date_format="%Y-%m-%d %H:%M:%S.%f%z"
        )
        buffer.seek(0)
        cursor = self.conn.connection.dbapi_connection.cursor()
        cursor.copy_expert(
            f"COPY {stage} ({', '.join(spec.column_names)}) FROM STDIN WITH (FORMAT csv, NULL '{null}')",
            buffer,
        )
        return stage

    def drop_stage(self, stage: str) -> None:
        self.execute(f"DROP TABLE {stage}")

    def stage_frame(self, name: str, frame: pd.DataFrame, types: Mapping[str, str]) -> str:
        spec = _adhoc_spec(name, types)
        columns = ", ".join(f"{c} {spec.column_type(c, 'postgres')}" for c in types)
        self.execute(f"DROP TABLE IF EXISTS {name}")
        self.execute(f"CREATE TEMP TABLE {name} ({columns})")
        # At most 32 characters: pandas cuts na_rep to that width in float columns.
        null = f"NULL-{uuid.uuid4().hex[:20]}"
        buffer = io.StringIO()
        frame.reindex(columns=list(types)).to_csv(
            buffer, index=False, header=False, na_rep=null, date_format="%Y-%m-%d %H:%M:%S.%f%z"
        )
        buffer.seek(0)
        cursor = self.conn.connection.dbapi_connection.cursor()
        cursor.copy_expert(
            f"COPY {name} ({', '.join(types)}) FROM STDIN WITH (FORMAT csv, NULL '{null}')", buffer
        )
        self.execute(f"ANALYZE {name}")  # temp tables get no autovacuum statistics
        return name

    def fetch_rows(
        self, sql: str, params: dict[str, Any] | None = None, batch_rows: int = 100_000
    ) -> Iterator[list[tuple]]:
        statement = sa.text(sql).execution_options(stream_results=True, max_row_buffer=batch_rows)
        for part in self.conn.execute(statement, params or {}).partitions(batch_rows):
            yield [tuple(row) for row in part]
