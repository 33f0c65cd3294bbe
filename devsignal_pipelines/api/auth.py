"""Which organization a request acts for: an API key (`dsk_...`) in the Authorization header.

`Authorization: Bearer <key>`, `X-API-Key: <key>`, or HTTP Basic with the key as user name and an
empty password: the way every Segment library sends its write key, and what Zapier's "API Key"
authentication sends (the Segment routes also take `writeKey` in the body). Keys are stored as SHA-256 only; a key
seen recently is answered from memory for `ttl_s` seconds (10 by default), so the hot path does not
query the control DB on every request. A key revoked elsewhere (`devsignal orgs revoke`, another API
process) is refused within that time; one revoked through this process's API at once; an expiring
key is never answered from memory past its expiry. Revoked and expired keys get a 401 saying so.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import time
from datetime import UTC, datetime

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse

from devsignal_pipelines.api.errors import error
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


MISSING_KEY = (
    "missing or invalid API key; send `Authorization: Bearer <key>` "
    "(create one with: devsignal orgs api-key ORG)"
)
DEFAULT_TTL_S = 10.0


class KeyCache:
    """API key -> organization, remembered for a short time (only hashes are kept)."""

    def __init__(self, control: ControlDB, ttl_s: float = DEFAULT_TTL_S):
        self.control = control
        self.ttl_s = ttl_s
        # sha256(key) -> (the key's check, monotonic time until which it is answered from memory)
        self._known: dict[str, tuple[store.ApiKeyCheck, float]] = {}

    async def check(self, key: str | None) -> store.ApiKeyCheck:
        """Whom the key acts for, or why not (see store.check_api_key)."""
        if not key:
            return store.ApiKeyCheck(None)
        digest = hashlib.sha256(key.encode()).hexdigest()
        hit = self._known.get(digest)
        now = time.monotonic()
        if hit and hit[1] > now:
            return hit[0]
        checked = await run_in_threadpool(store.check_api_key, self.control, key)
        if checked.organization_id is None:
            self._known.pop(digest, None)
            return checked
        valid_for = self.ttl_s
        if checked.expires_at is not None:
            valid_for = min(valid_for, (checked.expires_at - datetime.now(UTC)).total_seconds())
        self._known[digest] = (checked, now + valid_for)
        return checked

    async def organization(self, key: str | None) -> str | None:
        return (await self.check(key)).organization_id

    def forget(self, key_id: str) -> None:
        """Stop answering a key from memory (it was just revoked through this process)."""
        for digest, (checked, _) in list(self._known.items()):
            if checked.key_id == key_id:
                self._known.pop(digest, None)


def unauthorized(checked: store.ApiKeyCheck) -> JSONResponse:
    """The REST API's 401: why a revoked or expired key is refused, else how to send one."""
    return error(401, checked.problem or MISSING_KEY)
