"""Error answers and JSON bodies for the REST API (/api/v1): one shape, one parser."""

from __future__ import annotations

from typing import Any

import msgspec
from starlette.requests import Request
from starlette.responses import JSONResponse


def error(status: int, message: str, **extra: Any) -> JSONResponse:
    headers = {"WWW-Authenticate": 'Bearer realm="devsignal"'} if status == 401 else None
    return JSONResponse({"error": message, **extra}, status_code=status, headers=headers)


def parse_json_object(
    request: Request, body: bytes, example: str = '{"name": "..."}'
) -> tuple[dict[str, Any], JSONResponse | None]:
    """The body as a JSON object, or the error answer: 415 for a body declared as something else
    than JSON (text/plain, a form), 422 naming `body` for JSON that does not parse, is nested too
    deeply or is not an object."""
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if body and content_type not in ("application/json", ""):
        return {}, error(415, f"send Content-Type: application/json (got {content_type})")
    try:
        value = msgspec.json.decode(body or b"null")
    except RecursionError:
        return {}, error(422, "the JSON body is nested too deeply", field="body")
    except msgspec.DecodeError as exc:
        return {}, error(422, f"the body is not valid JSON ({exc}), e.g. {example}", field="body")
    if not isinstance(value, dict):
        return {}, error(422, f"the body must be a JSON object, e.g. {example}", field="body")
    return value, None
