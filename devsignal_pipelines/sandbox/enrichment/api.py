"""The enrichment API routes of the sandbox (Clearbit-compatible): companies and people by key.

``GET /v2/companies/find?domain=...`` and ``GET /v2/people/find?email=...`` answer from
``firmographics`` (the vendor's truth for the world). ``GET /_sandbox/enrichment`` reports the
counters and settings, ``POST`` it a JSON object to change settings, ``DELETE`` it to zero the
counters. Tests reach the same object with ``enrichment_api(server.state)``.

Order of checks per request, as a client experiences it (every error body is
``{"error": {"type": ..., "message": ...}}``):

1. Credentials: ``Authorization: Bearer <key>`` or basic auth with the key as username (the
   sandbox's tokens, default ``sandbox-token``). None: 401 ``auth_required``; unknown: 401
   ``unauthorized``.
2. Per-key requests-per-minute budget, off unless ``requests_per_minute`` is set: 429
   ``rate_limit`` with ``Retry-After`` (seconds to the end of the window).
3. Per-key concurrency: at most ``max_concurrent`` (5) requests in flight. The next one is
   refused at once with ``rate_limit``: as a 429 with ``Retry-After: 1``, or, every
   ``rate_limit_400_every``-th refusal (3rd, 6th...), as the 400 the real API was observed to
   send (no ``Retry-After``). A slot is held until the answer is ready, ``latency_s`` and the
   ``slow`` fault included, so a slow server is what makes concurrency happen.
4. The request is numbered and its fault decided by the shared state, as on the X routes.
   A ``429`` (burst) fault is a ``rate_limit`` refusal like 3. ``partial`` is X-only.
5. Input: 422 ``invalid_domain`` / ``email_invalid`` (malformed, missing, role address).
6. Faults: 5xx (JSON ``api_error``, or a gateway's HTML page), slow.
7. 404 ``unknown_record``; 202 ``queued`` for the first request of a queued record; else 200
   with the record, which the ``malformed`` fault truncates or strips of a few fields.

Every request is counted in ``calls[(kind, normalized key)]`` whatever its answer, so a test
can assert that a cached run made no call. The shared middleware logs the path and query only;
keys travel in headers and are never logged or echoed.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import math
import random
import threading
import time
import weakref
from collections import Counter
from dataclasses import asdict, dataclass, fields, replace

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from devsignal_pipelines.sandbox.enrichment.firmographics import (
    COMPANY,
    FOUND,
    INVALID,
    NOT_FOUND,
    PERSON,
    Firmographics,
    LookupTruth,
    normalize,
)
from devsignal_pipelines.sandbox.faults import FaultKind
from devsignal_pipelines.sandbox.ratelimit import RateLimiter
from devsignal_pipelines.sandbox.request_log import CONTROL_PREFIX
from devsignal_pipelines.sandbox.state import SandboxState
from devsignal_pipelines.sandbox.x.responses import JSON_TYPE, encode

COMPANY_PATH = "/v2/companies/find"
PERSON_PATH = "/v2/people/find"
STATUS_PATH = f"{CONTROL_PREFIX}/enrichment"
_PARAMETER = {COMPANY: "domain", PERSON: "email"}
_INVALID_TYPE = {COMPANY: "invalid_domain", PERSON: "email_invalid"}
_NOT_FOUND_MESSAGE = {COMPANY: "Company not found", PERSON: "Person not found"}
_GATEWAY_PAGE = (
    "<html>\r\n<head><title>{code} {phrase}</title></head>\r\n<body>\r\n"
    "<center><h1>{code} {phrase}</h1></center>\r\n</body>\r\n</html>\r\n"
)
_PHRASES = {500: "Internal Server Error", 502: "Bad Gateway", 503: "Service Unavailable",
            504: "Gateway Timeout"}  # fmt: skip
# state -> its API, both held weakly: the app's routes keep the API (and so the state) alive,
# and a test's servers are freed when they stop.
_APIS: weakref.WeakKeyDictionary[SandboxState, weakref.ref[EnrichmentApi]] = (
    weakref.WeakKeyDictionary()
)


@dataclass(frozen=True)
class EnrichmentSettings:
    """Knobs of the enrichment routes; the defaults are the real API's concurrency limit."""

    max_concurrent: int = 5  # requests in flight per key
    requests_per_minute: int | None = None  # per key; None = no budget
    latency_s: float = 0.0  # added to every admitted request, while it holds its slot
    rate_limit_400_every: int = 3  # every n-th rate-limit refusal is the 400 form; 0 = never

    def __post_init__(self) -> None:
        if self.max_concurrent < 1 or self.latency_s < 0 or self.rate_limit_400_every < 0:
            raise ValueError("max_concurrent >= 1, latency_s >= 0, rate_limit_400_every >= 0")
        if self.requests_per_minute is not None and self.requests_per_minute < 1:
            raise ValueError("requests_per_minute must be >= 1 or None")


