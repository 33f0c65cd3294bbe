"""The identity graph over a sandbox world: X and Stack Overflow authors, the Dagster asset, the
sandbox's ground truth, on DuckDB+SQLite and on PostgreSQL.

Authors are loaded the way the connectors store them (their own frame builders), straight from
the world, so this test scores identity resolution alone, whatever the HTTP side does.
"""

from __future__ import annotations

import dagster as dg
import pandas as pd
import pytest

from devsignal_pipelines.defs.identity.assets import identity_links
from devsignal_pipelines.defs.resources import ControlDBResource, WarehouseResource
from devsignal_pipelines.demo.seed import seed_first_party
from devsignal_pipelines.demo.summary import identity_scores_by_platform
from devsignal_pipelines.lib.identity.explain import explain_contact
from devsignal_pipelines.lib.sources.stackoverflow.sync import users_frame as so_users_frame
from devsignal_pipelines.lib.sources.twitter.sync import users_frame as x_users_frame
from devsignal_pipelines.lib.stores.control import ControlDB
from devsignal_pipelines.lib.stores.tables import RAW_SO_USERS, RAW_TWITTER_USERS
from devsignal_pipelines.lib.stores.warehouse import Warehouse
from devsignal_pipelines.sandbox.world import World
from tests.integration.conftest import expected_tweet_ids


def _load_authors(world: World, warehouse: Warehouse) -> None:
    """raw.twitter_users / raw.so_users as a full sync at the world's anchor would leave them."""
    now = pd.Timestamp(world.anchor)
    anchor = int(world.anchor.timestamp())
    with warehouse.transaction() as tx:
        for org in world.organizations:
            posts = expected_tweet_ids(world, org.id, world.anchor)
            authors = sorted({t["author_id"] for t in world.tweets if t["id"] in posts})
            users = [world.twitter_users[a] for a in authors]
            tx.merge(RAW_TWITTER_USERS, x_users_frame(org.id, users, now))
            questions = [
                q
                for q in world.so_questions
                if set(q["tags"]) & set(org.tags) and q["creation_date"] <= anchor
            ]
            asked = {q["question_id"] for q in questions}
            answers = [
                a
                for a in world.so_answers
                if a["question_id"] in asked and a["creation_date"] <= anchor
            ]
            owners = {p["owner"].get("user_id") for p in [*questions, *answers]} - {None}
            so_users = [world.so_users[u] for u in sorted(owners)]
            tx.merge(RAW_SO_USERS, so_users_frame(org.id, so_users, now))


class Graph:
    def __init__(self, stores: dict[str, str], world: World):
        self.world = world
        self.warehouse = Warehouse(stores["warehouse"])
        self.warehouse.ensure_tables()
        self.control = ControlDB(stores["control"])
        seed_first_party(self.control, world)
        _load_authors(world, self.warehouse)
        self.instance = dg.DagsterInstance.ephemeral()
        self.instance.add_dynamic_partitions("organizations", [o.id for o in world.organizations])
        self.resources = {
            "warehouse": WarehouseResource(url=stores["warehouse"]),
            "control_db": ControlDBResource(url=stores["control"]),
        }

    def materialize(self, organization_id: str) -> dict:
        result = dg.materialize(
            [identity_links],
            partition_key=organization_id,
            instance=self.instance,
            resources=self.resources,
        )
        assert result.success
        (event,) = result.asset_materializations_for_node("core__identity_links")
        return {k: v.value for k, v in event.metadata.items()}

    def links(self) -> pd.DataFrame:
        return self.warehouse.read_df(
            "SELECT * FROM core.identity_links ORDER BY organization_id, platform, platform_user_id"
        )


@pytest.fixture
def graph(stores: dict[str, str], world: World) -> Graph:
    assert world.so_truth, "the sandbox world should have Stack Overflow users"
    return Graph(stores, world)


def test_both_platforms_link_precisely_against_the_ground_truth(graph: Graph) -> None:
    for org in graph.world.organizations:
        meta = graph.materialize(org.id)
        assert meta["authors_twitter"] > 0 and meta["authors_stackoverflow"] > 0, org.id
    scores = identity_scores_by_platform(graph.warehouse, graph.world)
    for org_id, by_platform in scores.items():
        for platform in ("twitter", "stackoverflow"):
            score = by_platform[platform]
            assert score["links_scored"] > 0, (org_id, platform)
            assert score["precision"] >= 0.99, (org_id, platform, score)
            assert score["recall"] >= 0.8, (org_id, platform, score)

    links = graph.links()
    assert not links.duplicated(["organization_id", "platform", "platform_user_id"]).any()
    assert links["contact_id"].notna().all()
    # Some people are one contact across both platforms.
    platforms_per_contact = links.groupby(["organization_id", "contact_id"])["platform"].nunique()
    assert (platforms_per_contact == 2).sum() > 0


def test_a_rerun_creates_nothing_and_rewrites_the_same_links(graph: Graph) -> None:
    org = graph.world.organizations[0].id
    first = graph.materialize(org)
    assert first["identities_created"] > 0
    before = graph.links()
    again = graph.materialize(org)
    assert (again["identities_created"], again["contacts_created"]) == (0, 0)
    pd.testing.assert_frame_equal(graph.links(), before)


@pytest.mark.parametrize("stores", ["duckdb"], indirect=True)
def test_every_linked_contact_can_be_explained(graph: Graph) -> None:
    org = graph.world.organizations[1].id
    graph.materialize(org)
    links = graph.links()
    for contact_id in links.loc[links["organization_id"] == org, "contact_id"].unique()[:50]:
        text = explain_contact(graph.warehouse, graph.control, org, contact_id)
        assert text.startswith(f"Contact {contact_id} ")
        assert "confidence" in text and "evidence:" in text
