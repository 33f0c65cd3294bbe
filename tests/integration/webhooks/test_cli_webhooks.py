"""`devsignal webhooks ...` and `devsignal orgs api-key` as an operator types them."""

from __future__ import annotations

import re

import pytest
from click.testing import CliRunner

from devsignal_pipelines.cli.main import main

DUCKDB_ONLY = pytest.mark.parametrize("stores", ["duckdb"], indirect=True)


def _run(*args: str, code: int = 0):
    result = CliRunner().invoke(main, list(args))
    assert result.exit_code == code, result.output
    return result.output


@DUCKDB_ONLY
def test_subscription_lifecycle(stores, receiver, monkeypatch) -> None:
    monkeypatch.setenv("DEVSIGNAL_WEBHOOK_ALLOWED_NETWORKS", "127.0.0.1/32")
    _run("orgs", "add", "acme")
    out = _run(
        "webhooks", "subscribe", "acme", "--event", "contact.created", "--url", receiver.url("/c")
    )
    sub_id = re.search(r"subscription (sub_\w+)", out).group(1)
    secret = re.search(r"(whsec_\S+)", out).group(1)
    receiver.endpoint("/c", secret=secret)
    listing = _run("webhooks", "list")
    assert sub_id in listing and "active" in listing and secret not in listing

    assert "succeeded (HTTP 200)" in _run("webhooks", "test", sub_id)
    assert receiver.verified("/c")[0].payload["type"] == "contact.created"
    assert "attempts=1 HTTP 200" in _run("webhooks", "deliveries", "acme")

    assert "paused" in _run("webhooks", "pause", sub_id)
    assert "paused" in _run("webhooks", "list", "acme")
    assert "resumed" in _run("webhooks", "resume", sub_id)
    receiver.endpoint("/c", secret=secret, answer=lambda n: 500)
    assert "failed (HTTP 500)" in _run("webhooks", "test", sub_id, code=1)
    failed = _run("webhooks", "deliveries", "--failed")
    assert "failed" in failed and "HTTP 500" in failed
    delivery_id = failed.split("\t")[0]
    assert "1 deliveries queued" in _run("webhooks", "redeliver", delivery_id)
    assert "deleted" in _run("webhooks", "delete", sub_id)
    assert "no webhook subscriptions" in _run("webhooks", "list")


@DUCKDB_ONLY
@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["webhooks", "subscribe", "acme", "--event", "contact.created", "--url", "http://localhost/x"], "refused"),
        (["webhooks", "subscribe", "acme", "--event", "contact.created", "--url", "http://169.254.169.254/"], "metadata"),
        (["webhooks", "subscribe", "ghost", "--event", "contact.created", "--url", "https://93.184.216.34/"], "does not exist"),
        (["webhooks", "subscribe", "acme", "--event", "nope", "--url", "https://93.184.216.34/"], "Invalid value"),
        (["webhooks", "pause", "sub_missing"], "no webhook subscription"),
        (["webhooks", "redeliver"], "DELIVERY_IDS"),
    ],
)  # fmt: skip
def test_bad_input_gets_a_clear_error(stores, args, message) -> None:
    _run("orgs", "add", "acme")
    assert message in _run(*args, code=2)


@DUCKDB_ONLY
def test_a_missing_secret_key_names_the_variable_and_the_fix(stores, monkeypatch) -> None:
    monkeypatch.delenv("DEVSIGNAL_SECRET_KEY")
    _run("orgs", "add", "acme")
    out = _run(
        "webhooks",
        "subscribe",
        "acme",
        "--event",
        "signal.created",
        "--url",
        "https://93.184.216.34/h",
        code=2,
    )
    assert "DEVSIGNAL_SECRET_KEY is not set" in out and "Fernet.generate_key" in out


@DUCKDB_ONLY
def test_api_key_is_shown_once(stores) -> None:
    _run("orgs", "add", "acme")
    out = _run("orgs", "api-key", "acme")
    assert re.search(r"dsk_\S{20,}", out)
    assert "does not exist" in _run("orgs", "api-key", "ghost", code=2)
