"""Real analyst sessions for the tests: the duckdb CLI left open on a file, and a duckdb reader
process that answers queries on demand."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

DUCKDB_CLI = Path(sys.executable).parent / "duckdb"
SAFETY_TIMEOUT_S = 60.0


def lock_holders(path: Path) -> set[int]:
    """PIDs holding a POSIX lock on `path`, from /proc/locks (DuckDB locks the file it opens)."""
    inode = os.stat(path).st_ino
    pids = set()
    for line in Path("/proc/locks").read_text().splitlines():
        fields = line.split()
        if "->" in fields or len(fields) < 6:  # a waiter, not a holder
            continue
        if int(fields[5].rsplit(":", 1)[1]) == inode:
            pids.add(int(fields[4]))
    return pids


@contextmanager
def duckdb_cli_session(path: Path, *flags: str) -> Iterator[int]:
    """`duckdb -readonly warehouse.duckdb` as an analyst leaves it open in a terminal (stdin open,
    nothing typed); yields the PID of the process holding the file once it holds it."""
    before = lock_holders(path)
    process = subprocess.Popen(
        [str(DUCKDB_CLI), *flags, str(path)],
        stdin=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + SAFETY_TIMEOUT_S
        while not (holders := lock_holders(path) - before - {os.getpid()}):
            if process.poll() is not None:
                raise AssertionError(f"duckdb CLI exited: {process.stderr.read().decode()}")
            if time.monotonic() > deadline:
                raise AssertionError(f"duckdb CLI did not open {path}")
            time.sleep(0.05)
        yield holders.pop()
    finally:
        process.stdin.close()  # end of input: the CLI exits like an analyst typing .quit
        process.wait(timeout=SAFETY_TIMEOUT_S)


_READER = textwrap.dedent(
    """
    import json, sys
    import duckdb
    con = duckdb.connect(sys.argv[1], read_only=True)
    print(json.dumps("ready"), flush=True)
    for sql in sys.stdin:
        try:
            print(json.dumps(con.execute(sql).fetchall(), default=str), flush=True)
        except Exception as exc:
            print(json.dumps({"error": str(exc)}), flush=True)
    """
)


class ReaderProcess:
    """A read-only duckdb session in its own process, kept open between queries."""

    def __init__(self, path: Path):
        self.process = subprocess.Popen(
            [sys.executable, "-c", _READER, str(path)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        first = self.process.stdout.readline()
        if json.loads(first or "null") != "ready":
            raise AssertionError(f"reader did not open {path}: {self.process.stderr.read()}")

    def query(self, sql: str) -> list:
        self.process.stdin.write(" ".join(sql.split()) + "\n")
        self.process.stdin.flush()
        answer = json.loads(self.process.stdout.readline())
        if isinstance(answer, dict):
            raise AssertionError(answer["error"])
        return answer

    def close(self) -> None:
        self.process.stdin.close()
        self.process.wait(timeout=SAFETY_TIMEOUT_S)
