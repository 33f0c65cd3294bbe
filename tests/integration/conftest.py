"""Fixtures for running the real pipeline: a seeded world, the sandbox over HTTP, Dagster runs."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta

import dagster as dg
import pytest

from devsignal_pipelines.definitions import build_definitions
from devsignal_pipelines.defs.resources import (
    EnrichmentResource,
    GitHubResource,
    StackExchangeResource,
    XApiResource,
)
from devsignal_pipelines.demo.seed import connect_demo_organizations, seed_first_party
from devsignal_pipelines.lib.stores.control import ControlDB
from devsignal_pipelines.lib.stores.warehouse import Warehouse
from devsignal_pipelines.runner import RunOutcome, run_organization
from devsignal_pipelines.sandbox.faults import Faults
from devsignal_pipelines.sandbox.server import SandboxServer
from devsignal_pipelines.sandbox.world import World, generate_world

TOKEN = "test-bearer-token-0123456789"
TOKEN_ENV = "DEVSIGNAL_TEST_X_TOKEN"
ANCHOR = datetime.fromisoformat("2026-11-20T00:00:00+00:00")
SEARCH_WINDOW = timedelta(days=7)


@pytest.fixture(scope="session")
def world() -> World:
    """A small world shared by the integration tests (read-only)."""
    return generate_world(seed=11, scale=0.5, anchor=ANCHOR)


def expected_tweet_ids(world: World, organization_id: str, now: datetime) -> set[str]:
    """Posts the X search should return at `now` (its last 7 days), computed from the world directly."""
    org = next(o for o in world.organizations if o.id == organization_id)
    patterns = [
        re.compile(r"(?<!\w)" + r"\s+".join(map(re.escape, k.split())) + r"(?!\w)", re.I)
        for k in org.keywords
    ]
    return {
        t["id"]
        for t in world.tweets
        if now - SEARCH_WINDOW
        <= datetime.fromisoformat(t["created_at"].replace("Z", "+00:00"))
        <= now
        and not any(r.get("type") == "retweeted" for r in t.get("referenced_tweets", []))
        and any(p.search(t["text"]) for p in patterns)
    }


class Pipeline:
    """The pipeline wired to one sandbox and one pair of stores."""

    def __init__(self, server: SandboxServer, stores: dict[str, str], world: World):
        self.server = server
        self.world = world
        self.warehouse = Warehouse(stores["warehouse"])
        self.control = ControlDB(stores["control"])
        self.instance = dg.DagsterInstance.ephemeral()
        self.resource_config = {
            "x_api": {
                "base_url": server.base_url,
                "backoff_base_s": 0.01,
                "max_rate_limit_wait_s": 3.0,
            },
            "stackexchange": {"base_url": server.base_url, "pace_s": 0.0, "backoff_base_s": 0.01},
            "enrichment": {
                "base_url": server.base_url,
                "batch_pause_s": 0.0,
                "backoff_base_s": 0.01,
            },
            "github": {
                "base_url": server.base_url,
                "backoff_base_s": 0.01,
                "max_rate_limit_wait_s": 3.0,
            },
        }
        self.configure()

    def configure(self, **updates: dict) -> None:
        """Definitions with these resource settings (tests swap resources, not code)."""
        for name, values in updates.items():
            self.resource_config[name] = {**self.resource_config[name], **values}
        self.defs = build_definitions(
            x_api=XApiResource(**self.resource_config["x_api"]),
            stackexchange=StackExchangeResource(**self.resource_config["stackexchange"]),
            enrichment=EnrichmentResource(**self.resource_config["enrichment"]),
            github=GitHubResource(**self.resource_config["github"]),
        )

    def sync(self, organization_id: str, source: str = "twitter") -> RunOutcome:
        return run_organization(self.defs, self.instance, organization_id, source)

    def table(self, name: str, order: str) -> list[tuple]:
        frame = self.warehouse.read_df(f"SELECT * FROM {name} ORDER BY {order}")
        return [tuple(map(str, row)) for row in frame.itertuples(index=False)]


@pytest.fixture
def make_pipeline(
    stores: dict[str, str], world: World, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Callable[..., Pipeline]]:
    """Start a sandbox (optionally with faults), seed the control DB, return a Pipeline."""
    pipelines: list[Pipeline] = []
    monkeypatch.setenv(TOKEN_ENV, TOKEN)

    def _make(faults: Faults | None = None, tokens: tuple[str, ...] = (TOKEN,)) -> Pipeline:
        server = SandboxServer(world, faults=faults, tokens=tokens).start()
        control = ControlDB(stores["control"])
        seed_first_party(control, world)
        connect_demo_organizations(
            control, world, token_env=TOKEN_ENV, se_key_env=TOKEN_ENV, enrichment_key_env=TOKEN_ENV
        )
        pipelines.append(Pipeline(server, stores, world))
        return pipelines[-1]

    yield _make
    for pipeline in pipelines:
        pipeline.server.stop()
        # Disposing resets Dagster's context-global state storage to a live instance (or none).
        pipeline.instance.dispose()
