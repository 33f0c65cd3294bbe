"""`devsignal --help` and the commands that do not run Dagster stay light.

Each case runs the CLI in a fresh interpreter (this test process has imported everything already)
and looks at which modules it loaded. No timing here: the speed itself is measured by
benchmarks/bench_cli.py.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

# What `--help` must never load: each costs 0.1 s to 1 s of start-up.
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

# Runs `main` for each argument list of argv[1] (JSON: a list of lists, or "ALL_HELP": `--help` of
# every group and command), then prints the modules of argv[2] it loaded, as the last line.
SCRIPT = """
import json, sys
import click
from devsignal_pipelines.cli.main import main

heavy = json.loads(sys.argv[2])
runs = json.loads(sys.argv[1])
if runs == "ALL_HELP":
    runs = []

    def walk(command, path):
        runs.append([*path, "--help"])
        if isinstance(command, click.Group):
            for name, sub in command.commands.items():
                walk(sub, [*path, name])

    walk(main, [])
codes = []
for args in runs:
    try:
        main(args, prog_name="devsignal")
        codes.append(0)
    except SystemExit as exc:
        codes.append(exc.code or 0)
sys.stdout.flush()
print()
print(json.dumps({
    "runs": runs,
    "codes": codes,
    "loaded": sorted(m for m in heavy if m in sys.modules),
}))
"""


def _run(runs: list[list[str]] | str, home: Path, stdin: str = "") -> tuple[str, dict]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("DEVSIGNAL_") or k == "DEVSIGNAL_SECRET_KEY"
    }
    env["DEVSIGNAL_HOME"] = str(home)
    proc = subprocess.run(
        [sys.executable, "-c", SCRIPT, json.dumps(runs), json.dumps(HEAVY)],
        input=stdin,
        capture_output=True,
        text=True,
        env=env,
        cwd=home,
        timeout=300,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    output, _, last = proc.stdout.rstrip("\n").rpartition("\n")
    return output, json.loads(last)


def test_help_of_every_command_loads_no_heavy_module(tmp_path: Path) -> None:
    output, result = _run("ALL_HELP", tmp_path)
    commands = {" ".join(args[:-1]) for args in result["runs"]}
    # The walk really covered the tree, groups and their subcommands included.
    for expected in ("", "orgs", "orgs list", "orgs connect", "orgs api-key", "sql", "sql list",
                     "sql compile", "webhooks", "webhooks subscribe", "sync", "import", "api",
                     "read-path", "identity explain", "sandbox serve", "classify"):  # fmt: skip
        assert expected in commands
    assert set(result["codes"]) == {0}
    assert output.count("Usage: devsignal") == len(result["runs"])
    assert "Commands:\n  api " in output
    assert "--source [twitter|stackoverflow|github|enrichment|events|crm|all]" in output  # sync
    assert "--dialect [duckdb|postgres]" in output  # sql compile
    assert "--event [" in output  # webhooks subscribe
    assert result["loaded"] == []


@pytest.mark.parametrize(
    "args",
    [["--help"], ["orgs", "--help"], ["sql", "--help"], ["webhooks", "--help"], ["sync", "--help"]],
)
def test_one_help_loads_no_heavy_module(tmp_path: Path, args: list[str]) -> None:
    output, result = _run([args], tmp_path)
    assert output.startswith("Usage: devsignal")
    assert result["loaded"] == []


def test_orgs_list_loads_only_the_control_db(tmp_path: Path) -> None:
    output, result = _run([["orgs", "list"]], tmp_path)
    assert "no organizations yet" in output
    assert (tmp_path / "control.db").exists()  # it did read the control DB of DEVSIGNAL_HOME
    assert set(result["loaded"]) <= {"sqlalchemy"}  # no Dagster, pandas, sqlglot, duckdb


@pytest.mark.parametrize(
    "args",
    [["webhooks", "list"], ["orgs", "add", "acme"], ["sql", "list"], ["read-path"], ["classify"]],
)
def test_commands_that_do_not_run_dagster_do_not_load_it(tmp_path: Path, args: list[str]) -> None:
    output, result = _run([args], tmp_path, stdin="acmedb is great\n")
    assert result["codes"] in ([0], [1])  # read-path: 1 until something is published
    assert output
    assert "dagster" not in result["loaded"]