def enrichment_routes(state: SandboxState) -> list[BaseRoute]:
    api = EnrichmentApi(state)
    _APIS[state] = weakref.ref(api)
    return [
        Route(COMPANY_PATH, api.find_company, methods=["GET"]),
        Route(PERSON_PATH, api.find_person, methods=["GET"]),
        Route(STATUS_PATH, api.status, methods=["GET"]),
        Route(STATUS_PATH, api.configure_from_request, methods=["POST"]),
        Route(STATUS_PATH, api.reset_from_request, methods=["DELETE"]),
    ]


def enrichment_api(state: SandboxState) -> EnrichmentApi:
    """The enrichment routes' object of a running sandbox: ``truth``, ``calls``, ``configure``."""
    api = _APIS[state]()
    if api is None:
        raise KeyError("this sandbox's enrichment routes are gone")
    return api


class EnrichmentApi:
    def __init__(self, state: SandboxState) -> None:
        self.state = state
        self.truth = Firmographics.from_world(state.world)
        self.settings = EnrichmentSettings()
        self.calls: Counter[tuple[str, str]] = Counter()  # (kind, normalized key) -> requests
        self.refusals: Counter[str] = Counter()  # concurrency_429/_400, budget_429, burst_*
        self.peak_in_flight = 0  # the most requests one key ever had in flight
        self._refused = 0  # concurrency and burst refusals so far: picks the 400 or 429 form
        self._in_flight: Counter[str] = Counter()
        self._answered: set[tuple[str, str]] = set()  # lookups that already served their 202
        self._budget: RateLimiter | None = None
        self._lock = threading.Lock()

    def configure(self, **changes: object) -> EnrichmentSettings:
        """Change settings (validated); a changed ``requests_per_minute`` starts fresh windows."""
        with self._lock:
            before = self.settings.requests_per_minute
            self.settings = replace(self.settings, **changes)  # type: ignore[arg-type]
            limit = self.settings.requests_per_minute
            if limit != before:
                self._budget = RateLimiter(limit, 60.0) if limit else None
            return self.settings

    def reset_counters(self) -> None:
        """Zero calls, refusals and the peak; queued records stay answered."""
        with self._lock:
            self.calls.clear()
            self.refusals.clear()
            self.peak_in_flight = 0
            self._refused = 0

    async def find_company(self, request: Request) -> Response:
        return await self._find(request, COMPANY)

    async def find_person(self, request: Request) -> Response:
        return await self._find(request, PERSON)

    async def _find(self, request: Request, kind: str) -> Response:
        raw = request.query_params.get(_PARAMETER[kind], "")
        with self._lock:
            self.calls[(kind, normalize(raw))] += 1
        key = _api_key(request.headers.get("authorization", ""))
        if key is None:
            message = "API key required: send it as a Bearer token or the basic-auth username."
            return _error(401, "auth_required", message)
        if not self.state.accepts(key):
            return _error(401, "unauthorized", "Invalid API key provided.")
        refused = self._spend_budget(key)
        if refused is not None:
            return refused
        if not self._take_slot(key):
            return self._rate_limited("concurrency", retry_after_s=1)
        try:
            return await self._admitted(kind, raw)
        finally:
            with self._lock:
                self._in_flight[key] -= 1

    async def _admitted(self, kind: str, raw: str) -> Response:
        fault = self.state.next_fault()
        if self.settings.latency_s:
            await asyncio.sleep(self.settings.latency_s)
        if fault.kind is FaultKind.BURST_429:
            return self._rate_limited("burst", math.ceil(self.state.faults.burst_429_reset_s))
        truth = self.truth.lookup(kind, raw)
        if truth.status == INVALID:
            return _error(422, _INVALID_TYPE[kind], truth.problem or "invalid")
        if fault.kind is FaultKind.ERROR_5XX:
            return _server_error(fault.rng)
        if fault.kind is FaultKind.SLOW:
            await asyncio.sleep(self.state.faults.slow_s)
        if truth.status == NOT_FOUND:
            return _error(404, "unknown_record", _NOT_FOUND_MESSAGE[kind])
        if self._first_of_queued(truth):
            return Response(encode({"error": {"type": "queued"}}), 202, media_type=JSON_TYPE)
        assert truth.status == FOUND and truth.body is not None
        if fault.kind is FaultKind.MALFORMED:
            return Response(_malformed(truth.body, fault.rng), 200, media_type=JSON_TYPE)
        return Response(encode(truth.body), 200, media_type=JSON_TYPE)

    def _spend_budget(self, key: str) -> Response | None:
        """Use one request of the key's minute budget, or the 429 when it is spent."""
        budget = self._budget
        if budget is None:
            return None
        with self._lock:
            quota = budget.peek(key)
            if quota.remaining > 0:
                budget.consume(key)
                return None
            self.refusals["budget_429"] += 1
        # reset_epoch_s is rounded up, so cap at the window: never more than the real wait
        wait_s = min(60, max(1, math.ceil(quota.reset_epoch_s - time.time())))
        message = f"Rate limit exceeded. Limit is {quota.limit} requests per minute."
        headers = {
            "retry-after": str(wait_s),
            "x-ratelimit-limit": str(quota.limit),
            "x-ratelimit-remaining": "0",
            "x-ratelimit-reset": str(quota.reset_epoch_s),
        }
        return _error(429, "rate_limit", message, headers)

    def _take_slot(self, key: str) -> bool:
        """Check and take a slot under one lock with no await in between, so neither handlers
        on the event loop nor threads reading the counters can see or take a slot twice."""
        with self._lock:
            if self._in_flight[key] >= self.settings.max_concurrent:
                return False
            self._in_flight[key] += 1
            self.peak_in_flight = max(self.peak_in_flight, self._in_flight[key])
            return True

    def _rate_limited(self, cause: str, retry_after_s: int) -> Response:
        """The n-th refusal (counting all causes) is the observed 400 when n is a multiple of
        ``rate_limit_400_every``, otherwise the documented 429 with ``Retry-After``."""
        every = self.settings.rate_limit_400_every
        with self._lock:
            self._refused += 1
            as_400 = every > 0 and self._refused % every == 0
            self.refusals[f"{cause}_{400 if as_400 else 429}"] += 1
        limit = self.settings.max_concurrent
        message = f"Rate limit exceeded. Limit is {limit} concurrent requests."
        if as_400:
            return _error(400, "rate_limit", message)
        return _error(429, "rate_limit", message, {"retry-after": str(max(1, retry_after_s))})

    def _first_of_queued(self, truth: LookupTruth) -> bool:
        if not truth.queued_first:
            return False
        with self._lock:
            first = (truth.kind, truth.key) not in self._answered
            self._answered.add((truth.kind, truth.key))
        return first

    # --- control routes (not logged) -----------------------------------------------------------

    async def status(self, _: Request) -> Response:
        with self._lock:
            calls = [{"kind": k, "key": v, "count": n} for (k, v), n in self.calls.items()]
            return JSONResponse(
                {
                    "settings": asdict(self.settings),
                    "requests": sum(self.calls.values()),
                    "calls": calls,
                    "refusals": dict(self.refusals),
                    "peak_in_flight": self.peak_in_flight,
                }
            )

    async def configure_from_request(self, request: Request) -> Response:
        """Body: any of the ``EnrichmentSettings`` fields, e.g. ``{"latency_s": 0.2}``."""
        names = {f.name for f in fields(EnrichmentSettings)}
        try:
            changes = await request.json()
            if not isinstance(changes, dict) or not set(changes) <= names:
                raise ValueError(f"expected a JSON object with keys among {sorted(names)}")
            settings = self.configure(**changes)
        except (ValueError, TypeError) as problem:
            return JSONResponse({"error": str(problem)}, 400)
        return JSONResponse(asdict(settings))

    async def reset_from_request(self, _: Request) -> Response:
        self.reset_counters()
        return Response(status_code=204)


