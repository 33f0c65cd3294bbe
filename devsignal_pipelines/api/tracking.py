"""The Segment HTTP Tracking API: point an existing Segment / RudderStack SDK at DevSignal's host.

`POST /v1/track | identify | group | page | screen | alias | batch` (and `/v1/import`, Segment's
other name for batch), authenticated like Segment (HTTP Basic with the write key as user name, or
`writeKey` in the body): the write key is one of the organization's API keys
(`devsignal orgs api-key ORG`). A 200 means every message of the request is stored durably in the
control DB (see lib/sources/events/intake.py) and will reach the warehouse; a message sent again
with the same messageId is stored once.

Answers, as Segment's: 200 `{"success": true}`; 400 for a body that is too large (32 KB a
message, 500 KB a batch: refused while reading), not JSON, nested too deeply, or with invalid
messages: the valid ones are stored, each invalid one is listed with its index, messageId and
field; 401 for a missing or unknown write key; 503 with Retry-After when the store cannot take the
write (the SDKs retry 5xx). Error bodies carry `code` and `message`, which the SDKs log.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from devsignal_pipelines.api.auth import KeyCache, key_from_headers
from devsignal_pipelines.api.bodies import BodyTooLarge, BodyUnreadable, read_body
from devsignal_pipelines.lib.sources.events.intake import IntakeWriter
from devsignal_pipelines.lib.sources.events.messages import (
    MAX_BATCH_BYTES,
    MAX_MESSAGE_BYTES,
    MESSAGE_TYPES,
    BodyError,
    parse_body,
    write_key_of,
)
from devsignal_pipelines.lib.stores.control import ControlDB, ControlDBError

# Browsers send analytics.js beacons as text/plain to avoid a CORS preflight; accept it too.
_JSON_TYPES = ("application/json", "text/plain", "")
_CORS = {
    "Access-Control-Allow-Origin": "*",
    "Access-Control-Allow-Methods": "POST, OPTIONS",
    "Access-Control-Allow-Headers": "Authorization, Content-Type, Content-Encoding",
    "Access-Control-Max-Age": "86400",
}


def _answer(status: int, code: str | None = None, message: str = "", **extra: Any) -> JSONResponse:
    body: dict[str, Any] = {"success": status == 200}
    if code:
        body.update(code=code, message=message)
    body.update(extra)
    headers = dict(_CORS)
    if status == 401:
        headers["WWW-Authenticate"] = 'Basic realm="devsignal"'
    if status == 503:
        headers["Retry-After"] = "5"
    return JSONResponse(body, status_code=status, headers=headers)


class TrackingRoutes:
    """The /v1 routes around one control DB, one key cache and one group-commit writer."""

    def __init__(self, control: ControlDB, keys: KeyCache, writer: IntakeWriter | None = None):
        self.control = control
        self.keys = keys
        self.writer = writer or IntakeWriter(control)
        self._enabled_until: dict[str, float] = {}

    def routes(self) -> list[Route]:
        routes = [
            Route(f"/v1/{kind}", self._endpoint(kind), methods=["POST", "OPTIONS"])
            for kind in MESSAGE_TYPES
        ]
        batch = self._endpoint(None)
        routes += [
            Route(path, batch, methods=["POST", "OPTIONS"]) for path in ("/v1/batch", "/v1/import")
        ]
        return routes

    def _endpoint(self, message_type: str | None) -> Callable[[Request], Any]:
        async def endpoint(request: Request) -> Response:
            if request.method == "OPTIONS":
                return Response(status_code=204, headers=_CORS)
            return await self._receive(request, message_type)

        return endpoint

    async def _receive(self, request: Request, message_type: str | None) -> Response:
        received_at = datetime.now(UTC)
        limit = MAX_MESSAGE_BYTES if message_type else MAX_BATCH_BYTES
        try:
            body = await read_body(request, limit)
        except BodyTooLarge as exc:
            what = "message" if message_type else "batch"
            return _answer(400, "request_too_large", f"a {what} is at most {exc.limit // 1024} KB")
        except BodyUnreadable as exc:
            return _answer(400, "invalid_request", str(exc))
        caller = await self.keys.check(key_from_headers(request) or write_key_of(body))
        organization_id = caller.organization_id
        if organization_id is None:
            return _answer(
                401,
                "invalid_write_key",
                caller.problem
                or "missing or unknown write key: send an organization API key as the Basic auth "
                "user name (create one with: devsignal orgs api-key ORG)",
            )
        content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if content_type not in _JSON_TYPES:
            return _answer(
                415,
                "invalid_request",
                f"send JSON (Content-Type: application/json), not {content_type}",
            )
        try:
            await self._events_enabled(organization_id)
        except ControlDBError as exc:
            return _answer(403, "source_disabled", str(exc))
        try:
            parsed = parse_body(body, organization_id, received_at, message_type=message_type)
        except BodyError as exc:
            return _answer(400, "invalid_request", str(exc))
        if parsed.rows:
            try:
                await self.writer.write(parsed.rows)
            except Exception as exc:  # the store is down or locked: the client must retry
                return _answer(
                    503,
                    "unavailable",
                    f"could not store the messages, retry ({type(exc).__name__})",
                )
        if parsed.errors:
            first = parsed.errors[0]
            return _answer(
                400,
                "invalid_message",
                f"{len(parsed.errors)} invalid message(s), first: {first}"
                + (f"; the other {len(parsed.rows)} were stored" if parsed.rows else ""),
                accepted=len(parsed.rows),
                errors=[e.as_json() for e in parsed.errors[:100]],
            )
        return _answer(200)

    async def _events_enabled(self, organization_id: str) -> None:
        """Enable the organization's `events` source on its first message; re-checked every
        minute, so `devsignal orgs disconnect ORG events` stops intake within a minute."""
        if self._enabled_until.get(organization_id, 0.0) > time.monotonic():
            return
        await run_in_threadpool(self.control.ensure_pushed_source, organization_id, "events")
        self._enabled_until[organization_id] = time.monotonic() + 60.0
