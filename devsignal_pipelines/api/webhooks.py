"""REST hooks for Zapier / Make: subscribe, list, get, pause / resume / re-point, unsubscribe,
event types with samples, recent events (a sample when there are none), polling, test sends.

Every request carries an organization API key (`Authorization: Bearer dsk_...` or
`X-API-Key: dsk_...`); the key decides the organization, so one tenant can neither see nor
touch another's subscriptions (they answer 404, as if they did not exist).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from devsignal_pipelines.api.auth import KeyCache, key_from_headers, unauthorized
from devsignal_pipelines.api.bodies import BodyTooLarge, BodyUnreadable, read_body
from devsignal_pipelines.api.errors import error, parse_json_object
from devsignal_pipelines.lib.stores.control import ControlDB
from devsignal_pipelines.lib.webhooks import store
from devsignal_pipelines.lib.webhooks.events import EVENT_TYPES, iso, sample_event
from devsignal_pipelines.lib.webhooks.secrets import SecretKeyError
from devsignal_pipelines.lib.webhooks.settings import WebhookSettings
from devsignal_pipelines.lib.webhooks.ssrf import UnsafeTargetError
from devsignal_pipelines.lib.webhooks.testsend import send_test

PREFIX = "/api/v1/webhooks"
URL_FIELDS = ("url", "target_url", "hookUrl")  # ours, then what Zapier / Make templates send
MAX_BODY_BYTES = 64 * 1024
PATCH_STATUSES = ("active", "paused")


class Invalid(Exception):
    def __init__(self, field: str, message: str):
        super().__init__(message)
        self.field = field


def _subscription_json(sub: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": sub["id"],
        "event": sub["event_type"],
        "url": sub["url"],
        "status": sub["status"],
        "status_reason": sub.get("status_reason"),
        "created_at": iso(sub["created_at"]),
    }


def _sample(organization_id: str, event_type: str) -> dict[str, Any]:
    """The type's sample payload as `devsignal webhooks test` sends it: an `evt_test_...` id and
    `"test": true`, so a client can tell it from a real event."""
    return json.loads(sample_event(organization_id, event_type).payload)


def _iso_time(text: str) -> datetime | None:
    text = text.replace("Z", "+00:00")
    # An unescaped "+01:00" in a query string arrives as " 01:00".
    for candidate in (text, "+".join(text.rsplit(" ", 1))):
        try:
            return datetime.fromisoformat(candidate)
        except ValueError:
            continue
    return None


def webhook_routes(
    db: ControlDB, keys: KeyCache, settings: Callable[[], WebhookSettings]
) -> list[Route]:
    def authenticated(handler: Callable[[Request, str], Response]) -> Callable[[Request], Any]:
        async def endpoint(request: Request) -> Response:
            caller = await keys.check(key_from_headers(request))
            if caller.organization_id is None:
                return unauthorized(caller)
            org = caller.organization_id
            try:
                body = (
                    await read_body(request, MAX_BODY_BYTES)
                    if request.method in ("POST", "PATCH")
                    else b""
                )
            except BodyTooLarge:
                return error(413, f"body larger than {MAX_BODY_BYTES} bytes")
            except BodyUnreadable as exc:
                return error(400, str(exc))
            request.state.body = body
            try:
                return await run_in_threadpool(handler, request, org)
            except Invalid as exc:
                return error(422, str(exc), field=exc.field)
            except store.NotFoundError:
                return error(404, "no such subscription")
            except SecretKeyError as exc:
                return error(503, f"webhooks are not configured on this server: {exc}")

        return endpoint

    def create_subscription(request: Request, org: str) -> Response:
        body, problem = parse_json_object(
            request, request.state.body, '{"event": "contact.created", "url": "https://..."}'
        )
        if problem is not None:
            return problem
        event = body.get("event", body.get("event_type"))
        if not isinstance(event, str) or not event:
            raise Invalid("event", f"`event` is required: one of {', '.join(EVENT_TYPES)}")
        if event not in EVENT_TYPES:
            raise Invalid("event", f"unknown event {event!r}; use one of {', '.join(EVENT_TYPES)}")
        field = next((f for f in URL_FIELDS if f in body), "url")
        url = body.get(field)
        if not isinstance(url, str) or not url.strip():
            raise Invalid("url", "`url` is required: the https:// URL that will receive the events")
        try:
            sub = store.subscribe(db, org, event, url.strip(), settings(), created_via="api")
        except UnsafeTargetError as exc:
            raise Invalid(field, exc.public_message) from None
        payload = {
            "id": sub.id,
            "event": sub.event_type,
            "url": sub.url,
            "status": "active",
            "created_at": iso(sub.created_at),
            "secret": sub.secret,  # the only time it is shown
        }
        return JSONResponse(
            payload, status_code=201, headers={"Location": f"{PREFIX}/subscriptions/{sub.id}"}
        )

    def list_subscriptions(request: Request, org: str) -> Response:
        return JSONResponse([_subscription_json(s) for s in store.list_subscriptions(db, org)])

    def delete_subscription(request: Request, org: str) -> Response:
        store.set_status(db, request.path_params["id"], "deleted", organization_id=org)
        return Response(status_code=204)

    def test_subscription(request: Request, org: str) -> Response:
        result = send_test(db, request.path_params["id"], settings(), organization_id=org)
        return JSONResponse(
            {
                "event_id": result["event_id"],
                "status": result["status"],
                "status_code": result["status_code"],
                "error": result["error"],
                "payload": json.loads(result["payload"]),
            }
        )

    def get_subscription(request: Request, org: str) -> Response:
        sub = store.get_subscription(db, request.path_params["id"], organization_id=org)
        return JSONResponse(_subscription_json(sub))

    def update_subscription(request: Request, org: str) -> Response:
        body, problem = parse_json_object(request, request.state.body, '{"status": "paused"}')
        if problem is not None:
            return problem
        unknown = [k for k in body if k not in ("status", *URL_FIELDS)]
        if unknown:
            raise Invalid(unknown[0], f"unknown field {unknown[0]!r}; send `status` and/or `url`")
        status = body.get("status")
        if "status" in body and status not in PATCH_STATUSES:
            raise Invalid("status", '`status` must be "active" (resume) or "paused" (pause)')
        fields = [f for f in URL_FIELDS if f in body]
        if len(fields) > 1:
            raise Invalid(fields[1], f"send one of {', '.join(URL_FIELDS)}, not several")
        url = body.get(fields[0]) if fields else None
        if fields and (not isinstance(url, str) or not url.strip()):
            raise Invalid(fields[0], "`url` must be the https:// URL that will receive the events")
        if status is None and url is None:
            raise Invalid(
                "body", 'nothing to change: send {"status": "paused"|"active"} and/or {"url": ...}'
            )
        sub_id = request.path_params["id"]
        sub = store.get_subscription(db, sub_id, organization_id=org)
        if url is not None:
            try:
                sub = store.update_url(db, sub_id, url.strip(), settings(), organization_id=org)
            except UnsafeTargetError as exc:
                raise Invalid(fields[0], exc.public_message) from None
        if status is not None and status != sub["status"]:
            sub = store.set_status(db, sub_id, status, organization_id=org)
        return JSONResponse(_subscription_json(sub))

    def event_types(request: Request, org: str) -> Response:
        return JSONResponse(
            [
                {"type": t, "description": d, "sample": _sample(org, t)}
                for t, d in EVENT_TYPES.items()
            ]
        )

    def list_events(request: Request, org: str) -> Response:
        params = request.query_params
        event_type = params.get("type") or None
        if event_type is not None and event_type not in EVENT_TYPES:
            raise Invalid(
                "type", f"unknown event type {event_type!r}; use one of {', '.join(EVENT_TYPES)}"
            )
        raw_limit = params.get("limit", "20")
        if not raw_limit.isdigit() or not 1 <= int(raw_limit) <= 100:
            raise Invalid("limit", "`limit` must be an integer from 1 to 100")
        limit = int(raw_limit)
        if "cursor" in params or "since" in params:
            return _poll(org, event_type, limit, params.get("since"), params.get("cursor"))
        payloads = store.recent_events(db, org, event_type, limit)
        if not payloads and event_type is not None:
            # Nothing happened yet: Zapier's trigger setup still needs a record to map fields.
            return JSONResponse([_sample(org, event_type)])
        return JSONResponse([json.loads(p) for p in payloads])

    def _poll(
        org: str, event_type: str | None, limit: int, since: str | None, token: str | None
    ) -> Response:
        if since is not None and token is not None:
            raise Invalid("cursor", "send `since` for the first poll, then only `cursor`")
        if token is not None:
            try:
                cursor = store.decode_poll_cursor(token, event_type)
            except ValueError as exc:
                raise Invalid("cursor", str(exc)) from None
        else:
            cursor = _since_cursor(org, (since or "").strip())
        payloads, after = store.poll_events(db, org, event_type, cursor, limit)
        return JSONResponse(
            {
                "events": [json.loads(p) for p in payloads],
                "next_cursor": store.encode_poll_cursor(after, event_type),
            }
        )

    def _since_cursor(org: str, since: str) -> store.PollCursor:
        if since.startswith("evt_"):
            try:
                return store.poll_start_at_event(db, org, since)
            except store.NotFoundError:
                raise Invalid("since", f"no event {since!r} in this organization") from None
        moment = _iso_time(since)
        if moment is None:
            raise Invalid(
                "since",
                "`since` must be an event id (evt_...) or an ISO time (2026-12-01T00:00:00Z)",
            )
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=UTC)
        return store.PollCursor(moment, floor=(moment, None))

    return [
        Route(f"{PREFIX}/subscriptions", authenticated(create_subscription), methods=["POST"]),
        Route(f"{PREFIX}/subscriptions", authenticated(list_subscriptions), methods=["GET"]),
        Route(
            f"{PREFIX}/subscriptions/{{id}}",
            authenticated(delete_subscription),
            methods=["DELETE"],
        ),
        Route(f"{PREFIX}/subscriptions/{{id}}", authenticated(get_subscription), methods=["GET"]),
        Route(
            f"{PREFIX}/subscriptions/{{id}}",
            authenticated(update_subscription),
            methods=["PATCH"],
        ),
        Route(
            f"{PREFIX}/subscriptions/{{id}}/test",
            authenticated(test_subscription),
            methods=["POST"],
        ),
        Route(f"{PREFIX}/events", authenticated(list_events), methods=["GET"]),
        Route(f"{PREFIX}/event-types", authenticated(event_types), methods=["GET"]),
    ]
