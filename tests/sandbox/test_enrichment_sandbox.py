"""The sandbox enrichment API (Clearbit-compatible) over real HTTP: record shapes against the
real vendor examples in shared/fixtures/clearbit, 202/404/422/401, the 5-concurrent limit in its
429 and 400 forms, the minute budget, faults, and the determinism of the vendor's records.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import subprocess
import sys
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest

from devsignal_pipelines.sandbox.enrichment.api import enrichment_api
from devsignal_pipelines.sandbox.enrichment.firmographics import (
    COMPANY,
    FOUND,
    FREE_MAIL_DOMAINS,
    NOT_FOUND,
    PERSON,
    V1,
    V2,
    V2_SPARSE,
    Firmographics,
    LookupTruth,
)
from devsignal_pipelines.sandbox.faults import FaultKind, Faults
from devsignal_pipelines.sandbox.server import SandboxServer
from devsignal_pipelines.sandbox.world import World, generate_world

FIXTURES = Path(__file__).resolve().parents[2].parent / "shared" / "fixtures" / "clearbit"
ANCHOR = datetime(2025, 3, 1, tzinfo=UTC)
TOKEN, OTHER_TOKEN = "sandbox-token", "second-key"
PATHS = {COMPANY: "/v2/companies/find", PERSON: "/v2/people/find"}
PARAMS = {COMPANY: "domain", PERSON: "email"}
RATE_LIMIT_BODY = {
    "error": {
        "type": "rate_limit",
        "message": "Rate limit exceeded. Limit is 5 concurrent requests.",
    }
}


def fixture(name: str) -> dict:
    return json.loads((FIXTURES / name).read_text())


REAL = {
    COMPANY: {
        V2: fixture("clearbit_v2_company_uber.json"),
        V2_SPARSE: fixture("clearbit_v2_combined_calvinklein.json")["company"],
        V1: fixture("clearbit_legacy_v1_company_uber_2014.json"),
    },
    PERSON: {
        V2: fixture("clearbit_v2_person_alexmaccaw.json"),
        V2_SPARSE: fixture("clearbit_v2_combined_calvinklein.json")["person"],
        V1: fixture("clearbit_legacy_v1_person_alexmaccaw_2014.json"),
    },
}


@pytest.fixture(scope="module")
def world() -> World:
    return generate_world(seed=7, anchor=ANCHOR)


@pytest.fixture(scope="module")
def truth(world: World) -> Firmographics:
    return Firmographics.from_world(world)


@pytest.fixture(scope="module")
def server(world: World) -> Iterator[SandboxServer]:
    """Shared by tests whose answers do not depend on server state (404, 422, 401)."""
    with fresh(world) as running:
        yield running


@pytest.fixture(scope="module")
def client(server: SandboxServer) -> Iterator[httpx.Client]:
    with client_for(server) as http:
        yield http


@pytest.fixture(scope="module")
def shapes_client(world: World) -> Iterator[httpx.Client]:
    """Its own server: the shape test must see every queued record's first 202."""
    with fresh(world) as running, client_for(running) as http:
        yield http


def fresh(world: World, faults: Faults | None = None) -> SandboxServer:
    """A new server: queued records, counters, slots and settings are server state."""
    return SandboxServer(world, faults, tokens=[TOKEN, OTHER_TOKEN])


def client_for(server: SandboxServer, token: str = TOKEN) -> httpx.Client:
    return httpx.Client(base_url=server.base_url, headers=bearer(token))


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def find(client: httpx.Client, kind: str, key: str) -> httpx.Response:
    return client.get(PATHS[kind], params={PARAMS[kind]: key})


def pick(truth: Firmographics, kind: str, **wanted: object) -> LookupTruth:
    return next(t for t in truth.truths(kind) if all(getattr(t, k) == v for k, v in wanted.items()))


# --- shapes ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "nested"),
    [
        (COMPANY, ("category", "metrics", "geo", "site", "twitter", "linkedin", "alexa")),
        (PERSON, ("name", "employment", "geo", "github", "twitter", "linkedin", "gravatar")),
    ],
)
def test_every_crm_record_is_served_as_its_truth_in_a_real_vendor_shape(
    shapes_client: httpx.Client, truth: Firmographics, kind: str, nested: tuple[str, ...]
) -> None:
    seen: Counter[str] = Counter()
    for expected in truth.truths(kind):
        response = find(shapes_client, kind, expected.key)
        if expected.queued_first:
            assert (response.status_code, response.json()) == (202, {"error": {"type": "queued"}})
            response = find(shapes_client, kind, expected.key)
            seen["queued"] += 1
        if expected.status == NOT_FOUND:
            assert response.status_code == 404
            assert response.json()["error"]["type"] == "unknown_record"
            seen[NOT_FOUND] += 1
            continue
        assert response.status_code == 200, response.text
        assert response.headers["content-type"] == "application/json; charset=utf-8"
        body = response.json()
        assert body == expected.body
        real = REAL[kind][expected.shape]
        assert body.keys() == real.keys(), expected.key
        for key in nested:
            if key in real:
                assert body[key].keys() == real[key].keys(), (expected.key, key)
        seen[expected.shape] += 1
    assert all(seen[label] for label in (V2, V2_SPARSE, V1, NOT_FOUND, "queued")), seen


