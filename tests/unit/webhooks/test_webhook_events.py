"""Event ids, payloads, secrets at rest, the retry schedule and settings."""

from __future__ import annotations

import json
import random
from datetime import UTC, datetime

import pandas as pd
import pytest
from cryptography.fernet import Fernet

from devsignal_pipelines.lib.webhooks.delivery import next_delay_s
from devsignal_pipelines.lib.webhooks.events import (
    EVENT_TYPES,
    SAMPLE_DATA,
    Event,
    event_id,
    sample_event,
)
from devsignal_pipelines.lib.webhooks.secrets import (
    SecretKeyError,
    decrypt_secret,
    encrypt_secret,
    new_signing_secret,
)
from devsignal_pipelines.lib.webhooks.settings import (
    WebhookSettings,
    WebhookSettingsError,
    load_webhook_settings,
)

T = datetime(2026, 11, 20, 9, 30, tzinfo=UTC)


def test_the_same_change_always_gets_the_same_id_and_tenants_never_share_one() -> None:
    assert event_id("acme", "signal.created", "twitter:1") == event_id(
        "acme", "signal.created", "twitter:1"
    )
    assert event_id("acme", "signal.created", "twitter:1") != event_id(
        "nimbus", "signal.created", "twitter:1"
    )
    assert event_id("acme", "signal.created", "a", "b") != event_id("acme", "signal.created", "ab")


def test_payload_is_a_versioned_envelope_with_plain_json_values() -> None:
    event = Event.build(
        "acme",
        "contact.created",
        ("c1",),
        T,
        {"contact_id": "c1", "created_at": pd.Timestamp(T), "score": float("nan"), "n": pd.NA},
    )
    body = json.loads(event.payload)
    assert body == {
        "id": event.id,
        "type": "contact.created",
        "version": 1,
        "organization": "acme",
        "occurred_at": "2026-11-20T09:30:00Z",
        "data": {
            "contact_id": "c1",
            "created_at": "2026-11-20T09:30:00Z",
            "score": None,
            "n": None,
        },
    }


def test_every_type_has_a_sample_payload() -> None:
    assert set(SAMPLE_DATA) == set(EVENT_TYPES)
    for event_type in EVENT_TYPES:
        body = json.loads(sample_event("acme", event_type).payload)
        assert body["type"] == event_type and body["test"] is True and body["data"]


def test_unknown_event_types_name_the_valid_ones() -> None:
    with pytest.raises(ValueError, match=r"signal\.created"):
        Event.build("acme", "signal.deleted", (), T, {})


def test_secrets_are_encrypted_at_rest_and_keys_rotate(monkeypatch) -> None:
    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    monkeypatch.setenv("DEVSIGNAL_SECRET_KEY", old)
    secret = new_signing_secret()
    token = encrypt_secret(secret)
    assert secret not in token
    monkeypatch.setenv("DEVSIGNAL_SECRET_KEY", f"{new},{old}")
    assert decrypt_secret(token) == secret
    monkeypatch.setenv("DEVSIGNAL_SECRET_KEY", new)
    with pytest.raises(SecretKeyError, match="key changed"):
        decrypt_secret(token)


@pytest.mark.parametrize("value", ["", "not-a-key"])
def test_a_missing_or_bad_secret_key_says_how_to_create_one(monkeypatch, value: str) -> None:
    monkeypatch.setenv("DEVSIGNAL_SECRET_KEY", value)
    with pytest.raises(SecretKeyError, match=r"DEVSIGNAL_SECRET_KEY.*Fernet.generate_key"):
        encrypt_secret("whsec_x")


def test_retry_delays_follow_the_schedule_with_jitter_and_honour_retry_after() -> None:
    settings = WebhookSettings(retry_schedule_s=(5, 300), retry_jitter=0.2, max_retry_after_s=3600)
    rng = random.Random(1)
    assert 5 <= next_delay_s(settings, 1, None, rng) <= 6
    assert 300 <= next_delay_s(settings, 2, None, rng) <= 360
    assert next_delay_s(settings, 3, None, rng) is None  # the last retry failed: give up
    assert next_delay_s(settings, 1, 120, rng) == 120  # Retry-After later than the schedule wins
    assert next_delay_s(settings, 1, 10**9, rng) == 3600  # but is capped
    assert settings.max_attempts == 3


