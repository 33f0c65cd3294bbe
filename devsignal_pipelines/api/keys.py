"""An organization's own API keys: list, create (optionally expiring), revoke.

Authenticated like every route (the key decides the organization): an organization sees and
revokes only its own keys; another organization's key answers 404, as if it did not exist. A
key created here never outlives the key that created it, and a key revoked here is refused by this
process at once (by other API processes within their key cache's time, api/auth.py).
"""

from __future__ import annotations

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
from devsignal_pipelines.lib.webhooks.events import iso

PATH = "/api/v1/api-keys"
MAX_BODY_BYTES = 4 * 1024


def key_json(row: dict[str, Any]) -> dict[str, Any]:
    """A key as lists show it: never the key or its hash."""
    return {
        "id": row["id"],
        "prefix": row["prefix"],
        "status": row["status"],
        "created_at": iso(row["created_at"]),
        "created_by": row["created_by"],
        "last_used_at": iso(row["last_used_at"]) if row["last_used_at"] else None,
        "expires_at": iso(row["expires_at"]) if row["expires_at"] else None,
        "revoked_at": iso(row["revoked_at"]) if row["revoked_at"] else None,
    }


class ApiKeyRoutes:
    def __init__(self, control: ControlDB, keys: KeyCache):
        self.control = control
        self.keys = keys

    def routes(self) -> list[Route]:
        return [
            Route(PATH, self._collection, methods=["GET", "POST"]),
            Route(f"{PATH}/{{reference}}", self._revoke, methods=["DELETE"]),
        ]

    async def _collection(self, request: Request) -> Response:
        caller = await self.keys.check(key_from_headers(request))
        if caller.organization_id is None:
            return unauthorized(caller)
        org = caller.organization_id
        if request.method == "GET":
            rows = await run_in_threadpool(store.list_api_keys, self.control, org)
            return JSONResponse([key_json(r) for r in rows])
        try:
            body = await read_body(request, MAX_BODY_BYTES)
        except BodyTooLarge as exc:
            return error(413, str(exc))
        except BodyUnreadable as exc:
            return error(400, str(exc))
        options: dict[str, Any] = {}
        if body.strip():
            options, problem = parse_json_object(request, body, '{"expires_in": "90d"}')
            if problem is not None:
                return problem
        expires_in = None
        if options.get("expires_in") is not None:
            try:
                expires_in = store.parse_expires_in(options["expires_in"])
            except ValueError as exc:
                return error(422, str(exc), field="expires_in")
        new = await run_in_threadpool(
            lambda: store.issue_api_key(
                self.control,
                org,
                expires_in,
                not_after=caller.expires_at,
                created_by=caller.key_id or "api",
            )
        )
        return JSONResponse(
            {
                "id": new.id,
                "prefix": new.prefix,
                "key": new.key,  # the only time it is shown
                "created_at": iso(new.created_at),
                "expires_at": iso(new.expires_at) if new.expires_at else None,
            },
            status_code=201,
            headers={"Location": f"{PATH}/{new.id}"},
        )

    async def _revoke(self, request: Request) -> Response:
        caller = await self.keys.check(key_from_headers(request))
        if caller.organization_id is None:
            return unauthorized(caller)
        reference = request.path_params["reference"]
        if len(reference) > store.SHOWN_PREFIX_LENGTH and reference.startswith(
            store.API_KEY_PREFIX
        ):
            # A key in a URL ends up in access logs and proxies' logs: never ask for one there.
            return error(
                422,
                f"not a key prefix: give the {store.SHOWN_PREFIX_LENGTH} characters lists show "
                f"(here {reference[: store.SHOWN_PREFIX_LENGTH]}) or the key id, never the key "
                "itself in a URL",
                field="key",
            )
        try:
            revoked = await run_in_threadpool(
                store.revoke_api_key, self.control, reference, caller.organization_id
            )
        except store.NotFoundError:
            return error(404, f"no API key {reference!r}; see GET {PATH}")
        except store.AmbiguousKeyError as exc:
            return error(409, str(exc))
        self.keys.forget(revoked["id"])
        return Response(status_code=204)
