"""The code location as the Dagster UI sees it, and its schedule and sensor."""

from __future__ import annotations

from datetime import datetime

import dagster as dg
import pytest

from devsignal_pipelines.definitions import defs
from devsignal_pipelines.defs.models.assets import MODEL_KEYS
from devsignal_pipelines.defs.resources import ControlDBResource
from devsignal_pipelines.defs.schedules import enrichment_companies_daily, twitter_every_30_minutes
from devsignal_pipelines.defs.tenants.sensors import organizations_sensor
from devsignal_pipelines.lib.stores.control import ControlDB

DUCKDB_ONLY = pytest.mark.parametrize("stores", ["duckdb"], indirect=True)


def test_definitions_load() -> None:
    dg.Definitions.validate_loadable(defs)


def test_every_job_runs_its_steps_in_the_runs_own_process() -> None:
    # A scheduled run started a process per step (seconds of imports each) and was 30x slower
    # than the same work through `devsignal sync`; benchmarks/bench_scheduled_run.py measures it.
    jobs = list(defs.resolve_all_job_defs())
    assert len(jobs) > 5
    assert {job.name: job.executor_def.name for job in jobs} == {
        job.name: "in_process" for job in jobs
    }


def test_every_asset_is_described_grouped_owned_and_typed() -> None:
    specs = list(defs.resolve_all_asset_specs())
    assert {s.key.to_user_string() for s in specs} >= {
        "raw/tweets", "raw/twitter_users", "core/identity_links", "core/contacts", "core/companies", "core/signals"
    }  # fmt: skip
    for spec in specs:
        name = spec.key.to_user_string()
        assert spec.description and len(spec.description) > 40, name
        assert spec.group_name != "default", name
        assert spec.kinds and spec.owners, name
        assert spec.metadata.get("dagster/column_schema"), name
        if spec.key in MODEL_KEYS:
            # SQL models span every organization in one build (organization_id is a column).
            assert spec.partitions_def is None, name
        else:
            assert spec.partitions_def is not None, name
            assert spec.partitions_def.name == "organizations", name


def test_key_checks_exist_for_tweets_and_signals() -> None:
    checks = {
        (k.asset_key.to_user_string(), k.name) for k in defs.resolve_asset_graph().asset_check_keys
    }
    for asset in ("raw/tweets", "core/signals"):
        assert (asset, "primary_key_unique") in checks
        assert (asset, "required_columns_not_null") in checks


def _connected_control(stores: dict[str, str]) -> ControlDB:
    control = ControlDB(stores["control"])
    control.create_all()
    for org in ("acme", "nimbus", "quill"):
        control.add_organization(org)
    control.connect_source("acme", "twitter", {"keywords": ["acmedb"]}, "ACME_TOKEN")
    control.connect_source("nimbus", "twitter", {"keywords": ["nimbus"]}, "NIMBUS_TOKEN")
    return control


@DUCKDB_ONLY
def test_sensor_adds_connected_and_removes_disconnected_organizations(stores) -> None:
    control = _connected_control(stores)
    with (
        dg.instance_for_test() as instance,
        dg.build_sensor_context(
            instance=instance, resources={"control_db": ControlDBResource()}
        ) as context,
    ):
        instance.add_dynamic_partitions("organizations", ["gone"])
        result = organizations_sensor(context)
        adds = [
            r
            for r in result.dynamic_partitions_requests
            if isinstance(r, dg.AddDynamicPartitionsRequest)
        ]
        deletes = [
            r
            for r in result.dynamic_partitions_requests
            if isinstance(r, dg.DeleteDynamicPartitionsRequest)
        ]
        assert adds[0].partition_keys == ["acme", "nimbus"]
        assert deletes[0].partition_keys == ["gone"]

        instance.delete_dynamic_partition("organizations", "gone")
        instance.add_dynamic_partitions("organizations", ["acme", "nimbus"])
        control.disconnect_source("nimbus", "twitter")
        result = organizations_sensor(context)
        assert [r.partition_keys for r in result.dynamic_partitions_requests] == [["nimbus"]]


@DUCKDB_ONLY
def test_schedule_requests_one_run_per_connected_organization(stores) -> None:
    _connected_control(stores)
    with dg.instance_for_test() as instance:
        instance.add_dynamic_partitions(
            "organizations", ["acme"]
        )  # nimbus not yet added by the sensor
        # Used as context managers so the contexts release the instance they open.
        with dg.build_schedule_context(
            instance=instance,
            resources={"control_db": ControlDBResource()},
            scheduled_execution_time=datetime(2026, 11, 27, 12, 30),
        ) as context:
            requests = twitter_every_30_minutes(context)
    assert [(r.partition_key, r.run_key) for r in requests] == [
        ("acme", "twitter:acme:2026-11-27T12:30:00")
    ]
    assert twitter_every_30_minutes.default_status == dg.DefaultScheduleStatus.RUNNING
    assert organizations_sensor.default_status == dg.DefaultSensorStatus.RUNNING


@DUCKDB_ONLY
def test_enrichment_schedule_runs_companies_only_with_a_valid_run_config(stores) -> None:
    control = _connected_control(stores)
    control.connect_source("acme", "enrichment", {}, "ACME_ENRICHMENT_KEY")
    with dg.instance_for_test() as instance:
        instance.add_dynamic_partitions("organizations", ["acme", "nimbus"])
        with dg.build_schedule_context(
            instance=instance,
            resources={"control_db": ControlDBResource()},
            scheduled_execution_time=datetime(2026, 11, 28, 3, 0),
        ) as context:
            requests = enrichment_companies_daily(context)
    assert [r.partition_key for r in requests] == ["acme"]
    job = defs.resolve_job_def(enrichment_companies_daily.job_name)
    assert dg.validate_run_config(job, requests[0].run_config)
    assert requests[0].run_config["ops"]["raw__enrichment_cache"]["config"]["kinds"] == ["company"]
