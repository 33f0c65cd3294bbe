"""The sensors only request runs; the delivery job sends, for real, through Dagster."""

from __future__ import annotations

import dagster as dg
import pytest

from devsignal_pipelines.definitions import defs
from devsignal_pipelines.defs.resources import ControlDBResource
from devsignal_pipelines.defs.webhooks.sensors import webhook_outbox_sensor, webhook_retry_sensor
from devsignal_pipelines.lib.webhooks import store
from devsignal_pipelines.lib.webhooks.events import Event
from devsignal_pipelines.lib.webhooks.outbox import write_events
from devsignal_pipelines.lib.webhooks.settings import WebhookSettings
from tests.integration.webhooks.test_delivery import T0

DUCKDB_ONLY = pytest.mark.parametrize("stores", ["duckdb"], indirect=True)


def _materialize(instance: dg.DagsterInstance, *keys: str) -> None:
    for key in keys:
        instance.report_runless_asset_event(
            dg.AssetMaterialization(asset_key=dg.AssetKey(key.split("/")), partition="acme")
        )


@DUCKDB_ONLY
def test_outbox_sensor_requests_one_run_per_new_materializations_with_a_cursor(
    stores, control, settings
) -> None:
    resources = {"control_db": ControlDBResource()}

    def tick(cursor: str | None = None) -> dg.SensorResult:
        with dg.build_sensor_context(
            instance=instance, resources=resources, cursor=cursor
        ) as context:
            return webhook_outbox_sensor(context)

    store.subscribe(control, "acme", "signal.created", "http://127.0.0.1:9/a", settings)
    with dg.instance_for_test() as instance:
        assert tick().skip_reason is not None
        write_events(control, [Event.build("acme", "signal.created", ("s1",), T0, {"x": 1})])
        _materialize(instance, "core/signals", "core/contacts", "raw/tweets")
        result = tick()
        [request] = result.run_requests
        assert result.cursor and request.run_key == f"webhook-outbox:{result.cursor}"
        # The same tick again (same cursor) asks for the same run key: Dagster runs it once.
        assert tick().run_requests[0].run_key == request.run_key
        # From the saved cursor: nothing new, then one new materialization -> a new key.
        assert not tick(result.cursor).run_requests
        # Not watched: raw tables, and core.deals (deal events are written by the CRM write).
        _materialize(instance, "raw/tweets", "core/deals")
        assert not tick(result.cursor).run_requests
        _materialize(instance, "core/companies")
        later = tick(result.cursor)
        assert later.run_requests[0].run_key != request.run_key
        assert int(later.cursor) > int(result.cursor)


@DUCKDB_ONLY
def test_no_run_is_requested_when_no_subscription_wants_the_new_events(
    stores, control, settings
) -> None:
    """An organization without subscriptions (or subscribed to other types) gets no empty runs."""
    resources = {"control_db": ControlDBResource()}
    store.subscribe(control, "acme", "deal.created", "http://127.0.0.1:9/a", settings)
    write_events(control, [Event.build("acme", "signal.created", ("s1",), T0, {"x": 1})])
    write_events(control, [Event.build("nimbus", "deal.created", ("d1",), T0, {"x": 1})])
    with dg.instance_for_test() as instance:
        for _ in range(3):
            _materialize(instance, "core/signals")
            with dg.build_sensor_context(instance=instance, resources=resources) as context:
                outbox = webhook_outbox_sensor(context)
            with dg.build_sensor_context(instance=instance, resources=resources) as context:
                retry = webhook_retry_sensor(context)
            assert not outbox.run_requests
            assert "no active subscription" in outbox.skip_reason.skip_message
            assert not retry.run_requests


@DUCKDB_ONLY
def test_retry_sensor_requests_a_run_only_when_something_is_due(
    stores, control, receiver, settings, monkeypatch
) -> None:
    resources = {"control_db": ControlDBResource()}
    with dg.instance_for_test() as instance:
        with dg.build_sensor_context(instance=instance, resources=resources) as context:
            assert webhook_retry_sensor(context).skip_reason
        sub = store.subscribe(control, "acme", "signal.created", receiver.url("/a"), settings)
        receiver.endpoint("/a", secret=sub.secret)
        write_events(control, [Event.build("acme", "signal.created", ("s1",), T0, {"x": 1})])
        with dg.build_sensor_context(instance=instance, resources=resources) as context:
            [request] = webhook_retry_sensor(context).run_requests
        assert request.run_key.startswith("webhook-retries:")
        assert receiver.received == []  # the sensor sent nothing


@DUCKDB_ONLY
def test_the_delivery_job_delivers_for_real_and_logs_no_secret(
    stores, control, receiver, settings, monkeypatch, secret_key
) -> None:
    monkeypatch.setenv("DEVSIGNAL_WEBHOOK_ALLOWED_NETWORKS", "127.0.0.0/8")
    sub = store.subscribe(control, "acme", "signal.created", receiver.url("/a"), settings)
    receiver.endpoint("/a", secret=sub.secret)
    write_events(
        control, [Event.build("acme", "signal.created", (f"s{i}",), T0, {"i": i}) for i in range(3)]
    )
    job = defs.resolve_job_def("webhook_delivery")
    with dg.instance_for_test() as instance:
        result = job.execute_in_process(instance=instance)
        assert result.success
        assert len(receiver.verified("/a")) == 3
        logs = " ".join(str(e.message) for e in instance.all_logs(result.run_id))
        config = str(instance.get_run_by_id(result.run_id).run_config)
    for secret in (sub.secret, secret_key):
        assert secret not in logs and secret not in config
    output = next(e for e in result.all_events if e.event_type_value == "STEP_OUTPUT")
    assert "succeeded" in str(output.event_specific_data.metadata)


def test_definitions_carry_the_webhook_job_and_sensors() -> None:
    assert defs.resolve_job_def("webhook_delivery")
    names = {s.name for s in defs.sensors}
    assert {"webhook_outbox_sensor", "webhook_retry_sensor"} <= names
    assert WebhookSettings().timeout_s == 15.0