def _api_key(authorization: str) -> str | None:
    """The key from ``Bearer <key>`` or ``Basic base64(<key>:)`` (Clearbit takes both)."""
    scheme, _, credentials = authorization.strip().partition(" ")
    credentials = credentials.strip()
    if scheme.lower() == "bearer":
        return credentials or None
    if scheme.lower() == "basic":
        try:
            decoded = base64.b64decode(credentials, validate=True).decode()
        except (binascii.Error, UnicodeDecodeError):
            return None
        return decoded.partition(":")[0] or None
    return None


def _error(status: int, kind: str, message: str, headers: dict[str, str] | None = None) -> Response:
    body = {"error": {"type": kind, "message": message}}
    return Response(encode(body), status, headers, media_type=JSON_TYPE)


def _server_error(rng: random.Random) -> Response:
    """A 500 from the API itself (JSON), or a 502/503/504 page from the gateway in front of it:
    a connector must not expect JSON from a failure."""
    status = rng.choice((500, 502, 503, 504))
    if status != 500 and rng.random() < 0.5:
        page = _GATEWAY_PAGE.format(code=status, phrase=_PHRASES[status])
        return Response(page, status, media_type="text/html")
    return _error(status, "api_error", "Something went wrong on our end. Please try again.")


def _malformed(body: dict, rng: random.Random) -> bytes:
    """A broken 200: truncated JSON, or valid JSON without 1-3 of the fields a mapper needs."""
    raw = encode(body)
    if rng.random() < 0.5:
        return raw[: rng.randint(1, len(raw) - 1)]
    wanted = ("name", "domain", "category", "metrics", "geo", "employment", "email", "tech")
    present = [key for key in wanted if key in body]
    broken = dict(body)
    for key in rng.sample(present, min(len(present), rng.randint(1, 3))):
        del broken[key]
    return encode(broken)