def test_company_values_have_the_real_types_and_vocabularies(truth: Firmographics) -> None:
    found = [t for t in truth.truths(COMPANY) if t.status == FOUND]
    v2 = [t.body for t in found if t.shape == V2 and t.body]
    assert all(isinstance(b["metrics"]["employees"], int) for b in v2)
    assert all(isinstance(b["twitter"]["id"], str | None) for b in v2)
    assert all(b["tech"] and all(isinstance(x, str) for x in b["tech"]) for b in v2)
    assert any(len(set(b["tech"])) < len(b["tech"]) for b in v2), "no duplicate like uber's"
    assert {"kubernetes", "postgresql", "datadog", "github", "stripe"} & {
        tech for b in v2 for tech in b["tech"]
    }
    sparse = [t.body for t in found if t.shape == V2_SPARSE and t.body]
    assert all("tech" not in b and b["linkedin"]["handle"] is None for b in sparse)
    old_ranges = {"1-10", "10-50", "50-250", "250-1000", "1000+"}
    assert {b["metrics"]["employeesRange"] for b in sparse} <= old_ranges
    legacy = [t.body for t in found if t.shape == V1 and t.body]
    assert all(
        isinstance(b["employees"], int) and isinstance(b["categories"], list) for b in legacy
    )


def test_people_carry_their_employer_and_free_mail_people_none(
    world: World, truth: Firmographics
) -> None:
    x_handle = {
        t.contact_id: world.twitter_users[uid]["username"]
        for uid, t in reversed(world.twitter_truth.items())
        if t.contact_id
    }
    contacts = {c.email: c for c in reversed(world.contacts) if c.email}
    free = 0
    for expected in truth.truths(PERSON):
        if expected.status != FOUND or expected.shape == V1 or expected.body is None:
            continue
        body, domain = expected.body, expected.key.rpartition("@")[2]
        if domain in FREE_MAIL_DOMAINS:
            free += 1
            assert body["emailProvider"] is True
            assert set(body["employment"].values()) == {None}
        else:
            assert body["emailProvider"] is False
            assert body["employment"]["domain"] == domain
        if expected.shape == V2:
            handle = x_handle.get(contacts[expected.key].id)
            assert body["twitter"]["handle"] == handle
    assert free > 0


# --- statuses ----------------------------------------------------------------------------------


def test_a_queued_record_answers_202_once_then_200_and_every_call_is_counted(
    world: World, truth: Firmographics
) -> None:
    with fresh(world) as server, client_for(server) as client:
        for kind in (COMPANY, PERSON):
            queued = pick(truth, kind, queued_first=True)
            statuses = [find(client, kind, queued.key.upper()).status_code for _ in range(3)]
            assert statuses == [202, 200, 200]
            assert enrichment_api(server.state).calls[(kind, queued.key)] == 3
            assert enrichment_api(server.state).calls[(kind, "never-asked.example")] == 0


@pytest.mark.parametrize(
    ("kind", "key", "message"),
    [
        (COMPANY, "unheard-of-startup.io", "Company not found"),
        (PERSON, "someone@unheard-of-startup.io", "Person not found"),
        (PERSON, "nobody.here@gmail.com", "Person not found"),
    ],
)
def test_records_the_vendor_does_not_know_are_404_unknown_record(
    client: httpx.Client, kind: str, key: str, message: str
) -> None:
    response = find(client, kind, key)
    assert response.status_code == 404
    assert response.json() == {"error": {"type": "unknown_record", "message": message}}


@pytest.mark.parametrize("kind", [COMPANY, PERSON])
def test_crm_records_unknown_to_the_vendor_are_404(
    client: httpx.Client, truth: Firmographics, kind: str
) -> None:
    unknown = pick(truth, kind, status=NOT_FOUND)
    assert find(client, kind, unknown.key).status_code == 404


