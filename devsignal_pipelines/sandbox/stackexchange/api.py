"""The Stack Exchange API 2.3 routes of the sandbox (the Stack Overflow site only).

``GET /2.3/questions``, ``/2.3/questions/{ids}``, ``/2.3/questions/{ids}/answers`` and
``/2.3/users/{ids}`` (a trailing slash is accepted too); any other path under ``/2.3`` answers ``no_method``. Query semantics are
in ``se_params``, bodies in ``se_responses``, quota and backoff in ``se_throttle``; what is
visible at the server clock in ``so_index``. ``GET /_sandbox/stackexchange`` reports the
throttle counters for tests and the demo.

Order of checks per request, as a client experiences it:

1. ``key`` given but not a credential the sandbox accepts (the same ones as X bearer tokens,
   default ``sandbox-token``): ``bad_parameter`` "key". No quota is used.
2. The day's quota of the key (or of all keyless calls) is spent: ``throttle_violation`` "too
   many requests from this IP, more requests available in N seconds".
3. A ``backoff`` on this method for this key has not expired: ``throttle_violation`` "Violation
   of backoff parameter", counted in ``state.throttle_violations``. No quota is used.
4. The request is numbered (the fault decision) and uses one unit of quota.
5. ``site`` ("site is required" / "No site found for name `x`"), then the parameters
   (``bad_parameter`` naming the parameter; non-numeric ids: ``no_method``).
6. Faults: 5xx (HTTP 503/500, or 400 with error_id 500/503), slow, malformed. A clean 200 may
   carry ``backoff``, which from then on applies to this method and key.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Callable

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from devsignal_pipelines.sandbox.faults import FaultKind
from devsignal_pipelines.sandbox.request_log import CONTROL_PREFIX
from devsignal_pipelines.sandbox.stackexchange.index import (
    ANSWER_SORTS,
    QUESTION_SORTS,
    USER_SORTS,
    StackOverflowIndex,
)
from devsignal_pipelines.sandbox.stackexchange.params import (
    ParameterError,
    parse_ids,
    parse_listing,
    parse_tags,
)
from devsignal_pipelines.sandbox.stackexchange.responses import (
    BACKOFF_VIOLATION_MESSAGE,
    BAD_PARAMETER,
    NO_METHOD,
    NO_METHOD_MESSAGE,
    THROTTLE_VIOLATION,
    error,
    malformed,
    ok,
    quota_exhausted,
    server_error,
    wrapper,
)
from devsignal_pipelines.sandbox.state import SandboxState
from devsignal_pipelines.sandbox.x.responses import JSON_TYPE

API_PREFIX = "/2.3"
SITES = ("stackoverflow", "stackoverflow.com")
# Methods as the API names them; backoff applies per method (and key).
QUESTIONS = "/questions"
QUESTIONS_BY_ID = "/questions/{ids}"
ANSWERS = "/questions/{ids}/answers"
USERS = "/users/{ids}"

Answer = Callable[[Request, int], tuple[list[dict], bool]]


class _NoMethod(Exception):
    """Ids that are not numbers: the real API cannot route the call."""


def stackexchange_routes(state: SandboxState) -> list[BaseRoute]:
    api = StackExchangeApi(state)
    routes: list[BaseRoute] = []
    for method, handler in (
        (QUESTIONS, api.questions),
        (QUESTIONS_BY_ID, api.questions_by_id),
        (ANSWERS, api.answers),
        (USERS, api.users),
    ):
        for path in (API_PREFIX + method, API_PREFIX + method + "/"):
            routes.append(Route(path, handler, methods=["GET"]))
    routes.append(Route(API_PREFIX + "/{rest:path}", api.no_method))
    routes.append(Route(f"{CONTROL_PREFIX}/stackexchange", api.status, methods=["GET"]))
    return routes


class StackExchangeApi:
    def __init__(self, state: SandboxState) -> None:
        self.state = state
        world = state.world
        self.index = StackOverflowIndex(
            world.so_questions, world.so_answers, world.so_users, world.so_edits
        )

    async def questions(self, request: Request) -> Response:
        return await self._serve(request, QUESTIONS, "question_id", self._questions)

    async def questions_by_id(self, request: Request) -> Response:
        return await self._serve(request, QUESTIONS_BY_ID, "question_id", self._questions_by_id)

    async def answers(self, request: Request) -> Response:
        return await self._serve(request, ANSWERS, "answer_id", self._answers)

    async def users(self, request: Request) -> Response:
        return await self._serve(request, USERS, "user_id", self._users)

    async def no_method(self, _: Request) -> Response:
        return error(NO_METHOD, NO_METHOD_MESSAGE)

    async def status(self, _: Request) -> Response:
        limits = self.state.stackexchange
        return JSONResponse(
            {
                "throttle_violations": limits.backoff_violations,
                "quota_refusals": limits.quota_refusals,
            }
        )

    async def _serve(self, request: Request, method: str, id_key: str, answer: Answer) -> Response:
        state, limits = self.state, self.state.stackexchange
        key = request.query_params.get("key")
        if key is not None and not state.accepts(key):
            return error(BAD_PARAMETER, "key")
        limiter, quota_key = limits.quota_for(key)
        quota = limiter.peek(quota_key)
        if quota.remaining == 0:
            limits.count_quota_refusal()
            return quota_exhausted(max(1, quota.reset_epoch_s - math.ceil(time.time())))
        if limits.violates_backoff(key, method):
            return error(THROTTLE_VIOLATION, BACKOFF_VIOLATION_MESSAGE)
        number, fault = state.next_request()
        quota = limiter.consume(quota_key)
        try:
            _check_site(request.query_params.get("site"))
            items, has_more = answer(request, int(state.now.timestamp()))
        except ParameterError as problem:
            return error(BAD_PARAMETER, problem.message)
        except _NoMethod:
            return error(NO_METHOD, NO_METHOD_MESSAGE)
        if fault.kind is FaultKind.ERROR_5XX:
            return server_error(fault.rng)
        if fault.kind is FaultKind.SLOW:
            await asyncio.sleep(state.faults.slow_s)
        if fault.kind is FaultKind.MALFORMED:
            body = malformed(wrapper(items, has_more, quota, None), id_key, fault.rng)
            return Response(body, 200, media_type=JSON_TYPE)
        backoff = state.faults.backoff(number)
        if backoff is not None:
            limits.impose_backoff(key, method, backoff)
        return ok(wrapper(items, has_more, quota, backoff))

    def _questions(self, request: Request, now: int) -> tuple[list[dict], bool]:
        params = request.query_params
        tags = parse_tags(params)
        listing = parse_listing(params, QUESTION_SORTS)
        rows = self.index.question_listing(tuple(sorted(tags)), listing.sort, now)
        positions, has_more = listing.select(rows)
        return [self.index.question(position, now) for position in positions], has_more

    def _questions_by_id(self, request: Request, now: int) -> tuple[list[dict], bool]:
        """Up to 100 ids; those not visible at the clock (or unknown) are simply absent."""
        ids = _ids(request)
        listing = parse_listing(request.query_params, QUESTION_SORTS)
        positions, has_more = listing.select(self.index.questions_by_id(ids, listing.sort, now))
        return [self.index.question(position, now) for position in positions], has_more

    def _answers(self, request: Request, now: int) -> tuple[list[dict], bool]:
        ids = _ids(request)
        listing = parse_listing(request.query_params, ANSWER_SORTS)
        return listing.select(self.index.answer_listing(ids, listing.sort, now))

    def _users(self, request: Request, now: int) -> tuple[list[dict], bool]:
        ids = _ids(request)
        listing = parse_listing(request.query_params, USER_SORTS, text_sorts=("name",))
        users, has_more = listing.select(self.index.user_listing(ids, listing.sort, now))
        return [dict(user) for user in users], has_more


def _check_site(site: str | None) -> None:
    if site is None or not site.strip():
        raise ParameterError("site is required")
    if site.lower() not in SITES:
        raise ParameterError(f"No site found for name `{site}`")


def _ids(request: Request) -> list[int]:
    ids = parse_ids(request.path_params["ids"])
    if ids is None:
        raise _NoMethod
    return ids
