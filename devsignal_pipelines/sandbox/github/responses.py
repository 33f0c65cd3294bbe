"""GitHub REST API v3 response headers and bodies, shaped like the recorded ones in shared/fixtures.

* Every answer carries ``x-ratelimit-limit``, ``-remaining``, ``-used``, ``-reset`` (UTC epoch
  seconds) and ``-resource: core`` (``rate_limit_reset_headers.json``), ``x-github-media-type``
  and ``x-github-api-version-selected``.
* A 200 carries an ``etag``: a weak validator over the exact body bytes (``W/"<sha256>"``, as
  GitHub sends for its compressed answers), so the same body always has the same ETag.
* Errors are ``{"message", "documentation_url", "status"}`` (the ``status`` string is what
  GitHub has added since 2023; the recorded 2012 bodies have ``message`` only): 401 "Bad
  credentials", 404 "Not Found", 422 "Validation Failed" with ``errors[]``
  (``error_422_validation.json``), 301 "Moved Permanently" with ``url``, the primary-limit 403
  "API rate limit exceeded for ..." and the secondary-limit 403 "You have exceeded a secondary
  rate limit ..." (``secondary_rate_limit_retry_after.json`` is its pre-2021 wording).
* Faults: 5xx as GitHub's JSON ``{"message": "Server Error"}`` or, from the load balancer, an
  HTML page; malformed 200s (truncated JSON, items without ``id`` or with a broken ``user``).
"""

from __future__ import annotations

import hashlib
import random
from http import HTTPStatus

from starlette.responses import Response

from devsignal_pipelines.sandbox.ratelimit import Quota
from devsignal_pipelines.sandbox.x.responses import JSON_TYPE, encode

API_VERSION = "2022-11-28"
MEDIA_TYPE = "github.v3; format=json"
STAR_MEDIA_TYPE = "github.v3; param=star; format=json"
DOCS = "https://docs.github.com/rest"
RATE_LIMIT_DOCS = "https://docs.github.com/rest/overview/rate-limits-for-the-rest-api"
SECONDARY_DOCS = f"{RATE_LIMIT_DOCS}#about-secondary-rate-limits"
PAGINATION_DOCS = "https://docs.github.com/v3/#pagination"
REDIRECT_DOCS = "https://docs.github.com/v3/#http-redirects"
PAGE_LIMIT_MESSAGE = (
    "In order to keep the API fast for everyone, pagination is limited for this resource. "
    "Check the rel=last link relation in the Link response header to see how far back you "
    "can traverse."
)
UNAUTHENTICATED_HINT = (
    " (But here's the good news: Authenticated requests get a higher rate limit. Check out the "
    "documentation for more details.)"
)
SECONDARY_MESSAGE = (
    "You have exceeded a secondary rate limit. Please wait a few minutes before you try again. "
    "If you reach out to GitHub Support for help, please include the request ID {request_id}."
)
_HTML_PAGE = (
    "<!DOCTYPE html>\n<html>\n<head><title>{code} {phrase}</title></head>\n"
    "<body><h1>{phrase}</h1><p>GitHub is having trouble right now.</p></body>\n</html>\n"
)


def rate_headers(quota: Quota) -> dict[str, str]:
    return {
        "x-ratelimit-limit": str(quota.limit),
        "x-ratelimit-remaining": str(quota.remaining),
        "x-ratelimit-reset": str(quota.reset_epoch_s),
        "x-ratelimit-used": str(quota.limit - quota.remaining),
        "x-ratelimit-resource": "core",
    }


def common_headers(request_id: str, media_type: str = MEDIA_TYPE) -> dict[str, str]:
    return {
        "x-github-media-type": media_type,
        "x-github-api-version-selected": API_VERSION,
        "x-github-request-id": request_id,
    }


def etag(body: bytes) -> str:
    return f'W/"{hashlib.sha256(body).hexdigest()}"'


def matches(if_none_match: str | None, tag: str) -> bool:
    """Weak comparison (RFC 9110): ``W/`` prefixes are ignored; ``*`` matches anything."""
    if not if_none_match:
        return False
    wanted = tag.removeprefix("W/")
    for candidate in if_none_match.split(","):
        candidate = candidate.strip()
        if candidate == "*" or candidate.removeprefix("W/") == wanted:
            return True
    return False


def json_response(status: int, body: object, headers: dict[str, str]) -> Response:
    return Response(encode(body), status_code=status, headers=headers, media_type=JSON_TYPE)


def error_body(status: int, message: str, documentation_url: str = DOCS, **extra: object) -> dict:
    return {
        "message": message,
        **extra,
        "documentation_url": documentation_url,
        "status": str(status),
    }


def not_found() -> tuple[int, dict]:
    return 404, error_body(404, "Not Found")


def validation_failed(resource: str, field: str) -> tuple[int, dict]:
    errors = [{"resource": resource, "code": "invalid", "field": field}]
    return 422, error_body(422, "Validation Failed", errors=errors)


def moved(location: str) -> tuple[int, dict]:
    return 301, error_body(301, "Moved Permanently", REDIRECT_DOCS, url=location)


def page_limit() -> tuple[int, dict]:
    return 422, error_body(422, PAGE_LIMIT_MESSAGE, PAGINATION_DOCS)


def bad_credentials() -> dict:
    return error_body(401, "Bad credentials")


def primary_exceeded(status: int, who: str, authenticated: bool) -> dict:
    message = f"API rate limit exceeded for {who}."
    if not authenticated:
        message += UNAUTHENTICATED_HINT
    return error_body(status, message, RATE_LIMIT_DOCS)


def secondary_exceeded(status: int, request_id: str) -> dict:
    return error_body(status, SECONDARY_MESSAGE.format(request_id=request_id), SECONDARY_DOCS)


def server_error(rng: random.Random, headers: dict[str, str]) -> Response:
    """An infrastructure failure: GitHub's JSON 500/502, or a load balancer's HTML 502/503/504
    (a connector must not expect JSON from a failure)."""
    status = rng.choice((500, 502, 502, 503, 504))
    if status != 500 and rng.random() < 0.5:
        phrase = HTTPStatus(status).phrase
        page = _HTML_PAGE.format(code=status, phrase=phrase)
        return Response(page, status, headers, media_type="text/html")
    return json_response(status, {"message": "Server Error"}, headers)


def malformed(body: object, rng: random.Random) -> bytes:
    """A broken 200: truncated JSON, or 1-3 list items without ``id`` or with a ``user`` that is
    not an object. ``body``'s item dicts must be fresh copies: they are changed in place."""
    items = body if isinstance(body, list) else [body]
    if not items or rng.random() < 0.4:
        raw = encode(body)
        return raw[: rng.randint(1, max(1, len(raw) - 1))]
    for item in rng.sample(items, min(len(items), rng.randint(1, 3))):
        if "user" in item and rng.random() < 0.5:
            item["user"] = item["user"]["login"] if isinstance(item["user"], dict) else None
        else:
            item.pop("id", None)
    return encode(body)
