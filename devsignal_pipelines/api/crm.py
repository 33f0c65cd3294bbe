"""CRM upserts keyed by the organization's own ids, as a Zapier / Make action step sends them.

`PUT /api/v1/{companies|contacts|deals}/{external_id}` creates or updates (201 / 200, the stored
record in the answer), `GET` reads it, `DELETE` forgets it (204). The body is one JSON object:
flat fields or HubSpot's `{"id", "properties": {...}}`; field names and aliases are in
docs/first_party.md. Every spelling of the record's id in the body (`id`, `hs_object_id`, ...)
must match the URL's. Webhook events of the change are in the outbox when the answer is sent.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from devsignal_pipelines.api.auth import KeyCache, key_from_headers, unauthorized
from devsignal_pipelines.api.bodies import BodyTooLarge, BodyUnreadable, read_body
from devsignal_pipelines.api.errors import error, parse_json_object
from devsignal_pipelines.lib.sources.crm.lookup import delete_record, get_record
from devsignal_pipelines.lib.sources.crm.records import (
    KINDS,
    RecordError,
    flatten,
    id_keys,
    normalize_records,
)
from devsignal_pipelines.lib.sources.crm.upsert import ConflictError, write_records
from devsignal_pipelines.lib.stores.control import ControlDB, ControlDBError

PREFIX = "/api/v1"
MAX_RECORD_BYTES = 64 * 1024


class CrmRoutes:
    def __init__(self, control: ControlDB, keys: KeyCache):
        self.control = control
        self.keys = keys

    def routes(self) -> list[Route]:
        return [
            Route(
                f"{PREFIX}/{kind}/{{external_id:path}}",
                self._endpoint(kind),
                methods=["PUT", "GET", "DELETE"],
            )
            for kind in KINDS
        ]

    def _endpoint(self, kind: str) -> Callable[[Request], Any]:
        async def endpoint(request: Request) -> Response:
            caller = await self.keys.check(key_from_headers(request))
            if caller.organization_id is None:
                return unauthorized(caller)
            org = caller.organization_id
            external_id = request.path_params["external_id"]
            if request.method == "GET":
                record = await run_in_threadpool(get_record, self.control, org, kind, external_id)
                return (
                    JSONResponse(record)
                    if record
                    else error(404, f"no {kind[:-1]} with id {external_id!r}")
                )
            if request.method == "DELETE":
                deleted = await run_in_threadpool(
                    delete_record, self.control, org, kind, external_id
                )
                return (
                    Response(status_code=204)
                    if deleted
                    else error(404, f"no {kind[:-1]} with id {external_id!r}")
                )
            return await self._put(request, org, kind, external_id)

        return endpoint

    async def _put(self, request: Request, org: str, kind: str, external_id: str) -> Response:
        try:
            body = await read_body(request, MAX_RECORD_BYTES)
        except BodyTooLarge as exc:
            return error(413, str(exc))
        except BodyUnreadable as exc:
            return error(400, str(exc))
        record, problem = parse_json_object(request, body)
        if problem is not None:
            return problem
        record = flatten(record)
        for key in id_keys(kind, record):  # `id`, `external_id`, `hs_object_id`, ...
            sent = record.pop(key)
            if sent is not None and str(sent) != external_id:
                return error(
                    422,
                    f"the body's {key} {sent!r} differs from the URL's id {external_id!r} "
                    f"(send it to {PREFIX}/{kind}/{sent}, or leave {key} out)",
                    field=key,
                )
        record["id"] = external_id
        try:
            frame = normalize_records(kind, [record])
            result = await run_in_threadpool(write_records, self.control, org, kind, frame)
        except RecordError as exc:
            first = exc.errors.iloc[0]
            return error(422, first["message"], field=first["field"],
                         errors=[{"field": f, "message": m} for f, m in zip(exc.errors["field"], exc.errors["message"], strict=True)])  # fmt: skip
        except ConflictError as exc:
            _, field, message = exc.problems[0]
            return error(409, message, field=field)
        except ControlDBError as exc:
            return error(403, str(exc))
        stored = await run_in_threadpool(get_record, self.control, org, kind, external_id)
        created = bool(result.created_ids)
        return JSONResponse(stored, status_code=201 if created else 200)
