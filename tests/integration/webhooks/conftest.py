"""Webhook fixtures: a real loopback receiver, a control DB, fast settings, a secret key."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from cryptography.fernet import Fernet

from devsignal_pipelines.lib.stores.control import ControlDB
from devsignal_pipelines.lib.webhooks.settings import WebhookSettings, parse_networks
from tests.integration.webhooks.receiver import Receiver

# Loopback receivers need the allow-list: exactly what it exists for.
LOOPBACK = parse_networks("127.0.0.0/8")


@pytest.fixture(autouse=True)
def secret_key(monkeypatch: pytest.MonkeyPatch) -> str:
    key = Fernet.generate_key().decode()
    monkeypatch.setenv("DEVSIGNAL_SECRET_KEY", key)
    return key


@pytest.fixture
def settings() -> WebhookSettings:
    return WebhookSettings(
        retry_schedule_s=(5, 300, 1800), retry_jitter=0.2, timeout_s=5, allowed_networks=LOOPBACK
    )


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver().start()
    yield r
    r.stop()


@pytest.fixture
def control(stores: dict[str, str]) -> ControlDB:
    db = ControlDB(stores["control"])
    db.create_all()
    for org in ("acme", "nimbus"):
        db.add_organization(org)
    return db
