"""Benchmark: how long the `devsignal` command takes to start, for `--help` and light commands.

    python -m benchmarks.bench_cli [--runs 5] [--limit 0.5]

Each command runs as a fresh process (the `devsignal` script of this interpreter's environment),
--runs times after one untimed warm-up run, with DEVSIGNAL_HOME an empty temporary directory
(a new one for every `orgs list` run, so each reads a control DB it has just created). Prints the
best and the median wall time of each, and the heavy modules the command loaded with their
import time (one more run under `python -X importtime`).
Target: `--help` (of the CLI and of a group) under 0.5 s median; the other commands are printed,
not checked: they import what they run (SQLAlchemy, pandas, sqlglot), never Dagster.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

# (label, arguments, text the output must contain, checked against --limit)
CASES = [
    ("devsignal --help", ["--help"], "Usage: devsignal", True),
    ("devsignal orgs --help", ["orgs", "--help"], "Usage: devsignal orgs", True),
    ("devsignal sql --help", ["sql", "--help"], "Usage: devsignal sql", True),
    ("devsignal orgs list", ["orgs", "list"], "no organizations yet", False),
    ("devsignal sql list", ["sql", "list"], "analytics.", False),
]
HEAVY = (
    "dagster",
    "pandas",
    "sqlalchemy",
    "sqlglot",
    "duckdb",
    "httpx",
    "starlette",
    "devsignal_pipelines.lib.sql_models",
)


def _command() -> list[str]:
    script = Path(sys.executable).parent / "devsignal"
    return [str(script)] if script.exists() else [sys.executable, "-m", "devsignal_pipelines.cli"]


def _env(home: str) -> dict[str, str]:
    # Only DEVSIGNAL_HOME: no URL from this shell points the command at another control DB.
    env = {k: v for k, v in os.environ.items() if not k.startswith("DEVSIGNAL_")}
    env["DEVSIGNAL_HOME"] = home
    return env


def _run(command: list[str], expected: str, tmp: Path) -> float:
    home = tempfile.mkdtemp(dir=tmp)
    started = time.perf_counter()
    proc = subprocess.run(command, capture_output=True, text=True, env=_env(home), cwd=home)
    seconds = time.perf_counter() - started
    if proc.returncode != 0 or expected not in proc.stdout:
        raise SystemExit(
            f"{' '.join(command)} failed (exit {proc.returncode}):\n{proc.stdout}{proc.stderr}"
        )
    return seconds


def _heavy_imports(args: list[str], tmp: Path) -> str:
    """'pandas 0.37s, sqlalchemy 0.18s': the cumulative import time of each heavy module loaded."""
    home = tempfile.mkdtemp(dir=tmp)
    proc = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "devsignal_pipelines.cli", *args],
        capture_output=True,
        text=True,
        env=_env(home),
        cwd=home,
    )
    loaded = {}
    for line in proc.stderr.splitlines():
        if not line.startswith("import time:") or line.endswith("| imported package"):
            continue
        _, cumulative, name = line.split("|")
        if name.strip() in HEAVY:
            loaded[name.strip()] = int(cumulative) / 1e6
    return ", ".join(f"{name} {s:.2f}s" for name, s in loaded.items()) or "-"


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--limit", type=float, default=0.5, help="Seconds, for --help.")
    args = parser.parse_args()

    command = _command()
    print(f"command: {' '.join(command)}; best and median of {args.runs} fresh processes")
    print(f"{'':<24}{'best':>8}{'median':>9}  check      heavy modules loaded (import time)")
    failed = []
    with tempfile.TemporaryDirectory(prefix="bench_cli_") as tmp:
        for label, cli_args, expected, checked in CASES:
            _run([*command, *cli_args], expected, Path(tmp))  # warm-up: .pyc, file cache
            times = [_run([*command, *cli_args], expected, Path(tmp)) for _ in range(args.runs)]
            best, median = min(times), statistics.median(times)
            check = "-"
            if checked:
                check = f"{'ok' if median < args.limit else 'SLOW'} <{args.limit:g}s"
                if median >= args.limit:
                    failed.append(label)
            print(
                f"{label:<24}{best:>7.3f}s{median:>8.3f}s  {check:<10} "
                f"{_heavy_imports(cli_args, Path(tmp))}"
            )
    print(
        f"load average {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs "
        "(other work on the machine skews the numbers)"
    )
    print(
        f"--help under {args.limit:g}s (median): "
        + ("yes" if not failed else f"NO: {', '.join(failed)}")
    )
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
