"""Which organization a request acts for: an API key (`dsk_...`) in the Authorization header.

`Authorization: Bearer <key>`, `X-API-Key: <key>`, or HTTP Basic with the key as user name and an
empty password: the way every Segment library sends its write key, and what Zapier's "API Key"
authentication sends (the Segment routes also take `writeKey` in the body). Keys are stored as SHA-256 only; a key
seen recently is answered from memory for `ttl_s` seconds, so revoking one takes effect within
that time and the hot path does not query the control DB on every request.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import time

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request

from devsignal_pipelines.lib.stores.control import ControlDB
from devsignal_pipelines.lib.webhooks import store


def key_from_headers(request: Request) -> str | None:
    auth = request.headers.get("authorization", "").strip()
    scheme, _, value = auth.partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return value.strip()
    if scheme.lower() == "basic" and value.strip():
        try:
            decoded = base64.b64decode(value.strip(), validate=True).decode()
        except (binascii.Error, UnicodeDecodeError):
            return None
        return decoded.partition(":")[0].strip() or None
    return request.headers.get("x-api-key", "").strip() or None


class KeyCache:
    """API key -> organization, remembered for a short time (only hashes are kept)."""

    def __init__(self, control: ControlDB, ttl_s: float = 30.0):
        self.control = control
        self.ttl_s = ttl_s
        self._known: dict[str, tuple[str, float]] = {}

    async def organization(self, key: str | None) -> str | None:
        if not key:
            return None
        digest = hashlib.sha256(key.encode()).hexdigest()
        hit = self._known.get(digest)
        now = time.monotonic()
        if hit and hit[1] > now:
            return hit[0]
        org = await run_in_threadpool(store.organization_for_key, self.control, key)
        if org is None:
            self._known.pop(digest, None)
            return None
        self._known[digest] = (org, now + self.ttl_s)
        return org
