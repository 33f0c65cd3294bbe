"""Analysts and the pipeline side by side, as real processes: the published read path never blocks
a sync, and a session holding the warehouse file itself is named, waited for, then reported."""

from __future__ import annotations

import os
import subprocess
import sys

import duckdb
import pytest

from devsignal_pipelines.lib.stores.published import read_manifest
from devsignal_pipelines.runner import run_sql_models
from devsignal_pipelines.settings import LOCK_TIMEOUT_VARIABLE, load_settings
from tests.analyst_sessions import SAFETY_TIMEOUT_S, ReaderProcess, duckdb_cli_session
from tests.integration.conftest import ANCHOR

DUCKDB_ONLY = pytest.mark.parametrize("stores", ["duckdb"], indirect=True)
DEVSIGNAL = os.path.join(os.path.dirname(sys.executable), "devsignal")
COUNT_SIGNALS = "SELECT count(*) FROM core.signals"


def _differences(read_path, warehouse_path, table: str) -> int:
    """Rows in one copy of `table` and not the other, both ways."""
    with duckdb.connect(str(read_path), read_only=True) as con:
        con.execute(f"ATTACH '{warehouse_path}' AS w (READ_ONLY)")
        return con.execute(
            f"SELECT (SELECT count(*) FROM (SELECT * FROM {table} EXCEPT ALL SELECT * FROM w.{table}))"
            f" + (SELECT count(*) FROM (SELECT * FROM w.{table} EXCEPT ALL SELECT * FROM {table}))"
        ).fetchone()[0]


@DUCKDB_ONLY
def test_an_analyst_session_on_the_read_path_never_blocks_syncs_and_sees_their_commits(
    make_pipeline, world, monkeypatch
) -> None:
    # Were the pipeline to wait for the analyst, it would fail after 10 s instead of 300.
    monkeypatch.setenv(LOCK_TIMEOUT_VARIABLE, "10")
    pipeline = make_pipeline()
    organization_id = world.organizations[0].id
    first = pipeline.sync(organization_id, "twitter")
    assert first.success, first.error
    read_path = load_settings().read_path

    analyst = ReaderProcess(read_path)  # open across the next sync and the model run
    try:
        seen = analyst.query(COUNT_SIGNALS)[0][0]
        assert seen == pipeline.warehouse.scalar(COUNT_SIGNALS) > 0

        events = pipeline.sync(organization_id, "events")  # the product's events: more signals
        assert events.success, events.error
        models = run_sql_models(pipeline.defs, pipeline.instance, as_of=ANCHOR.isoformat())
        assert models.success, models.error

        assert pipeline.warehouse.scalar(COUNT_SIGNALS) > seen
        assert analyst.query(COUNT_SIGNALS) == [[seen]]  # the open session keeps its snapshot
    finally:
        analyst.close()

    # Reopened, the read path holds exactly what the runs committed.
    for table in (
        "core.signals",
        "core.contacts",
        "core.account_scores",
        "analytics.signal_trends",
    ):
        assert _differences(read_path, pipeline.warehouse.path, table) == 0, table
    reopened = ReaderProcess(read_path)
    try:
        assert reopened.query(COUNT_SIGNALS) == [[pipeline.warehouse.scalar(COUNT_SIGNALS)]]
        published = {name for (name,) in reopened.query("SELECT table_name FROM published_tables")}
        assert {"core.signals", "core.account_scores", "analytics.signal_funnel"} <= published
        assert not any(name.startswith(("raw.", "intermediate.")) for name in published)
    finally:
        reopened.close()


@DUCKDB_ONLY
def test_a_sync_names_the_session_holding_the_warehouse_waits_then_fails_in_one_line(
    make_pipeline, world, tmp_path
) -> None:
    pipeline = make_pipeline()
    organization_id = world.organizations[0].id
    pipeline.warehouse.ensure_tables()
    environment = {
        **os.environ,
        LOCK_TIMEOUT_VARIABLE: "3",
        "DEVSIGNAL_X_API_URL": pipeline.server.base_url,
    }
    # The reproduction: (echo "select 1;"; sleep 400) | duckdb -readonly warehouse.duckdb
    with duckdb_cli_session(pipeline.warehouse.path, "-readonly") as holder:
        result = subprocess.run(
            [DEVSIGNAL, "sync", organization_id, "--source", "twitter"],
            env=environment, cwd=tmp_path, capture_output=True, text=True, timeout=SAFETY_TIMEOUT_S * 5,
        )  # fmt: skip
    output = result.stdout + result.stderr
    assert result.returncode == 1, output
    assert "Traceback" not in output and "Stack Trace" not in output and "IOException" not in output
    named = f"PID {holder} (duckdb "
    waiting = [line for line in result.stderr.splitlines() if "waiting for it" in line]
    assert waiting and named in waiting[0] and "-readonly" in waiting[0], output
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith(f"sync failed for {organization_id}"), output
    assert named in last and f"{LOCK_TIMEOUT_VARIABLE}=3" in last and "devsignal read-path" in last
    assert pipeline.warehouse.scalar("SELECT count(*) FROM raw.tweets") == 0


@DUCKDB_ONLY
def test_an_organizations_sync_republishes_its_own_rows_and_the_models_every_organizations(
    make_pipeline, world
) -> None:
    pipeline = make_pipeline()
    first, second = (org.id for org in world.organizations[:2])
    publish_dir = load_settings().publish_dir

    def signal_parts() -> dict[str, str]:
        return {k: p["file"] for k, p in read_manifest(publish_dir)["tables"]["core.signals"]["parts"].items()}  # fmt: skip

    assert pipeline.sync(first, "twitter").success
    before = signal_parts()
    assert list(before) == [first]
    assert pipeline.sync(second, "twitter").success
    after = signal_parts()
    assert sorted(after) == sorted([first, second])
    assert after[first] == before[first]  # the second organization's run left the first's file

    models = run_sql_models(pipeline.defs, pipeline.instance, as_of=ANCHOR.isoformat())
    assert models.success, models.error
    scores = read_manifest(publish_dir)["tables"]["core.account_scores"]["parts"]
    assert {first, second} <= set(scores)  # a run across organizations publishes each one's part
    assert (
        _differences(load_settings().read_path, pipeline.warehouse.path, "core.account_scores") == 0
    )
