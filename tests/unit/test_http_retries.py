"""The retry helper against a real local HTTP server that answers from a script."""

from __future__ import annotations

import json
from collections.abc import Iterator
from email.utils import formatdate

import pytest

from devsignal_pipelines.lib.sources.http import (
    RetryPolicy,
    TransientHTTPError,
    retry_after_seconds,
)
from devsignal_pipelines.lib.sources.twitter.client import XApiAuthError, XApiClient
from tests.scripted_server import ScriptedServer

OK = {"data": [], "meta": {"result_count": 0}}


@pytest.fixture
def server() -> Iterator[ScriptedServer]:
    scripted = ScriptedServer()
    yield scripted
    scripted.httpd.shutdown()


def _client(server: ScriptedServer, sleeps: list[float]) -> XApiClient:
    return XApiClient(
        server.url, "tok", organization_id="acme", token_env="ACME_TOKEN",
        policy=RetryPolicy(max_attempts=3, backoff_base_s=0.001), sleep=sleeps.append, clock=lambda: 1000.0,
    )  # fmt: skip


def test_a_429_with_a_text_body_waits_for_the_reset_then_resumes(server: ScriptedServer) -> None:
    server.script = [
        (429, {"x-rate-limit-reset": "1042", "x-rate-limit-remaining": "0"}, b"Too Many Requests"),
        (200, {"x-rate-limit-remaining": "449"}, json.dumps(OK).encode()),
    ]
    sleeps: list[float] = []
    with _client(server, sleeps) as client:
        pages = list(client.search_recent("acmedb"))
    assert len(pages) == 1 and server.hits == 2
    assert sleeps == [pytest.approx(42.05)]
    assert client.stats.rate_limit_waits == 1 and client.stats.malformed_bodies == 0
    assert client.rate_limit.remaining == 449


def test_rate_limit_waits_are_capped(server: ScriptedServer) -> None:
    server.script = [(429, {"retry-after": "100000"}, b"{}"), (200, {}, json.dumps(OK).encode())]
    sleeps: list[float] = []
    with _client(server, sleeps) as client:
        list(client.search_recent("acmedb"))
    assert sleeps == [300.0]


def test_a_401_with_a_text_body_is_the_clear_auth_error(server: ScriptedServer) -> None:
    server.script = [(401, {}, b"<html>Unauthorized</html>")]
    with (
        _client(server, []) as client,
        pytest.raises(XApiAuthError, match=r"organization 'acme'.*ACME_TOKEN"),
    ):
        list(client.search_recent("acmedb"))
    assert server.hits == 1  # no pointless retries


def test_5xx_and_truncated_bodies_are_retried_a_bounded_number_of_times(
    server: ScriptedServer,
) -> None:
    server.script = [
        (503, {}, b"{}"),
        (200, {}, b'{"meta": {"res'),
        (200, {}, json.dumps(OK).encode()),
    ]
    sleeps: list[float] = []
    with _client(server, sleeps) as client:
        assert len(list(client.search_recent("acmedb"))) == 1
    assert client.stats.retries == 2 and client.stats.malformed_bodies == 1 and len(sleeps) == 2

    server.hits, server.script = 0, [(502, {}, b"{}")]
    with _client(server, []) as client, pytest.raises(TransientHTTPError, match="HTTP 502"):
        list(client.search_recent("acmedb"))
    assert server.hits == 3


def test_retry_after_accepts_seconds_and_http_dates() -> None:
    assert retry_after_seconds("7", now=0) == 7.0
    assert retry_after_seconds(formatdate(1030, usegmt=True), now=1000) == pytest.approx(30.0)
    assert retry_after_seconds("soon", now=0) is None
