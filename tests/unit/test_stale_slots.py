"""Concurrency slots of runs that cannot release them, on the instances the project writes:
$DEVSIGNAL_HOME/dagster (SQLite) and deploy/dagster.yaml (PostgreSQL)."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import uuid
from collections.abc import Iterator

import dagster as dg
import pytest

from devsignal_pipelines.defs.resources import WarehouseResource
from devsignal_pipelines.defs.runs import free_stale_slots_sensor
from devsignal_pipelines.instance import (
    HOST_TAG,
    PID_TAG,
    PROCESS_START_TAG,
    ensure_dagster_home,
    free_stale_slots,
    process_tags,
)
from devsignal_pipelines.settings import load_settings
from tests.conftest import REPO_ROOT

POOL = "warehouse"


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def instance(request, tmp_path, monkeypatch) -> Iterator[dg.DagsterInstance]:
    """The instance `devsignal` writes under DEVSIGNAL_HOME, or the PostgreSQL one of deploy/."""
    monkeypatch.setenv("DEVSIGNAL_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path))  # restored after ensure_dagster_home
    if request.param == "sqlite":
        home = ensure_dagster_home(load_settings()).dagster_home
    else:
        monkeypatch.setenv("DAGSTER_PG_URL", request.getfixturevalue("pg_database"))
        home = tmp_path / "deploy"
        home.mkdir()
        shutil.copy(REPO_ROOT / "deploy" / "dagster.yaml", home / "dagster.yaml")
    instance = dg.DagsterInstance.from_config(str(home))
    instance.event_log_storage.set_concurrency_slots(POOL, 10)
    yield instance
    instance.dispose()


def _exited_process() -> int:
    """The pid of a real process that has exited (and been reaped)."""
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait()
    return process.pid


def _run_holding_a_slot(instance: dg.DagsterInstance, tags: dict[str, str]) -> str:
    run = instance.add_run(
        dg.DagsterRun(
            job_name="twitter_sync",
            run_id=str(uuid.uuid4()),
            status=dg.DagsterRunStatus.STARTED,
            tags={"dagster/partition": "acme", **tags},
        )
    )
    claim = instance.event_log_storage.claim_concurrency_slot(POOL, run.run_id, "core__signals")
    assert claim.is_claimed
    return run.run_id


def _holders(instance: dg.DagsterInstance) -> set[str]:
    info = instance.event_log_storage.get_concurrency_info(POOL)
    return {slot.run_id for slot in info.claimed_slots} | {p.run_id for p in info.pending_steps}


def test_every_instance_the_project_writes_frees_slots_of_ended_runs(instance) -> None:
    assert instance.run_monitoring_enabled
    assert instance.run_monitoring_settings["free_slots_after_run_end_seconds"] > 0


def test_only_the_slots_of_cli_runs_whose_process_is_gone_are_freed(instance) -> None:
    host = socket.gethostname()
    dead = _run_holding_a_slot(
        instance, {PID_TAG: str(_exited_process()), HOST_TAG: host, PROCESS_START_TAG: ""}
    )
    # Our own pid, but another process start: the pid was recycled, the run's process is gone.
    recycled = _run_holding_a_slot(
        instance, {PID_TAG: str(os.getpid()), HOST_TAG: host, PROCESS_START_TAG: "1"}
    )
    alive = _run_holding_a_slot(instance, process_tags())
    elsewhere = _run_holding_a_slot(
        instance, {PID_TAG: str(_exited_process()), HOST_TAG: f"not-{host}"}
    )
    launched_by_dagster = _run_holding_a_slot(instance, {})

    freed = free_stale_slots(instance)

    assert _holders(instance) == {alive, elsewhere, launched_by_dagster}
    assert len(freed) == 2 and all("is gone" in line for line in freed)
    assert any(dead[:8] in line for line in freed) and any(recycled[:8] in line for line in freed)
    for run_id in (dead, recycled):
        assert instance.get_run_by_id(run_id).status == dg.DagsterRunStatus.FAILURE
    for run_id in (alive, elsewhere, launched_by_dagster):
        assert instance.get_run_by_id(run_id).status == dg.DagsterRunStatus.STARTED
    assert free_stale_slots(instance) == []  # nothing left to free


def test_the_daemons_sensor_frees_the_slots_of_any_run_whose_process_died(instance) -> None:
    # A scheduled run, tagged by WarehouseResource in its own process, then killed.
    dead = _run_holding_a_slot(
        instance,
        {PID_TAG: str(_exited_process()), HOST_TAG: socket.gethostname(), PROCESS_START_TAG: ""},
    )
    alive = _run_holding_a_slot(instance, process_tags())

    result = free_stale_slots_sensor(dg.build_sensor_context(instance=instance))

    assert isinstance(result, dg.SkipReason) and dead[:8] in result.skip_message
    assert _holders(instance) == {alive}
    assert instance.get_run_by_id(dead).status == dg.DagsterRunStatus.FAILURE
    again = free_stale_slots_sensor(dg.build_sensor_context(instance=instance))
    assert again.skip_message == "every run holding a pool slot is alive"


def test_every_run_using_the_warehouse_names_the_process_holding_its_slots(tmp_path) -> None:
    @dg.asset(pool=POOL, required_resource_keys={"warehouse"})
    def uses_the_warehouse() -> None:
        pass

    with dg.instance_for_test() as instance:
        url = f"duckdb:///{tmp_path / 'warehouse.duckdb'}"
        result = dg.materialize(
            [uses_the_warehouse],
            instance=instance,
            resources={"warehouse": WarehouseResource(url=url)},
        )
        tags = instance.get_run_by_id(result.run_id).tags
    assert tags[PID_TAG] == str(os.getpid())
    assert tags[HOST_TAG] == socket.gethostname()
    assert tags[PROCESS_START_TAG] == process_tags()[PROCESS_START_TAG]