def test_settings_from_the_environment_and_clear_errors(monkeypatch) -> None:
    monkeypatch.setenv("DEVSIGNAL_WEBHOOK_RETRY_SCHEDULE", "0.1, 0.2")
    monkeypatch.setenv("DEVSIGNAL_WEBHOOK_ALLOWED_NETWORKS", "127.0.0.0/8,::1")
    monkeypatch.setenv("DEVSIGNAL_WEBHOOK_REQUIRE_HTTPS", "true")
    settings = load_webhook_settings()
    assert settings.retry_schedule_s == (0.1, 0.2) and settings.require_https
    assert [str(n) for n in settings.allowed_networks] == ["127.0.0.0/8", "::1/128"]
    assert settings.timeout_s == 15.0
    monkeypatch.setenv("DEVSIGNAL_WEBHOOK_ALLOWED_NETWORKS", "localhost")
    with pytest.raises(
        WebhookSettingsError, match=r"DEVSIGNAL_WEBHOOK_ALLOWED_NETWORKS.*'localhost'"
    ):
        load_webhook_settings()
    monkeypatch.setenv("DEVSIGNAL_WEBHOOK_ALLOWED_NETWORKS", "")
    monkeypatch.setenv("DEVSIGNAL_WEBHOOK_TIMEOUT_S", "soon")
    with pytest.raises(WebhookSettingsError, match="DEVSIGNAL_WEBHOOK_TIMEOUT_S"):
        load_webhook_settings()


def _contact_change(
    before: str, after: str, updated_at: str, column: str = "seniority"
) -> pd.DataFrame:
    """A core.contacts row whose `column` changed (seniority: an enrichment field)."""
    from devsignal_pipelines.lib.stores.tables import CORE_CONTACTS

    row = {name: None for name in CORE_CONTACTS.column_names}
    row.update(organization_id="acme", contact_id="c1", updated_at=updated_at)
    row[column] = after
    row.update({f"prev__{name}": row[name] for name in CORE_CONTACTS.column_names})
    row[f"prev__{column}"] = before
    return pd.DataFrame([row])


def test_a_contact_changing_back_and_forth_gets_a_new_id_each_time() -> None:
    from devsignal_pipelines.lib.webhooks.emit import WATCHES, change_events

    watch, now = WATCHES["core.contacts"], datetime(2026, 11, 20, tzinfo=UTC)

    def updated_id(before: str, after: str, updated_at: str) -> str:
        (event,) = change_events(
            watch, "acme", pd.DataFrame(), _contact_change(before, after, updated_at), now
        )
        assert event.event_type == "contact.updated"
        return event.id

    first = updated_id("Engineer", "Manager", "2026-11-01T10:00:00+00:00")
    back = updated_id("Manager", "Engineer", "2026-11-02T10:00:00+00:00")
    again = updated_id("Engineer", "Manager", "2026-11-03T10:00:00+00:00")
    assert len({first, back, again}) == 3  # the third change is sent, not mistaken for the first
    assert updated_id("Engineer", "Manager", "2026-11-01T10:00:00+00:00") == first  # a re-run


def test_a_crm_save_without_a_changed_field_is_not_an_update() -> None:
    from devsignal_pipelines.lib.webhooks.emit import WATCHES, change_events

    touched = _contact_change("Engineer", "Engineer", "2026-11-04T10:00:00+00:00")
    touched["prev__updated_at"] = "2026-11-01T10:00:00+00:00"
    now = datetime(2026, 11, 20, tzinfo=UTC)
    assert change_events(WATCHES["core.contacts"], "acme", pd.DataFrame(), touched, now) == []


def test_a_rebuild_does_not_resend_what_the_crm_write_already_sent() -> None:
    """Title, name, email and company changes are sent by the CRM write (upsert.py) when they
    happen; the diff of core.contacts reports only what enrichment changes."""
    from devsignal_pipelines.lib.webhooks.emit import WATCHES, change_events

    now = datetime(2026, 11, 20, tzinfo=UTC)
    for column in ("title", "full_name", "email", "company_id"):
        crm_edit = _contact_change("A", "B", "2026-11-04T10:00:00+00:00", column=column)
        assert change_events(WATCHES["core.contacts"], "acme", pd.DataFrame(), crm_edit, now) == []
