"""Load a sandbox world's CRM side into the control DB and connect its organizations to X.

Idempotent: rows are inserted only when their id is new, with timestamps taken from the world, so
seeding twice (or on another machine with the same seed) gives the same control DB.
"""

from __future__ import annotations

from dataclasses import asdict
from datetime import timedelta

from devsignal_pipelines.lib.stores import control as c
from devsignal_pipelines.lib.stores.control import ControlDB
from devsignal_pipelines.sandbox.world import World

DEMO_TOKEN_ENV = "DEVSIGNAL_DEMO_X_TOKEN"
DEMO_SE_KEY_ENV = "DEVSIGNAL_DEMO_SE_KEY"
DEMO_ENRICHMENT_KEY_ENV = "DEVSIGNAL_DEMO_ENRICHMENT_KEY"


def seed_crm(control: ControlDB, world: World) -> dict[str, int]:
    """Organizations, companies, contacts, known identities, deals and product signals."""
    crm_since = world.anchor - timedelta(days=60)
    rows = {
        c.organizations: [
            {"id": o.id, "name": o.name, "created_at": crm_since} for o in world.organizations
        ],
        c.companies: [
            {**asdict(x), "created_at": crm_since, "updated_at": crm_since} for x in world.companies
        ],
        c.contacts: [
            {**asdict(x), "source": "crm", "created_at": crm_since, "updated_at": crm_since}
            for x in world.contacts
        ],
        c.contact_identities: [
            {
                **asdict(x),
                "method": "crm",
                "confidence": 1.0,
                "evidence": {},
                "created_at": crm_since,
            }
            for x in [*world.identities, *world.so_identities]
        ],
        c.deals: [{**asdict(x), "updated_at": x.created_at} for x in world.deals],
        c.product_signals: [
            {**asdict(x), "recorded_at": x.occurred_at} for x in world.product_signals
        ],
    }
    control.create_all()
    with control.begin() as conn:
        return {
            table.name: control.insert_missing(conn, table, table_rows)
            for table, table_rows in rows.items()
        }


def connect_demo_organizations(
    control: ControlDB,
    world: World,
    token_env: str = DEMO_TOKEN_ENV,
    se_key_env: str | None = DEMO_SE_KEY_ENV,
    enrichment_key_env: str | None = DEMO_ENRICHMENT_KEY_ENV,
) -> None:
    """Each organization tracks its product on X (keywords) and Stack Overflow (tags), and enriches its CRM."""
    for org in world.organizations:
        control.add_organization(org.id, org.name)
        control.connect_source(org.id, "twitter", {"keywords": list(org.keywords)}, token_env)
        if org.tags:
            control.connect_source(org.id, "stackoverflow", {"tags": list(org.tags)}, se_key_env)
        if enrichment_key_env:
            control.connect_source(org.id, "enrichment", {}, enrichment_key_env)
