"""Give a sandbox world's organizations their first-party data, through DevSignal's own paths.

`seed_first_party` writes in-process what `make demo` sends over HTTP and through files (see
demo/first_party.py): the CRM export through the import's validation and upsert, deals as the
CRM automation's updates, and the product's Segment messages through the intake the API uses.
Idempotent: records are keyed by their CRM ids and messages by messageId, with timestamps from
the world, so seeding twice (or on another machine with the same seed) gives the same data.
"""

from __future__ import annotations

import json
from datetime import datetime

from devsignal_pipelines.lib.sources.crm.records import normalize_records
from devsignal_pipelines.lib.sources.crm.upsert import write_records
from devsignal_pipelines.lib.sources.events.intake import write_intake
from devsignal_pipelines.lib.sources.events.messages import parse_body
from devsignal_pipelines.lib.stores.control import ControlDB
from devsignal_pipelines.sandbox.first_party import crm_export, deal_updates, segment_messages
from devsignal_pipelines.sandbox.world import World

DEMO_TOKEN_ENV = "DEVSIGNAL_DEMO_X_TOKEN"
DEMO_SE_KEY_ENV = "DEVSIGNAL_DEMO_SE_KEY"
DEMO_ENRICHMENT_KEY_ENV = "DEVSIGNAL_DEMO_ENRICHMENT_KEY"
BATCH_MESSAGES = 100  # what a Segment SDK puts in one /v1/batch


def add_organizations(control: ControlDB, world: World) -> None:
    control.create_all()
    for org in world.organizations:
        control.add_organization(org.id, org.name)


def seed_first_party(control: ControlDB, world: World) -> dict[str, int]:
    """Every organization's CRM, deal updates and product events; returns what was written."""
    add_organizations(control, world)
    counts = {"companies": 0, "contacts": 0, "deal_updates": 0, "messages": 0}
    # Stamped as the world's "now", so created_at of records without one is reproducible too.
    now = world.anchor
    for org in world.organizations:
        for kind, frame in crm_export(world, org.id).items():
            write_records(control, org.id, kind, normalize_records(kind, frame), now=now)
            counts[kind] += len(frame)
        for deal_id, body in deal_updates(world, org.id):
            record = normalize_records("deals", [{"id": deal_id, **body}])
            write_records(control, org.id, "deals", record, now=now)
            counts["deal_updates"] += 1
        messages = segment_messages(world, org.id)
        control.ensure_pushed_source(org.id, "events")
        for start in range(0, len(messages), BATCH_MESSAGES):
            body = json.dumps({"batch": messages[start : start + BATCH_MESSAGES]}).encode()
            parsed = parse_body(body, org.id, received_at(world), via="api")
            assert not parsed.errors, parsed.errors[:3]
            write_intake(control, parsed.rows)
            counts["messages"] += len(parsed.rows)
    return counts


def received_at(world: World) -> datetime:
    """When the demo's messages count as received: the world's "now" (reproducible)."""
    return world.anchor


def connect_demo_organizations(
    control: ControlDB,
    world: World,
    token_env: str = DEMO_TOKEN_ENV,
    se_key_env: str | None = DEMO_SE_KEY_ENV,
    enrichment_key_env: str | None = DEMO_ENRICHMENT_KEY_ENV,
) -> None:
    """Each organization tracks its product on X (keywords), Stack Overflow (tags) and GitHub (its
    repositories, its staff as members), and enriches its CRM."""
    for org in world.organizations:
        control.add_organization(org.id, org.name)
        control.connect_source(org.id, "twitter", {"keywords": list(org.keywords)}, token_env)
        if org.tags:
            control.connect_source(org.id, "stackoverflow", {"tags": list(org.tags)}, se_key_env)
        if world.github_repos.get(org.id):
            settings = {
                "repos": list(world.github_repos[org.id]),
                "members": list(world.github_members.get(org.id, [])),
            }
            control.connect_source(org.id, "github", settings, token_env)
        if enrichment_key_env:
            control.connect_source(org.id, "enrichment", {}, enrichment_key_env)
