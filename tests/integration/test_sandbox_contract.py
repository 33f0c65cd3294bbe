"""The sandbox speaks the real X API: the same client code parses its answers and the real samples."""

from __future__ import annotations

import json

import pytest

from devsignal_pipelines.lib.sources.twitter.client import (
    XApiAuthError,
    XApiClient,
    build_query,
    parse_search_page,
)
from devsignal_pipelines.sandbox.server import SandboxServer
from tests.conftest import SHARED

REAL = json.loads(
    (
        SHARED / "fixtures/twitter/academictwitteR_search_all_expansions_author_id_200.body.json"
    ).read_text()
)


@pytest.fixture(scope="module")
def server(world):
    with SandboxServer(world, tokens=["t0k"]) as running:
        yield running


def test_sandbox_pages_parse_like_real_pages_and_carry_the_real_keys(server, world) -> None:
    org = world.organizations[0]
    with XApiClient(server.base_url, "t0k", organization_id=org.id, token_env="T") as client:
        page = next(client.search_recent(build_query(org.keywords), max_results=10))
    real = parse_search_page(REAL)
    assert page.tweets and page.users and not page.quarantined
    # Every key the real API sent for the fields we request is present in the sandbox's answer.
    requested_tweet_keys = {
        "id",
        "text",
        "author_id",
        "created_at",
        "lang",
        "conversation_id",
        "public_metrics",
    }
    assert requested_tweet_keys <= set(real.tweets[0]) and requested_tweet_keys <= set(
        page.tweets[0]
    )
    real_user_keys = set().union(*(set(u) for u in real.users)) - {"pinned_tweet_id"}
    sandbox_user_keys = set().union(*(set(u) for u in page.users))
    assert real_user_keys <= sandbox_user_keys
    assert set(page.tweets[0]["public_metrics"]) == set(real.tweets[0]["public_metrics"])
    assert page.next_token and page.newest_id
    assert (
        client.rate_limit.limit
        and client.rate_limit.remaining is not None
        and client.rate_limit.reset_epoch_s
    )


def test_sandbox_401_is_the_real_problem_body(server, world) -> None:
    real = json.loads(
        (
            SHARED / "fixtures/twitter/academictwitteR_search_all_401_unauthorized.body.json"
        ).read_text()
    )
    with (
        XApiClient(server.base_url, "wrong", organization_id="acme", token_env="ACME_T") as client,
        pytest.raises(XApiAuthError, match=real["detail"]),
    ):
        next(client.search_recent(build_query(["acmedb"])))