@pytest.mark.parametrize(
    ("kind", "key", "error_type"),
    [
        (COMPANY, "", "invalid_domain"),
        (COMPANY, "localhost", "invalid_domain"),
        (COMPANY, "not a domain", "invalid_domain"),
        (COMPANY, "https://vectorbase.com/about", "invalid_domain"),
        (COMPANY, "www.mu'sli.com", "invalid_domain"),
        (COMPANY, "acme..io", "invalid_domain"),
        (PERSON, "", "email_invalid"),
        (PERSON, "ben.evans", "email_invalid"),
        (PERSON, "ben@", "email_invalid"),
        (PERSON, "ben@@vectorbase.com", "email_invalid"),
        (PERSON, "ben@vectorbase", "email_invalid"),
        (PERSON, "info@vectorbase.com", "email_invalid"),
        (PERSON, "Admin@vectorbase.com", "email_invalid"),
        (PERSON, "support@vectorbase.com", "email_invalid"),
        (PERSON, "sales+emea@vectorbase.com", "email_invalid"),
        (PERSON, "noreply@vectorbase.com", "email_invalid"),
    ],
)
def test_malformed_input_and_role_addresses_are_422(
    client: httpx.Client, kind: str, key: str, error_type: str
) -> None:
    response = find(client, kind, key)
    assert response.status_code == 422
    error = response.json()["error"]
    assert error["type"] == error_type and error["message"]


@pytest.mark.parametrize(
    ("headers", "error_type"),
    [
        ({}, "auth_required"),
        ({"Authorization": "Bearer"}, "auth_required"),
        ({"Authorization": TOKEN}, "auth_required"),
        ({"Authorization": "Bearer wrong-key"}, "unauthorized"),
        ({"Authorization": "Basic bm90LWEta2V5Og=="}, "unauthorized"),  # "not-a-key:"
    ],
)
def test_missing_or_unknown_keys_are_401(
    server: SandboxServer, headers: dict[str, str], error_type: str
) -> None:
    response = httpx.get(
        server.base_url + PATHS[COMPANY], params={"domain": "x.io"}, headers=headers
    )
    assert response.status_code == 401
    assert response.json()["error"]["type"] == error_type


def test_the_key_as_basic_auth_username_works_and_keys_are_never_logged(
    server: SandboxServer, truth: Firmographics
) -> None:
    found = pick(truth, COMPANY, status=FOUND, queued_first=False)
    url = server.base_url + PATHS[COMPANY]
    assert httpx.get(url, params={"domain": found.key}, auth=(TOKEN, "")).status_code == 200
    httpx.get(url, params={"domain": found.key}, headers=bearer(OTHER_TOKEN))
    log = json.dumps([entry.to_json() for entry in server.state.requests])
    assert PATHS[COMPANY] in log
    assert TOKEN not in log and OTHER_TOKEN not in log


# --- rate limits -------------------------------------------------------------------------------


async def _simultaneous(base_url: str, requests: list[tuple[str, str]]) -> list[httpx.Response]:
    """Send every (token, domain) request at once, each on its own connection."""
    async with httpx.AsyncClient(base_url=base_url) as http:
        return await asyncio.gather(
            *(
                http.get(PATHS[COMPANY], params={"domain": d}, headers=bearer(t))
                for t, d in requests
            )
        )


def test_a_sixth_concurrent_request_is_refused_as_429_or_the_observed_400(
    world: World, truth: Firmographics
) -> None:
    found = pick(truth, COMPANY, status=FOUND, queued_first=False)
    with fresh(world, Faults(slow_rate=1.0, slow_s=0.3)) as server:
        responses = asyncio.run(_simultaneous(server.base_url, [(TOKEN, found.key)] * 10))
        statuses = Counter(r.status_code for r in responses)
        # refusals 1-5: every 3rd is the 400 form, the others the documented 429
        assert statuses == {200: 5, 429: 4, 400: 1}
        for response in responses:
            if response.status_code == 429:
                assert response.json() == RATE_LIMIT_BODY
                assert response.headers["retry-after"] == "1"
            elif response.status_code == 400:
                assert response.json() == RATE_LIMIT_BODY
                assert (
                    response.json()
                    == fixture("clearbit_error_rate_limit_observed.response.json")["body"]
                )
        api = enrichment_api(server.state)
        assert api.peak_in_flight == 5
        assert api.refusals == {"concurrency_429": 4, "concurrency_400": 1}
        again = httpx.get(
            server.base_url + PATHS[COMPANY], params={"domain": found.key}, headers=bearer(TOKEN)
        )
        assert again.status_code == 200  # the slots were released


def test_the_concurrency_limit_is_per_key(world: World, truth: Firmographics) -> None:
    found = pick(truth, COMPANY, status=FOUND, queued_first=False)
    with fresh(world) as server:
        enrichment_api(server.state).configure(latency_s=0.3)
        requests = [(TOKEN, found.key)] * 5 + [(OTHER_TOKEN, found.key)] * 5
        responses = asyncio.run(_simultaneous(server.base_url, requests))
        assert [r.status_code for r in responses] == [200] * 10
        assert enrichment_api(server.state).peak_in_flight == 5


