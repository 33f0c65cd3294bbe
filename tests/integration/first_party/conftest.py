"""First-party data fixtures: a control DB and warehouse, `devsignal api` on loopback, API keys."""

from __future__ import annotations

from collections.abc import Iterator

import dagster as dg
import pytest

from devsignal_pipelines.api.app import create_app
from devsignal_pipelines.definitions import build_definitions
from devsignal_pipelines.lib.loopback import LoopbackServer
from devsignal_pipelines.lib.stores.control import ControlDB
from devsignal_pipelines.lib.stores.warehouse import Warehouse
from devsignal_pipelines.lib.webhooks import store
from devsignal_pipelines.runner import RunOutcome, run_organization

ORGS = ("acme", "nimbus")


@pytest.fixture
def control(stores: dict[str, str]) -> ControlDB:
    db = ControlDB(stores["control"])
    db.create_all()
    for org in ORGS:
        db.add_organization(org)
    return db


@pytest.fixture
def warehouse(stores: dict[str, str]) -> Warehouse:
    """The warehouse with its tables, as WarehouseResource hands it to assets."""
    store = Warehouse(stores["warehouse"])
    store.ensure_tables()
    return store


@pytest.fixture
def keys(control: ControlDB) -> dict[str, str]:
    return {org: store.create_api_key(control, org)[1] for org in ORGS}


@pytest.fixture
def api(control: ControlDB) -> Iterator[LoopbackServer]:
    """`devsignal api` on a free loopback port, over real HTTP."""
    with LoopbackServer(create_app(control), "/healthz", name="api") as server:
        yield server


class Runs:
    """Dagster runs of the real job definitions on an ephemeral instance."""

    def __init__(self) -> None:
        self.instance = dg.DagsterInstance.ephemeral()
        self.defs = build_definitions()

    def sync(self, organization_id: str, source: str = "events") -> RunOutcome:
        outcome = run_organization(self.defs, self.instance, organization_id, source)
        assert outcome.success, outcome.error
        assert not outcome.failed_checks, outcome.failed_checks
        return outcome


@pytest.fixture
def runs() -> Iterator[Runs]:
    r = Runs()
    yield r
    r.instance.dispose()
