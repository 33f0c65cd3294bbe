"""Standard Webhooks signatures (https://www.standardwebhooks.com), over the exact bytes sent."""

from __future__ import annotations

from datetime import UTC, datetime

from standardwebhooks.webhooks import Webhook


class Signer:
    """Signs bodies for one subscription secret (whsec_...)."""

    def __init__(self, secret: str):
        self._webhook = Webhook(secret)

    def signature(self, msg_id: str, timestamp: int, body: bytes) -> str:
        """`v1,<base64 HMAC-SHA256 of "id.timestamp.body">`."""
        # The library signs `data.encode()`; UTF-8 decoding then encoding gives back `body` exactly.
        return self._webhook.sign(msg_id, datetime.fromtimestamp(timestamp, UTC), body.decode())

    def headers(self, msg_id: str, timestamp: int, body: bytes) -> dict[str, str]:
        return {
            "webhook-id": msg_id,
            "webhook-timestamp": str(timestamp),
            "webhook-signature": self.signature(msg_id, timestamp, body),
        }