def test_a_spent_minute_budget_is_429_with_retry_after(world: World, truth: Firmographics) -> None:
    found = pick(truth, COMPANY, status=FOUND, queued_first=False)
    with fresh(world) as server, client_for(server) as client:
        _check_budget(server, client, found)


def _check_budget(server: SandboxServer, client: httpx.Client, found: LookupTruth) -> None:
    configured = client.post("/_sandbox/enrichment", json={"requests_per_minute": 3})
    assert configured.json()["requests_per_minute"] == 3
    assert [find(client, COMPANY, found.key).status_code for _ in range(3)] == [200] * 3
    refused = find(client, COMPANY, found.key)
    assert refused.status_code == 429
    assert refused.json()["error"]["type"] == "rate_limit"
    assert 1 <= int(refused.headers["retry-after"]) <= 60
    assert refused.headers["x-ratelimit-remaining"] == "0"
    with client_for(server, OTHER_TOKEN) as other:
        assert find(other, COMPANY, found.key).status_code == 200
    status = client.get("/_sandbox/enrichment").json()
    assert status["refusals"] == {"budget_429": 1}
    assert {"kind": COMPANY, "key": found.key, "count": 5} in status["calls"]
    assert client.post("/_sandbox/enrichment", json={"bogus": 1}).status_code == 400


# --- faults ------------------------------------------------------------------------------------


def test_shared_faults_apply_as_decided_per_request_number(
    world: World, truth: Firmographics
) -> None:
    """One server with every kind of fault: request n (its number in the shared state) gets
    exactly the fault ``faults.decide(n)`` names, so runs replay."""
    found = pick(truth, COMPANY, status=FOUND, queued_first=False, shape=V2)
    faults = Faults(error_5xx_rate=0.3, malformed_rate=0.2, burst_429_rate=0.2, fault_seed=5)
    with fresh(world, faults) as server, client_for(server) as client:
        responses = [find(client, COMPANY, found.key) for _ in range(40)]
    seen: Counter[FaultKind] = Counter()
    bursts = []
    for number, response in enumerate(responses, start=1):
        kind = faults.decide(number).kind
        seen[kind] += 1
        if kind is FaultKind.ERROR_5XX:
            assert response.status_code in {500, 502, 503, 504}
            assert response.headers["content-type"].split(";")[0] in {
                "application/json",
                "text/html",
            }
        elif kind is FaultKind.MALFORMED:
            assert response.status_code == 200 and not _parses_to(response, found.body)
        elif kind is FaultKind.BURST_429:
            assert response.json() == RATE_LIMIT_BODY
            bursts.append(response.status_code)
        else:
            assert response.status_code == 200 and response.json() == found.body
    assert all(seen[k] for k in (FaultKind.ERROR_5XX, FaultKind.MALFORMED, FaultKind.BURST_429))
    assert bursts == [400 if n % 3 == 0 else 429 for n in range(1, len(bursts) + 1)]


def _parses_to(response: httpx.Response, body: dict | None) -> bool:
    try:
        return response.json() == body
    except json.JSONDecodeError:
        return False


# --- determinism -------------------------------------------------------------------------------


def _digest(firmographics: Firmographics) -> str:
    truths = [firmographics.truths(kind) for kind in (COMPANY, PERSON)]
    blob = json.dumps([[t.__dict__ for t in ts] for ts in truths], sort_keys=True)
    return hashlib.sha256(blob.encode()).hexdigest()


def test_records_depend_only_on_the_record_not_on_order_process_or_hash_seed(
    world: World, truth: Firmographics
) -> None:
    assert _digest(Firmographics.from_world(generate_world(seed=7, anchor=ANCHOR))) == _digest(
        truth
    )
    alone = Firmographics(world.companies[::-1][:5], [])
    assert all(alone.company(c.domain) == truth.company(c.domain) for c in world.companies[-5:])
    script = (
        "from datetime import UTC, datetime\n"
        "from devsignal_pipelines.sandbox.enrichment.firmographics import Firmographics\n"
        "from devsignal_pipelines.sandbox.world import generate_world\n"
        "from tests.sandbox.test_enrichment_sandbox import _digest\n"
        "world = generate_world(seed=7, anchor=datetime(2025, 3, 1, tzinfo=UTC))\n"
        "print(_digest(Firmographics.from_world(world)))\n"
    )
    root = Path(__file__).resolve().parents[2]
    env = {**os.environ, "PYTHONHASHSEED": "12345", "PYTHONPATH": str(root)}
    output = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        check=True,
        env=env,
        cwd=root,
    ).stdout.strip()
    assert output == _digest(truth)
