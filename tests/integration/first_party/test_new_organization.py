"""A new organization following the README's "Sending your own data" reaches scores and a funnel."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import dagster as dg
import httpx
from click.testing import CliRunner

from devsignal_pipelines.cli.main import main
from devsignal_pipelines.defs.ingest.events.sensors import first_party_sensor
from devsignal_pipelines.defs.resources import ControlDBResource
from devsignal_pipelines.defs.tenants.partitions import organizations_partitions
from devsignal_pipelines.lib.sources.crm.records import normalize_records
from devsignal_pipelines.lib.sources.crm.upsert import write_records
from devsignal_pipelines.runner import run_sql_models

AS_OF = datetime(2026, 11, 30, tzinfo=UTC)
FUNNEL = [
    ("Repository Starred", 0),
    ("Docs Viewed", 1),
    ("Signed Up", 2),
    ("API Call Made", 3),
    ("Feature Used", 5),
]


def _cli(*args: str) -> str:
    result = CliRunner().invoke(main, list(args), catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.output


def test_a_new_organization_reaches_scores_and_a_funnel_with_its_own_data(
    stores, api, warehouse, runs
) -> None:
    _cli("orgs", "add", "newco")
    key = _cli("orgs", "api-key", "newco").split()[-1]
    client = httpx.Client(base_url=api.base_url, auth=(key, ""))
    batch = []
    for account in range(3):
        domain = f"customer{account}.io"
        for person in range(2):
            user = f"user-{account}-{person}"
            start = AS_OF - timedelta(days=20 - account)
            batch.append({"type": "identify", "userId": user, "timestamp": start.isoformat(),
                          "traits": {"email": f"dev{person}@{domain}", "name": f"Dev {person} {account}"}})  # fmt: skip
            batch.append({"type": "group", "userId": user, "groupId": f"acct-{account}", "timestamp": start.isoformat(),
                          "traits": {"name": f"Customer {account}", "website": f"https://{domain}", "plan": "team"}})  # fmt: skip
            for event, days in FUNNEL[: 3 + account]:
                batch.append({"type": "track", "userId": user, "event": event,
                              "timestamp": (start + timedelta(days=days, hours=person)).isoformat()})  # fmt: skip
    assert client.post("/v1/batch", json={"batch": batch}).status_code == 200
    deal = {"dealname": "Customer 2 - Team", "dealstage": "proposal", "amount": "24000",
            "company_domain": "customer2.io", "createdate": (AS_OF - timedelta(days=3)).isoformat()}  # fmt: skip
    r = client.put("/api/v1/deals/deal-1", json=deal)  # Basic auth with the key works here too
    assert r.status_code == 201

    outcome = runs.sync("newco", "all")  # every source newco has: the events and CRM it pushed
    assert outcome.materializations["raw/product_events"]["messages_new"] == len(batch)
    models = run_sql_models(runs.defs, runs.instance, as_of=AS_OF.isoformat())
    assert models.success and not models.failed_checks, (models.error, models.failed_checks)

    scores = warehouse.read_df(
        "SELECT c.name, s.score, s.tier FROM core.account_scores s JOIN core.companies c "
        "USING (organization_id, company_id) WHERE s.organization_id = 'newco' ORDER BY s.score DESC"
    )
    assert scores["name"].tolist() == [
        "Customer 2",
        "Customer 1",
        "Customer 0",
    ]  # more steps, more points
    assert (scores["score"] > 0).all()
    funnel = warehouse.read_df(
        "SELECT step_order, stage, accounts FROM analytics.signal_funnel "
        "WHERE organization_id = 'newco' ORDER BY step_order"
    )
    assert funnel["accounts"].tolist() == [3, 3, 3, 2, 1]
    deals = warehouse.read_df(
        "SELECT stage, amount FROM core.deals WHERE organization_id = 'newco'"
    )
    assert deals.values.tolist() == [["proposal", 24000.0]]


def test_the_sensor_loads_what_arrived_one_run_per_organization_at_a_time(
    stores, control, keys, api
) -> None:
    resources = {"control_db": ControlDBResource()}
    with dg.instance_for_test() as instance:
        with dg.build_sensor_context(instance=instance, resources=resources) as context:
            assert first_party_sensor(context).skip_reason.skip_message == "nothing new pushed"
        r = httpx.post(
            f"{api.base_url}/v1/track", json={"userId": "u", "event": "x"}, auth=(keys["acme"], "")
        )
        assert r.status_code == 200
        with dg.build_sensor_context(instance=instance, resources=resources) as context:
            result = first_party_sensor(context)
        assert not result.run_requests  # no partition for acme yet: organizations_sensor adds it
        instance.add_dynamic_partitions(organizations_partitions.name, ["acme", "nimbus"])
        with dg.build_sensor_context(instance=instance, resources=resources) as context:
            result = first_party_sensor(context)
        [request] = result.run_requests
        assert request.partition_key == "acme" and request.run_key.startswith("first-party:acme:")
        # A CRM write of nimbus asks for a run of nimbus once, not again on the next tick.
        write_records(
            control,
            "nimbus",
            "companies",
            normalize_records("companies", [{"id": "1", "name": "N"}]),
        )
        with dg.build_sensor_context(
            instance=instance, resources=resources, cursor=result.cursor
        ) as context:
            second = first_party_sensor(context)
        assert sorted(r.partition_key for r in second.run_requests) == ["acme", "nimbus"]
        with dg.build_sensor_context(
            instance=instance, resources=resources, cursor=second.cursor
        ) as context:
            third = first_party_sensor(context)
        assert [r.partition_key for r in third.run_requests] == [
            "acme"
        ]  # acme's messages still wait
