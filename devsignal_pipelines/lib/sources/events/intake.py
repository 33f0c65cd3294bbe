"""The intake table in the control DB: accepted Segment messages, durable before the API answers.

Why a control-DB table and not a spool of files: the API, the loader and (with PostgreSQL) several
API replicas and run workers on other machines all reach the control DB already, nothing else is
shared between them; a transaction commits a whole batch or nothing; and the unique key
(organization_id, message_id) drops a re-sent message at the door. SQLite commits with
`synchronous=FULL` in WAL mode (the WAL is fsynced before COMMIT returns), PostgreSQL fsyncs its
WAL, so a 2xx means the message survives `kill -9` of every process and a power cut.

The API funnels concurrent requests through one `IntakeWriter`: while one transaction commits, the
next requests' messages queue and go in the following one (group commit), so a commit's fsync is
shared by every request it carries.

The loader reads what is pending per organization in `seq` order, loads it into the warehouse,
then deletes exactly the rows it loaded (by seq, never by range: on PostgreSQL a lower seq can
commit after a higher one). A crash between load and delete loads the same rows again, which the
warehouse's primary key makes harmless.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime

import pandas as pd
import sqlalchemy as sa

from devsignal_pipelines.lib.sources.events.messages import INTAKE_COLUMNS
from devsignal_pipelines.lib.stores import control as c
from devsignal_pipelines.lib.stores.control import ControlDB
from devsignal_pipelines.lib.stores.pg_copy import copy_rows

_TIME_COLUMNS = ("occurred_at", "original_timestamp", "sent_at", "received_at")
_TIME_POSITIONS = [INTAKE_COLUMNS.index(col) for col in _TIME_COLUMNS]
DELETE_BATCH = 5_000
READ_COLUMNS = ("seq", *INTAKE_COLUMNS)


def write_intake(
    control: ControlDB, rows: Sequence[tuple], conn: sa.Connection | None = None
) -> int:
    """Store intake rows (INTAKE_COLUMNS order) in one transaction; returns rows new to the
    table (a message id already waiting is skipped)."""
    if not rows:
        return 0
    if conn is None:
        with control.begin() as tx:
            return write_intake(control, rows, tx)
    if control.engine.dialect.name == "postgresql":
        return _copy_postgres(conn, rows)
    placeholders = ", ".join("?" for _ in INTAKE_COLUMNS)
    result = conn.exec_driver_sql(
        f"INSERT INTO event_intake ({_COLUMNS}) VALUES ({placeholders}) {_SKIP_KNOWN}",
        _sqlite_rows(rows),
    )
    return max(result.rowcount, 0)


_COLUMNS = ", ".join(INTAKE_COLUMNS)
_SKIP_KNOWN = "ON CONFLICT (organization_id, message_id) DO NOTHING"


def _sqlite_rows(rows: Sequence[tuple]) -> list[tuple]:
    """Times as SQLAlchemy's SQLite text (UTC, no offset). The messages of a request share their
    receivedAt and often their sentAt, so each distinct time is formatted once."""
    formatted: dict[datetime, str] = {}

    def text(value: datetime) -> str:
        found = formatted.get(value)
        if found is None:
            found = formatted[value] = (
                value.astimezone(UTC).replace(tzinfo=None).isoformat(" ", "microseconds")
            )
        return found

    out = []
    for row in rows:
        values = list(row)
        for position in _TIME_POSITIONS:
            if values[position] is not None:
                values[position] = text(values[position])
        out.append(tuple(values))
    return out


def _copy_postgres(conn: sa.Connection, rows: Sequence[tuple]) -> int:
    """COPY into a temporary table, then one INSERT ... SELECT that skips known message ids:
    about twice the speed of a multi-row INSERT ... VALUES (the server parses one short
    statement instead of thousands of literals)."""
    stage = f"_intake_{uuid.uuid4().hex[:12]}"
    conn.exec_driver_sql(
        f"CREATE TEMP TABLE {stage} AS SELECT {_COLUMNS} FROM event_intake WITH NO DATA"
    )
    copy_rows(conn, stage, INTAKE_COLUMNS, rows)
    result = conn.exec_driver_sql(
        f"INSERT INTO event_intake ({_COLUMNS}) SELECT {_COLUMNS} FROM {stage} {_SKIP_KNOWN}"
    )
    conn.exec_driver_sql(f"DROP TABLE {stage}")
    return max(result.rowcount, 0)


def pending(control: ControlDB) -> pd.DataFrame:
    """Per organization: messages waiting to be loaded and the highest seq among them."""
    i = c.event_intake
    return control.read_df(
        sa.select(
            i.c.organization_id,
            sa.func.count().label("messages"),
            sa.func.max(i.c.seq).label("max_seq"),
        )
        .group_by(i.c.organization_id)
        .order_by(i.c.organization_id)
    )


def read_pending(control: ControlDB, organization_id: str, limit: int) -> pd.DataFrame:
    """Up to `limit` waiting messages of the organization, oldest seq first (raw cursor, no ORM)."""
    postgres = control.engine.dialect.name == "postgresql"
    mark = "%s" if postgres else "?"
    sql = (
        f"SELECT {', '.join(READ_COLUMNS)} FROM event_intake WHERE organization_id = {mark} "
        f"ORDER BY seq LIMIT {int(limit)}"
    )
    with control.engine.connect() as conn:
        cursor = conn.connection.driver_connection.cursor()
        try:
            cursor.execute(sql, (organization_id,))
            rows = cursor.fetchall()
        finally:
            cursor.close()
    frame = pd.DataFrame.from_records(rows, columns=list(READ_COLUMNS))
    for column in _TIME_COLUMNS:
        frame[column] = pd.to_datetime(frame[column], utc=True, format="ISO8601")
    frame["seq"] = frame["seq"].astype("int64")
    return frame


def delete_loaded(control: ControlDB, organization_id: str, seqs: Sequence[int]) -> int:
    """Delete the intake rows that were loaded, in short transactions (the API keeps writing)."""
    deleted = 0
    i = c.event_intake
    ordered = sorted(int(s) for s in seqs)
    for start in range(0, len(ordered), DELETE_BATCH):
        chunk = ordered[start : start + DELETE_BATCH]
        with control.begin() as conn:
            result = conn.execute(
                sa.delete(i).where(i.c.organization_id == organization_id, i.c.seq.in_(chunk))
            )
            deleted += max(result.rowcount, 0)
    return deleted


class IntakeWriter:
    """Group commit for the API: `await write(rows)` returns once the rows are committed.

    Requests arriving while a commit is running share the next one, so N concurrent requests
    cost far fewer than N fsyncs. When a shared commit fails, each of its requests is retried in
    a transaction of its own: a request the store refuses fails alone, not its neighbours.
    """

    def __init__(self, control: ControlDB):
        self.control = control
        self._queue: list[tuple[Sequence[tuple], asyncio.Future[None]]] = []
        self._task: asyncio.Task[None] | None = None

    async def write(self, rows: Sequence[tuple]) -> None:
        loop = asyncio.get_running_loop()
        future: asyncio.Future[None] = loop.create_future()
        self._queue.append((rows, future))
        if self._task is None or self._task.done():
            self._task = loop.create_task(self._flush())  # kept: the loop holds tasks weakly
        await future

    async def _flush(self) -> None:
        from starlette.concurrency import run_in_threadpool

        while self._queue:
            requests, self._queue = self._queue, []
            try:
                await run_in_threadpool(
                    write_intake, self.control, [row for rows, _ in requests for row in rows]
                )
            except Exception as exc:
                if len(requests) == 1:
                    _settle(requests[0][1], exc)
                    continue
                for rows, future in requests:
                    try:
                        await run_in_threadpool(write_intake, self.control, rows)
                    except Exception as alone:  # this request's own problem (or the store's)
                        _settle(future, alone)
                    else:
                        _settle(future, None)
                continue
            for _, future in requests:
                _settle(future, None)


def _settle(future: asyncio.Future[None], error: Exception | None) -> None:
    if future.done():  # the client went away
        return
    if error is None:
        future.set_result(None)
    else:
        future.set_exception(error)


def chunked(rows: Sequence[tuple], size: int) -> Iterator[Sequence[tuple]]:
    for start in range(0, len(rows), size):
        yield rows[start : start + size]
