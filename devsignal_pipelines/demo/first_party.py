"""`make demo` sends each organization's first-party data the way a customer would.

- the CRM export as CSV files under $DEVSIGNAL_HOME/demo/crm/<org>/, through `devsignal import`'s
  code path (checked line by line, one transaction per file);
- deal updates as a CRM automation (Zapier / Make) sends them: `PUT /api/v1/deals/{id}` to a
  `devsignal api` server on loopback;
- the product's events as a Segment SDK sends them: `POST /v1/batch`, 100 messages a batch,
  HTTP Basic with the organization's API key as write key.
The API keys it creates are deleted when it is done.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import sqlalchemy as sa

from devsignal_pipelines.api.app import create_app
from devsignal_pipelines.lib.imports import import_file
from devsignal_pipelines.lib.loopback import LoopbackServer
from devsignal_pipelines.lib.stores import control as c
from devsignal_pipelines.lib.stores.control import ControlDB
from devsignal_pipelines.lib.webhooks import store
from devsignal_pipelines.sandbox.first_party import crm_export, deal_updates, segment_messages
from devsignal_pipelines.sandbox.world import World

BATCH_MESSAGES = 100


@contextmanager
def api_server(control: ControlDB) -> Iterator[LoopbackServer]:
    with LoopbackServer(create_app(control), "/healthz", name="devsignal api") as server:
        yield server


@contextmanager
def demo_keys(control: ControlDB, world: World) -> Iterator[dict[str, str]]:
    """An API key per organization for the demo's requests, deleted afterwards."""
    created = {org.id: store.create_api_key(control, org.id) for org in world.organizations}
    try:
        yield {org: key for org, (_, key) in created.items()}
    finally:
        with control.begin() as conn:
            ids = [key_id for key_id, _ in created.values()]
            conn.execute(sa.delete(c.api_keys).where(c.api_keys.c.id.in_(ids)))


def send_first_party(
    control: ControlDB,
    world: World,
    api_url: str,
    keys: dict[str, str],
    home: Path,
    echo: Callable[[str], None],
) -> None:
    for org in world.organizations:
        files = write_crm_files(world, org.id, home / "demo" / "crm" / org.id)
        imported = {kind: import_file(control, org.id, kind, path) for kind, path in files.items()}
        summary = ", ".join(
            f"{kind} {r.created} new / {r.updated} updated" for kind, r in imported.items()
        )
        with httpx.Client(base_url=api_url, timeout=30) as client:
            updates = deal_updates(world, org.id)
            for deal_id, body in updates:
                client.put(
                    f"/api/v1/deals/{deal_id}",
                    json=body,
                    headers={"Authorization": f"Bearer {keys[org.id]}"},
                ).raise_for_status()
            messages = segment_messages(world, org.id)
            for start in range(0, len(messages), BATCH_MESSAGES):
                client.post(
                    "/v1/batch",
                    json={"batch": messages[start : start + BATCH_MESSAGES]},
                    auth=(keys[org.id], ""),
                ).raise_for_status()
        echo(
            f"  {org.id}: CRM import ({summary}), {len(updates)} deal updates over "
            f"PUT /api/v1/deals, {len(messages)} Segment messages over POST /v1/batch"
        )


def write_crm_files(world: World, organization_id: str, folder: Path) -> dict[str, Path]:
    """The organization's CRM export as CSV files, as a CRM's export button makes them."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = {}
    for kind, frame in crm_export(world, organization_id).items():
        paths[kind] = folder / f"{kind}.csv"
        frame.to_csv(paths[kind], index=False)
    return paths
