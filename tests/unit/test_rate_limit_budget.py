"""Each client's rate-limit waits: logged one by one, and capped per run by a waiting budget.

The clients talk to a real local HTTP server that keeps answering "rate limited"; their sleep is
injected, so the waits are counted, not slept.
"""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from devsignal_pipelines.lib.sources.enrichment.client import EnrichmentClient, Lookup
from devsignal_pipelines.lib.sources.github.client import GitHubClient, RateLimitStop
from devsignal_pipelines.lib.sources.http import (
    RateLimitExhaustedError,
    RetryPolicy,
    WaitBudget,
    WaitBudgetSpent,
)
from devsignal_pipelines.lib.sources.stackoverflow.client import (
    StackExchangeClient,
    ThrottledError,
)
from devsignal_pipelines.lib.sources.twitter.client import XApiClient
from tests.scripted_server import ScriptedServer


@pytest.fixture
def serve() -> Iterator:
    """A server answering every request with the same status, headers and JSON body."""
    servers: list[ScriptedServer] = []

    def _serve(status: int, headers: dict[str, str], body: object = None) -> ScriptedServer:
        servers.append(ScriptedServer())
        servers[-1].script = [(status, headers, json.dumps({} if body is None else body).encode())]
        return servers[-1]

    yield _serve
    for server in servers:
        server.httpd.shutdown()


def _policy(budget_s: float) -> RetryPolicy:
    return RetryPolicy(max_attempts=2, backoff_base_s=0.001, rate_limit_wait_budget_s=budget_s)


def test_x_logs_every_wait_and_stops_when_the_runs_waiting_budget_is_spent(serve) -> None:
    server = serve(429, {"retry-after": "100"})
    sleeps: list[float] = []
    log: list[str] = []
    client = XApiClient(
        server.url, "tok", organization_id="acme", token_env="ACME_TOKEN", policy=_policy(250),
        sleep=sleeps.append, on_wait=log.append,
    )  # fmt: skip
    with client, pytest.raises(WaitBudgetSpent) as stopped:
        list(client.search_recent("acmedb"))
    # The X sync fails on RateLimitExhaustedError without writing, so since_id stays as it was.
    assert isinstance(stopped.value, RateLimitExhaustedError)
    assert sleeps == [100.0, 100.0]  # the third wait would pass 250 s: not slept
    assert server.hits == 3
    assert log[0].endswith("waiting 100s (wait 1, 100s of the 250s budget)")
    assert log[1].endswith("waiting 100s (wait 2, 200s of the 250s budget)")
    assert "only 50s of the run's 250s rate-limit waiting budget is left" in log[2]
    assert str(stopped.value) == log[2]
    assert client.stats.rate_limit_waits == 2 and client.stats.rate_limit_wait_s == 200.0


def test_github_spends_its_budget_on_secondary_limits_then_stops_cleanly(serve) -> None:
    server = serve(
        403, {"retry-after": "40"}, {"message": "You have exceeded a secondary rate limit"}
    )
    sleeps: list[float] = []
    log: list[str] = []
    client = GitHubClient(
        server.url, "tok", organization_id="acme", token_env="ACME_GH", policy=_policy(100),
        sleep=sleeps.append, on_wait=log.append,
    )  # fmt: skip
    with client, pytest.raises(RateLimitStop, match="waiting budget"):
        client.get("/repos/acme/acmedb")
    assert sleeps == [40.0, 40.0]
    assert len(log) == 3 and "waiting 40s (wait 2, 80s of the 100s budget)" in log[1]


def test_github_waits_at_the_reserve_count_against_the_same_budget(serve) -> None:
    reset = "1300"  # 300 s after the fixed clock: within max_rate_limit_wait_s
    server = serve(200, {"x-ratelimit-remaining": "3", "x-ratelimit-reset": reset}, [])
    sleeps: list[float] = []
    client = GitHubClient(
        server.url, "tok", organization_id="acme", token_env="ACME_GH", reserve=5,
        max_rate_limit_wait_s=600, policy=_policy(200), sleep=sleeps.append, clock=lambda: 1000.0,
    )  # fmt: skip
    with client:
        client.get("/repos/acme/acmedb")  # leaves 3 requests: at the reserve
        with pytest.raises(RateLimitStop, match="waiting budget"):
            client.get("/repos/acme/acmedb")
    assert sleeps == [] and server.hits == 1


def test_stack_exchange_backoffs_count_against_the_budget_and_stop_cleanly(serve) -> None:
    body = {"items": [{"question_id": 1}], "has_more": True, "quota_max": 10000,
            "quota_remaining": 9000, "backoff": 30}  # fmt: skip
    server = serve(200, {}, body)
    sleeps: list[float] = []
    log: list[str] = []
    clock = iter(range(0, 10**6, 1))  # monotonic, one second per look
    client = StackExchangeClient(
        server.url, None, organization_id="acme", key_env=None, pace_s=0, policy=_policy(50),
        sleep=sleeps.append, clock=lambda: float(next(clock)), on_wait=log.append,
    )  # fmt: skip
    with client, pytest.raises(ThrottledError, match="waiting budget"):
        list(client.answers(list(range(1, 301))))  # three batches of 100 ids
    assert len(sleeps) == 1 and server.hits == 2
    assert "Stack Exchange asked for a backoff on answers: waiting" in log[0]


def test_enrichment_threads_share_one_budget(serve) -> None:
    server = serve(429, {"retry-after": "10"})
    sleeps: list[float] = []
    client = EnrichmentClient(
        server.url, "key", organization_id="acme", key_env="ACME_KEY", max_in_flight=5,
        batch_pause_s=0, policy=_policy(35), sleep=sleeps.append,
    )  # fmt: skip
    lookups = [Lookup("company", f"c{i}.example") for i in range(10)]
    with client, pytest.raises(WaitBudgetSpent):
        client.lookup_many(lookups)
    assert sleeps == [10.0, 10.0, 10.0]
    assert client.waits.spent_s == 30.0


def test_a_budget_refuses_the_wait_that_does_not_fit_whatever_came_before() -> None:
    budget = WaitBudget(60.0, stop=ThrottledError)
    budget.spend(59.0, "first")
    budget.spend(1.0, "second")  # exactly full is allowed
    with pytest.raises(ThrottledError):
        budget.spend(0.5, "third")
    assert (budget.waits, budget.spent_s) == (2, 60.0)
