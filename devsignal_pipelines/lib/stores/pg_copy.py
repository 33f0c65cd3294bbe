"""COPY plain Python rows into a PostgreSQL table: the bulk path of the control DB's writers."""

from __future__ import annotations

import csv
import io
import uuid
from collections.abc import Iterable, Sequence
from typing import Any

import sqlalchemy as sa


def copy_rows(
    conn: sa.Connection, table: str, columns: Sequence[str], rows: Iterable[Sequence[Any]]
) -> None:
    """COPY `rows` (values in `columns` order) into `table` within `conn`'s transaction.

    Each value is written as `str(value)` by the csv module, so an int stays an int (a pandas
    frame of ints and NULLs would write 120.0) and a datetime keeps its offset; None is NULL,
    spelled with a marker no real value can collide with (a text value '\\N' stays text).
    """
    null = f"NULL-{uuid.uuid4().hex}"
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    for row in rows:
        writer.writerow([null if value is None else value for value in row])
    buffer.seek(0)
    conn.connection.dbapi_connection.cursor().copy_expert(
        f"COPY {table} ({', '.join(columns)}) FROM STDIN WITH (FORMAT csv, NULL '{null}')", buffer
    )
