"""The signer against the Standard Webhooks vectors, and as a real receiver verifies it."""

from __future__ import annotations

import json
import time

import pytest
from standardwebhooks import Webhook
from standardwebhooks.webhooks import EmptyWebhookSecretError, WebhookVerificationError

from devsignal_pipelines.lib.webhooks.secrets import new_signing_secret
from devsignal_pipelines.lib.webhooks.signing import Signer
from tests.conftest import SHARED

VECTORS = SHARED / "fixtures" / "webhooks"


def _vector(name: str) -> dict:
    return json.loads((VECTORS / name).read_text())


@pytest.mark.parametrize(
    "name", ["standard_webhooks_sign_vector_v1.json", "standard_webhooks_sign_vector_rust.json"]
)
def test_signer_matches_the_published_vectors(name: str) -> None:
    v = _vector(name)
    signature = Signer(v["secret"]).signature(v["msg_id"], v["timestamp"], v["payload"].encode())
    assert signature == v["expected_signature"]


def test_signer_headers_match_the_vector_headers() -> None:
    v = _vector("standard_webhooks_sign_vector_v1.json")
    headers = Signer(v["secret"]).headers(v["msg_id"], v["timestamp"], v["payload"].encode())
    assert headers == v["headers"]


def test_one_character_off_does_not_verify() -> None:
    v = _vector("standard_webhooks_sign_vector_v1.json")
    now = int(time.time())
    headers = Signer(v["secret"]).headers(v["msg_id"], now, v["payload"].encode())
    receiver = Webhook(v["secret"])
    receiver.verify(v["payload"], headers)  # the real signature verifies...
    signature = headers["webhook-signature"]
    flipped = "A" if signature[-2] != "A" else "B"
    tampered = {**headers, "webhook-signature": signature[:-2] + flipped + signature[-1]}
    with pytest.raises(WebhookVerificationError):
        receiver.verify(v["payload"], tampered)  # ...one character off does not


def test_a_receiver_verifies_what_we_sign_including_non_ascii_bytes() -> None:
    secret = new_signing_secret()
    body = json.dumps({"text": "ça marche — 🚀"}, ensure_ascii=False).encode()
    headers = Signer(secret).headers("evt_1", int(time.time()), body)
    assert Webhook(secret).verify(body, headers) == {"text": "ça marche — 🚀"}
    with pytest.raises(WebhookVerificationError):
        Webhook(secret).verify(body + b" ", headers)  # not the exact bytes: refused


def test_a_receiver_picks_our_signature_out_of_decoys() -> None:
    secret = new_signing_secret()
    body = b'{"a":1}'
    headers = Signer(secret).headers("evt_2", int(time.time()), body)
    decoys = _vector("standard_webhooks_negative_and_edge_vectors.json")[
        "multi_signature_decoys_python"
    ]
    headers["webhook-signature"] = " ".join(
        headers["webhook-signature"] if d == "<valid v1 signature>" else d for d in decoys
    )
    assert Webhook(secret).verify(body, headers) == {"a": 1}


@pytest.mark.parametrize(
    "secret", _vector("standard_webhooks_negative_and_edge_vectors.json")["empty_secrets_rejected"]
)
def test_empty_secrets_are_rejected(secret: str) -> None:
    with pytest.raises(EmptyWebhookSecretError):
        Signer(secret)


def test_new_secrets_are_whsec_with_32_random_bytes() -> None:
    a, b = new_signing_secret(), new_signing_secret()
    assert a.startswith("whsec_") and a != b
    assert len(Webhook(a)._whsecret) == 32
