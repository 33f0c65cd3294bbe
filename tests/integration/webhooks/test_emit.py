"""Events from table changes: the real pipeline's materializations and score snapshots."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pandas as pd
import pytest
import sqlalchemy as sa

from devsignal_pipelines.lib.sources.crm.records import normalize_records
from devsignal_pipelines.lib.sources.crm.upsert import write_records
from devsignal_pipelines.lib.stores import control as c
from devsignal_pipelines.lib.stores.warehouse import Warehouse
from devsignal_pipelines.lib.webhooks.emit import emit_score_events

DUCKDB_ONLY = pytest.mark.parametrize("stores", ["duckdb"], indirect=True)
S1 = datetime(2026, 11, 20, 6, 0, tzinfo=UTC)
S2, S3 = S1 + timedelta(days=1), S1 + timedelta(days=2)


def _outbox(control) -> pd.DataFrame:
    return control.read_df(
        sa.select(c.webhook_events.c.id, c.webhook_events.c.organization_id, c.webhook_events.c.event_type, c.webhook_events.c.payload)
    )  # fmt: skip


def _counts(control) -> dict[tuple[str, str], int]:
    return _outbox(control).groupby(["organization_id", "event_type"]).size().to_dict()


@DUCKDB_ONLY
def test_a_sync_emits_events_and_a_rerun_emits_none(make_pipeline, world) -> None:
    pipeline = make_pipeline()
    org = world.organizations[0].id
    # The CRM import and deal updates wrote their events when they happened.
    seeded = _counts(pipeline.control)
    assert {t for _, t in seeded} == {
        "company.created", "contact.created", "deal.created", "deal.stage_changed"
    }  # fmt: skip
    assert pipeline.sync(org).success
    counts = _counts(pipeline.control)
    signals = pipeline.warehouse.scalar(
        "SELECT count(*) FROM core.signals WHERE organization_id = :o", {"o": org}
    )
    contacts = pipeline.warehouse.scalar(
        "SELECT count(*) FROM core.contacts WHERE organization_id = :o", {"o": org}
    )
    assert counts[(org, "signal.created")] == signals
    # CRM contacts (at the import) and contacts resolution created (at the sync), each once.
    assert counts[(org, "contact.created")] == contacts
    assert {key: n for key, n in counts.items() if key[0] != org} == {
        key: n for key, n in seeded.items() if key[0] != org
    }  # nothing new for an organization that did not run
    before = _outbox(pipeline.control)

    # One CRM edit through the CRM write path: exactly one contact.updated, at once, naming the
    # field and its old value; the sync after it emits nothing new (no second contact.updated).
    crm_id, old_name = pipeline.control.read_df(
        sa.select(c.contact_identities.c.platform_user_id, c.contacts.c.full_name)
        .join(c.contacts, c.contacts.c.id == c.contact_identities.c.contact_id)
        .where(
            c.contact_identities.c.organization_id == org, c.contact_identities.c.platform == "crm"
        )
        .order_by(c.contact_identities.c.platform_user_id)
        .limit(1)
    ).iloc[0]
    record = normalize_records("contacts", [{"id": crm_id, "name": "Grace Hopper"}])
    assert write_records(pipeline.control, org, "contacts", record).events == 1
    edited = _outbox(pipeline.control)
    new = edited[~edited["id"].isin(before["id"])]
    assert new["event_type"].tolist() == ["contact.updated"]
    data = json.loads(new.iloc[0]["payload"])["data"]
    assert data["changed_fields"] == ["full_name"] and data["previous"] == {"full_name": old_name}
    assert data["full_name"] == "Grace Hopper"

    outcome = pipeline.sync(org)
    assert outcome.success
    assert outcome.materializations["core/signals"]["webhook_events_new"] == 0
    after = _outbox(pipeline.control)
    assert (
        after.sort_values("id")
        .reset_index(drop=True)
        .equals(edited.sort_values("id").reset_index(drop=True))
    )  # no event rewritten, none added


def _history(warehouse: Warehouse, rows: list[tuple]) -> None:
    with warehouse.transaction() as tx:
        tx.execute(
            "CREATE TABLE IF NOT EXISTS core.account_score_history (organization_id text, company_id text, "
            "snapshot_at timestamptz, score double precision, tier text, signals bigint, last_signal_at timestamptz)"
        )
        tx.stage_frame(
            "_history_rows",
            pd.DataFrame(rows, columns=["organization_id", "company_id", "snapshot_at", "score", "tier", "signals"]),
            {"organization_id": "text", "company_id": "text", "snapshot_at": "timestamptz", "score": "double", "tier": "text", "signals": "bigint"},
        )  # fmt: skip
        tx.execute(
            "INSERT INTO core.account_score_history (organization_id, company_id, snapshot_at, score, tier, signals) "
            "SELECT organization_id, company_id, snapshot_at, score, tier, signals FROM _history_rows"
        )


def test_score_events_compare_each_company_with_its_previous_snapshot(stores) -> None:
    warehouse = Warehouse(stores["warehouse"])
    warehouse.ensure_tables()
    from devsignal_pipelines.lib.stores.control import ControlDB

    control = ControlDB(stores["control"])
    control.create_all()
    _history(warehouse, [
        ("acme", "co1", S1, 40.0, "WARM", 3),
        ("acme", "co2", S1, 10.0, "COLD", 1),
        ("nimbus", "co1", S1, 80.0, "HOT", 9),
        # S2: co1 score up within WARM; co2 unchanged; co3 first snapshot; nimbus co1 drops tier.
        ("acme", "co1", S2, 55.5, "WARM", 5),
        ("acme", "co2", S2, 10.0, "COLD", 1),
        ("acme", "co3", S2, 90.0, "HOT", 12),
        ("nimbus", "co1", S2, 60.0, "WARM", 9),
        # S3: only co2 has a row, and it changed tier; it compares with S2.
        ("acme", "co2", S3, 75.0, "HOT", 8),
    ])  # fmt: skip
    assert emit_score_events(warehouse, control, S1) == 0  # first snapshots: nothing to compare
    assert emit_score_events(warehouse, control, S2) == 3
    assert emit_score_events(warehouse, control, S2) == 0  # idempotent on the snapshot
    assert emit_score_events(warehouse, control, S3) == 2
    events = [json.loads(p) for p in _outbox(control)["payload"]]
    got = sorted(
        (e["organization"], e["data"]["company_id"], e["type"], e["occurred_at"][:10])
        for e in events
    )
    assert got == [
        ("acme", "co1", "score.changed", "2026-11-21"),
        ("acme", "co2", "score.changed", "2026-11-22"),
        ("acme", "co2", "tier.changed", "2026-11-22"),
        ("nimbus", "co1", "score.changed", "2026-11-21"),
        ("nimbus", "co1", "tier.changed", "2026-11-21"),
    ]
    tier = next(e for e in events if e["type"] == "tier.changed" and e["organization"] == "nimbus")
    assert tier["data"]["previous_tier"] == "HOT" and tier["data"]["tier"] == "WARM"
    assert tier["data"]["previous_score"] == 80.0 and tier["data"]["score_delta"] == -20.0


def test_score_changed_waits_for_the_threshold_counted_from_the_last_event_sent(stores) -> None:
    from devsignal_pipelines.lib.stores.control import ControlDB

    warehouse = Warehouse(stores["warehouse"])
    warehouse.ensure_tables()
    control = ControlDB(stores["control"])
    control.create_all()
    for org in ("acme", "nimbus"):
        control.add_organization(org)
    control.set_score_threshold("nimbus", 1.0)  # nimbus wants every point
    snapshots = [datetime(2026, 11, 20 + day, tzinfo=UTC) for day in range(5)]
    # acme co1 decays 2 points a snapshot; co2 crosses a tier boundary by half a point.
    rows = [("acme", "co1", at, 50.0 - 2 * i, "WARM", 3) for i, at in enumerate(snapshots)]
    rows += [("acme", "co2", at, 39.5 if i < 2 else 40.0, "COLD" if i < 2 else "WARM", 1)
             for i, at in enumerate(snapshots)]  # fmt: skip
    rows += [("nimbus", "co1", at, 50.0 - 2 * i, "WARM", 3) for i, at in enumerate(snapshots)]
    _history(warehouse, rows)
    sent = [emit_score_events(warehouse, control, at) for at in snapshots]
    events = sorted(
        (e["organization"], e["data"]["company_id"], e["type"], e["data"]["snapshot_at"][:10],
         e["data"]["previous_score"], e["data"]["score"])
        for e in (json.loads(p) for p in _outbox(control)["payload"])
    )  # fmt: skip
    assert events == [
        # Decay of 2 a snapshot: reported when it adds up to 5 against what was last sent (50).
        ("acme", "co1", "score.changed", "2026-11-23", 50.0, 44.0),
        # A tier change is always sent, a half-point score move is not.
        ("acme", "co2", "tier.changed", "2026-11-22", 39.5, 40.0),
        # Nimbus set 1 point: every snapshot.
        *[("nimbus", "co1", "score.changed", f"2026-11-{21 + i}", 50.0 - 2 * i, 48.0 - 2 * i)
          for i in range(4)],
    ]  # fmt: skip
    assert sent == [0, 1, 2, 2, 1]
    assert emit_score_events(warehouse, control, snapshots[3]) == 0  # an old snapshot again


@DUCKDB_ONLY
def test_score_events_need_the_history_table_and_an_aware_time(stores) -> None:
    from devsignal_pipelines.lib.stores.control import ControlDB

    warehouse, control = Warehouse(stores["warehouse"]), ControlDB(stores["control"])
    control.create_all()
    with pytest.raises(ValueError, match="time zone"):
        emit_score_events(warehouse, control, datetime(2026, 11, 20))
    with pytest.raises(LookupError, match=r"core\.account_score_history does not exist"):
        emit_score_events(warehouse, control, S1)
