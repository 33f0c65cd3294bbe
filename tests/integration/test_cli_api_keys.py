"""`devsignal orgs api-key | api-keys | revoke` as an operator types them."""

from __future__ import annotations

import re

import pytest
from click.testing import CliRunner

from devsignal_pipelines.cli.main import main
from devsignal_pipelines.lib.stores.control import ControlDB
from devsignal_pipelines.lib.webhooks import store

DUCKDB_ONLY = pytest.mark.parametrize("stores", ["duckdb"], indirect=True)
NEW_KEY = re.compile(r"API key (key_\w+) \((dsk_\S{6})…\) for (\S+)(, expires (.+?))? \(shown once")


def _run(*args: str, code: int = 0) -> str:
    result = CliRunner().invoke(main, list(args))
    assert result.exit_code == code, result.output
    return result.output


@DUCKDB_ONLY
def test_keys_are_listed_by_prefix_and_revoked_never_shown_again(stores) -> None:
    _run("orgs", "add", "acme")
    _run("orgs", "add", "nimbus")
    first = _run("orgs", "api-key", "acme")
    expiring = _run("orgs", "api-key", "acme", "--expires-in", "90d")
    key_id, prefix, org, _, expires = NEW_KEY.search(expiring).groups()
    assert org == "acme" and expires.endswith("UTC")
    keys = re.findall(r"dsk_\S{40,}", first + expiring)
    assert len(keys) == 2
    _run("orgs", "api-key", "nimbus")

    listing = _run("orgs", "api-keys", "acme")
    lines = listing.splitlines()
    assert lines[0].split("\t") == [
        "PREFIX", "ID", "STATUS", "CREATED", "LAST USED", "EXPIRES", "REVOKED",
    ]  # fmt: skip
    assert len(lines) == 3 and all("\tactive\t" in line for line in lines[1:])
    assert f"{prefix}…\t{key_id}\tactive\t" in listing and "\tnever\t" in listing
    assert not any(k in listing for k in keys)

    # Another organization's prefix is not found under --org; the key itself may be given too.
    assert "no API key" in _run("orgs", "revoke", prefix, "--org", "nimbus", code=2)
    revoked = _run("orgs", "revoke", prefix + "…")
    assert f"revoked API key {key_id} ({prefix}…) of acme" in revoked and "10 s" in revoked
    assert "already revoked" in _run("orgs", "revoke", key_id)
    assert "revoked API key" in _run("orgs", "revoke", keys[0], "--org", "acme")
    listing = _run("orgs", "api-keys", "acme")
    assert listing.count("\trevoked\t") == 2 and not any(k in listing for k in keys)

    control = ControlDB(stores["control"])
    assert [store.organization_for_key(control, k) for k in keys] == [None, None]
    assert "no API keys for nimbus" not in _run("orgs", "api-keys", "nimbus")


@DUCKDB_ONLY
def test_bad_durations_and_unknown_names_get_clear_errors(stores) -> None:
    _run("orgs", "add", "acme")
    for bad in ("soon", "0d", "-1h", "12"):
        out = _run("orgs", "api-key", "acme", "--expires-in", bad, code=2)
        assert "--expires-in" in out
    assert "does not exist" in _run("orgs", "api-keys", "ghost", code=2)
    assert "does not exist" in _run("orgs", "api-key", "ghost", "--expires-in", "1d", code=2)
    assert "no API keys for acme" in _run("orgs", "api-keys", "acme")
    assert "no API key 'dsk_abcdef'" in _run("orgs", "revoke", "dsk_abcdef", code=2)


@DUCKDB_ONLY
def test_a_prefix_shared_by_two_keys_is_refused_and_the_ids_named(stores) -> None:
    _run("orgs", "add", "acme")
    control = ControlDB(stores["control"])
    ids = [store.create_api_key(control, "acme")[0] for _ in range(2)]
    with control.begin() as conn:  # a 1-in-2^36 collision, made on purpose
        conn.exec_driver_sql("UPDATE api_keys SET prefix = 'dsk_same00'")
    out = _run("orgs", "revoke", "dsk_same00", code=2)
    assert "matches 2 API keys" in out and all(i in out for i in ids)
    assert "revoked API key" in _run("orgs", "revoke", ids[1])
