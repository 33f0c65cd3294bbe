"""API keys over real HTTP: listed, created and revoked per organization; a revoked or expired key
is refused by every API path with a 401 that says why, and the key cache does not outlive either."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from devsignal_pipelines.api.app import create_app
from devsignal_pipelines.lib.loopback import LoopbackServer
from devsignal_pipelines.lib.webhooks import store

DUCKDB_ONLY = pytest.mark.parametrize("stores", ["duckdb"], indirect=True)
KEYS = "/api/v1/api-keys"


def _serve(control, key_ttl_s: float) -> LoopbackServer:
    return LoopbackServer(create_app(control, key_ttl_s=key_ttl_s), "/healthz", name="api")


@pytest.fixture
def short_cache_api(control) -> Iterator[LoopbackServer]:
    """`devsignal api` whose key cache remembers a key for 0.5 s instead of 10 s."""
    with _serve(control, 0.5) as server:
        yield server


def _bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def _every_path(base_url: str, key: str) -> dict[str, httpx.Response]:
    """One request per API family, each authenticated with `key`."""
    return {
        "segment": httpx.post(f"{base_url}/v1/track", json={"userId": "u", "event": "x"},
                              auth=(key, ""), timeout=30),
        "crm": httpx.put(f"{base_url}/api/v1/deals/d1", json={"dealstage": "new"},
                         headers=_bearer(key), timeout=30),
        "webhooks": httpx.get(f"{base_url}/api/v1/webhooks/subscriptions",
                              headers=_bearer(key), timeout=30),
        "api-keys": httpx.get(base_url + KEYS, headers=_bearer(key), timeout=30),
    }  # fmt: skip


def _refusal(response: httpx.Response) -> str:
    body = response.json()
    return body.get("message") or body.get("error") or ""


def test_an_expiring_key_is_refused_by_every_path_at_its_expiry_though_cached(control, api) -> None:
    new = store.issue_api_key(control, "acme", timedelta(seconds=1.5))
    first = _every_path(api.base_url, new.key)
    assert {name: r.status_code for name, r in first.items()} == {
        "segment": 200, "crm": 201, "webhooks": 200, "api-keys": 200,
    }  # fmt: skip
    # The default cache (10 s) would still remember the key: its expiry ends that earlier.
    time.sleep(max(0.0, (new.expires_at - datetime.now(UTC)).total_seconds()) + 0.1)
    for name, response in _every_path(api.base_url, new.key).items():
        assert response.status_code == 401, name
        assert f"API key {new.prefix}… expired at" in _refusal(response), name
    assert response.headers["www-authenticate"].startswith("Bearer")


@DUCKDB_ONLY
def test_a_key_revoked_elsewhere_is_refused_once_the_cache_time_has_passed(
    control, short_cache_api
) -> None:
    key_id, key = store.create_api_key(control, "acme")
    assert all(r.is_success for r in _every_path(short_cache_api.base_url, key).values())
    store.revoke_api_key(control, key_id)  # as `devsignal orgs revoke` does, from another process
    time.sleep(0.6)
    for name, response in _every_path(short_cache_api.base_url, key).items():
        assert response.status_code == 401, name
        assert f"API key {key[:10]}… was revoked at" in _refusal(response), name
        assert "devsignal orgs api-key" in _refusal(response)
    segment = _every_path(short_cache_api.base_url, key)["segment"].json()
    assert segment["code"] == "invalid_write_key" and segment["success"] is False


@DUCKDB_ONLY
def test_a_key_revoked_through_the_api_is_refused_at_once(control, api, keys) -> None:
    _, other = store.create_api_key(control, "acme")
    assert httpx.get(api.base_url + KEYS, headers=_bearer(other)).status_code == 200  # cached
    deleted = httpx.delete(f"{api.base_url}{KEYS}/{other[:10]}", headers=_bearer(keys["acme"]))
    assert deleted.status_code == 204
    for name, response in _every_path(api.base_url, other).items():
        assert response.status_code == 401 and "was revoked" in _refusal(response), name
    # A key may revoke itself (rotation: create the new one, then delete the old one).
    assert httpx.delete(f"{api.base_url}{KEYS}/{keys['acme'][:10]}",
                        headers=_bearer(keys["acme"])).status_code == 204  # fmt: skip
    assert httpx.get(api.base_url + KEYS, headers=_bearer(keys["acme"])).status_code == 401


@DUCKDB_ONLY
def test_organizations_list_create_and_revoke_only_their_own_keys(control, api, keys) -> None:
    acme, nimbus = _bearer(keys["acme"]), _bearer(keys["nimbus"])
    created = httpx.post(api.base_url + KEYS, headers=acme, json={"expires_in": "30d"})
    assert created.status_code == 201
    new = created.json()
    assert new["key"].startswith("dsk_") and new["prefix"] == new["key"][:10]
    assert created.headers["location"] == f"{KEYS}/{new['id']}"
    expires = datetime.fromisoformat(new["expires_at"])
    assert timedelta(days=29, hours=23) < expires - datetime.now(UTC) <= timedelta(days=30)
    # Without a body: a key that does not expire.
    plain = httpx.post(api.base_url + KEYS, headers=acme)
    assert plain.status_code == 201 and plain.json()["expires_at"] is None

    listed = httpx.get(api.base_url + KEYS, headers=acme).json()
    assert [k["prefix"] for k in listed] == [
        keys["acme"][:10], new["prefix"], plain.json()["prefix"],
    ]  # fmt: skip
    assert {k["status"] for k in listed} == {"active"}
    assert listed[0]["last_used_at"] is not None and listed[1]["last_used_at"] is None
    assert listed[1]["created_by"] == listed[0]["id"]
    text = httpx.get(api.base_url + KEYS, headers=acme).text
    assert new["key"] not in text and keys["acme"] not in text
    assert store.hash_api_key(new["key"]) not in text

    # Another organization sees none of them and cannot revoke them.
    theirs = httpx.get(api.base_url + KEYS, headers=nimbus).json()
    assert [k["prefix"] for k in theirs] == [keys["nimbus"][:10]]
    for reference in (new["prefix"], new["id"]):
        gone = httpx.delete(f"{api.base_url}{KEYS}/{reference}", headers=nimbus)
        assert gone.status_code == 404
    # Never the key itself in a URL (access logs): refused without revoking anything.
    in_url = httpx.delete(f"{api.base_url}{KEYS}/{new['key']}", headers=acme)
    assert in_url.status_code == 422 and new["key"] not in in_url.text
    assert httpx.get(api.base_url + KEYS, headers=_bearer(new["key"])).status_code == 200

    assert httpx.delete(f"{api.base_url}{KEYS}/{new['id']}", headers=acme).status_code == 204
    statuses = {k["id"]: k["status"] for k in httpx.get(api.base_url + KEYS, headers=acme).json()}
    assert statuses[new["id"]] == "revoked"
    assert httpx.delete(f"{api.base_url}{KEYS}/dsk_nothr0", headers=acme).status_code == 404


@DUCKDB_ONLY
def test_a_key_created_through_the_api_never_outlives_the_key_that_created_it(control, api) -> None:
    short = store.issue_api_key(control, "acme", timedelta(hours=1))
    for body in ({}, {"expires_in": "30d"}, {"expires_in": 600}):
        created = httpx.post(api.base_url + KEYS, headers=_bearer(short.key), json=body).json()
        expires = datetime.fromisoformat(created["expires_at"])
        assert expires <= short.expires_at + timedelta(seconds=1), body
    assert expires - datetime.now(UTC) <= timedelta(seconds=600)


@DUCKDB_ONLY
def test_the_keys_endpoint_reads_bodies_like_every_route(api, keys) -> None:
    url, acme = api.base_url + KEYS, _bearer(keys["acme"])
    assert httpx.get(url).status_code == 401
    assert httpx.post(url, headers=_bearer("dsk_unknown")).status_code == 401
    bad = httpx.post(url, headers=acme, json={"expires_in": "soon"})
    assert bad.status_code == 422 and bad.json()["field"] == "expires_in"
    assert httpx.post(url, headers=acme, json={"expires_in": 0}).status_code == 422
    form = httpx.post(url, headers=acme, data={"expires_in": "1d"})
    assert form.status_code == 415
    deep = b'{"expires_in": ' + b"[" * 1500 + b"]" * 1500 + b"}"  # within the 4 KB limit
    nested = httpx.post(url, headers={**acme, "content-type": "application/json"}, content=deep)
    assert nested.status_code == 422 and "nested too deeply" in nested.json()["error"]

    def chunks() -> Iterator[bytes]:  # no Content-Length: the limit holds while streaming
        yield b'{"expires_in": "1d", "pad": "'
        for _ in range(64):
            yield b"x" * 1024
        yield b'"}'

    streamed = httpx.post(url, headers={**acme, "content-type": "application/json"},
                          content=chunks())  # fmt: skip
    assert streamed.status_code == 413
    not_json = httpx.post(url, headers={**acme, "content-type": "application/json"}, content=b"{")
    assert not_json.status_code == 422 and not_json.json()["field"] == "body"
