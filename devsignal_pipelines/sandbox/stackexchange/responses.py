"""Stack Exchange API 2.3 response bodies, shaped like the recorded ones in shared/fixtures.

Every answer is the common wrapper: ``items``, ``has_more``, ``quota_max``, ``quota_remaining``
and, when the API wants the caller to slow down, ``backoff`` (seconds before calling the SAME
method again). Errors are the wrapper's ``error_id`` / ``error_name`` / ``error_message`` with
HTTP 400, as the API documents for all errors; only the injected infrastructure failures use
HTTP 5xx. Fault bodies (5xx, malformed 200s) are built here too, so ``stackexchange`` only decides.
"""

from __future__ import annotations

import random

from starlette.responses import Response

from devsignal_pipelines.sandbox.ratelimit import Quota
from devsignal_pipelines.sandbox.x.responses import JSON_TYPE, encode

BAD_PARAMETER = (400, "bad_parameter")
NO_METHOD = (404, "no_method")
INTERNAL_ERROR = (500, "internal_error")
THROTTLE_VIOLATION = (502, "throttle_violation")
TEMPORARILY_UNAVAILABLE = (503, "temporarily_unavailable")

BACKOFF_VIOLATION_MESSAGE = "Violation of backoff parameter"
NO_METHOD_MESSAGE = "no method found with this name"


def wrapper(items: list[dict], has_more: bool, quota: Quota, backoff: int | None) -> dict:
    body: dict = {
        "items": items,
        "has_more": has_more,
        "quota_max": quota.limit,
        "quota_remaining": quota.remaining,
    }
    if backoff is not None:
        body["backoff"] = backoff
    return body


def ok(body: dict) -> Response:
    return Response(encode(body), status_code=200, media_type=JSON_TYPE)


def error(kind: tuple[int, str], message: str, status: int = 400) -> Response:
    error_id, error_name = kind
    body = {"error_id": error_id, "error_message": message, "error_name": error_name}
    return Response(encode(body), status_code=status, media_type=JSON_TYPE)


def quota_exhausted(seconds_left: int) -> Response:
    """The real answer once a day's quota is spent (the fixture's "IP ban" body)."""
    message = f"too many requests from this IP, more requests available in {seconds_left} seconds"
    return error(THROTTLE_VIOLATION, message)


def server_error(rng: random.Random) -> Response:
    """An infrastructure failure: mostly HTTP 503, sometimes 500, sometimes the documented
    HTTP 400 carrying error_id 500/503. A connector retries all of them (error_id >= 500
    other than 502 means "try again later")."""
    draw = rng.random()
    if draw < 0.5:
        return error(TEMPORARILY_UNAVAILABLE, "The service is temporarily unavailable", status=503)
    if draw < 0.8:
        return error(INTERNAL_ERROR, "An unexpected error occurred in the API", status=500)
    kind = rng.choice((INTERNAL_ERROR, TEMPORARILY_UNAVAILABLE))
    return error(kind, "The API could not complete the request, try again later")


def malformed(body: dict, id_key: str, rng: random.Random) -> bytes:
    """A broken 200: truncated JSON, a wrapper without ``items``, or 1-3 items without their
    id (``id_key``). ``body``'s item dicts are fresh copies, so breaking them is safe."""
    items = body.get("items")
    draw = rng.random()
    if not items or draw < 0.4:
        raw = encode(body)
        return raw[: rng.randint(1, len(raw) - 1)]
    if draw < 0.6:
        broken = {key: value for key, value in body.items() if key != "items"}
        return encode(broken)
    for item in rng.sample(items, min(len(items), rng.randint(1, 3))):
        item.pop(id_key, None)
    return encode(body)
