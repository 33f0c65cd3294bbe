"""The X API v2 routes of the sandbox: ``GET /2/tweets/search/recent`` and ``GET /2/tweets``.

Order of checks per request, as a client experiences it: bearer token (401), spent rate-limit
window (429), fault decision (an early 429 does not use quota), quota is used, parameters
(400), then the 5xx / slow / malformed / partial-error faults around the normal answer.
Faults never change what a retry of the same request returns. As on X, each endpoint has its
own rate-limit window per token.

Lookup (``GET /2/tweets?ids=``, 1-100 comma-separated ids): the posts in the order asked, any
age (not only the search's 7 days) but only those created by the server clock, with
``includes.users`` for ``expansions=author_id`` and no ``meta``; an id not found is an item of
``errors[]`` (``Not Found Error``, ``parameter: "ids"``), and ``data`` is absent when none is.

Pagination: ``next_token`` encodes the query's checksum, the id of the oldest tweet returned
so far and the ``since_id`` of the first request. The next page continues strictly below that
id, so tweets that become visible meanwhile (the clock moved) never shift or repeat a page; they
have larger ids and are picked up by the next sync with ``since_id``.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import math
import time
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from devsignal_pipelines.sandbox.faults import Fault, FaultKind
from devsignal_pipelines.sandbox.ratelimit import Quota
from devsignal_pipelines.sandbox.state import SandboxState
from devsignal_pipelines.sandbox.x.query import QueryError
from devsignal_pipelines.sandbox.x.responses import (
    JSON_TYPE,
    TOO_MANY_REQUESTS,
    UNAUTHORIZED,
    invalid_request,
    json_response,
    malformed,
    not_found,
    parameter_error,
    partial_errors,
    rate_limit_headers,
    server_error,
)
from devsignal_pipelines.sandbox.x.snowflake import (
    RECENT_SEARCH_WINDOW_S,
    snowflake_second,
    x_timestamp,
)
from devsignal_pipelines.sandbox.x.tweet_index import IdBounds, TweetIndex

SEARCH_RECENT_PATH = "/2/tweets/search/recent"
LOOKUP_PATH = "/2/tweets"
MAX_QUERY_LENGTH = 512
MAX_LOOKUP_IDS = 100
_PARAMETERS = (
    "query",
    "since_id",
    "until_id",
    "max_results",
    "next_token",
    "expansions",
    "tweet.fields",
    "user.fields",
    "media.fields",
    "place.fields",
    "poll.fields",
)
_LOOKUP_PARAMETERS = (
    "ids",
    "expansions",
    "tweet.fields",
    "user.fields",
    "media.fields",
    "place.fields",
    "poll.fields",
)
_EXPANSIONS = ("author_id",)
# Every value X accepts; fields the sandbox does not model are simply absent from objects.
_TWEET_FIELDS = (
    "attachments", "author_id", "card_uri", "context_annotations", "conversation_id",
    "created_at", "edit_controls", "edit_history_tweet_ids", "entities", "geo", "id",
    "in_reply_to_user_id", "lang", "non_public_metrics", "note_tweet", "organic_metrics",
    "possibly_sensitive", "promoted_metrics", "public_metrics", "referenced_tweets",
    "reply_settings", "scopes", "source", "text", "withheld",
)  # fmt: skip
_USER_FIELDS = (
    "affiliation", "connection_status", "created_at", "description", "entities", "id",
    "location", "most_recent_tweet_id", "name", "pinned_tweet_id", "profile_banner_url",
    "profile_image_url", "protected", "public_metrics", "receives_your_dm", "subscription_type",
    "url", "username", "verified", "verified_type", "withheld",
)  # fmt: skip
_DEFAULT_TWEET_FIELDS = frozenset(("id", "text", "edit_history_tweet_ids"))
_DEFAULT_USER_FIELDS = frozenset(("id", "name", "username"))
_ID_PATTERN = "^[0-9]{1,19}$"


def x_routes(state: SandboxState) -> list[BaseRoute]:
    api = XSearchApi(state)
    return [
        Route(SEARCH_RECENT_PATH, api.search_recent, methods=["GET"]),
        Route(LOOKUP_PATH, api.lookup, methods=["GET"]),
    ]


@dataclass(frozen=True)
class SearchRequest:
    query: str
    since_id: int | None
    until_id: int | None
    cursor: int | None  # from next_token: continue with ids below this one
    max_results: int
    expand_authors: bool
    tweet_fields: frozenset[str]
    user_fields: frozenset[str]


@dataclass(frozen=True)
class LookupRequest:
    ids: list[str]
    expand_authors: bool
    tweet_fields: frozenset[str]
    user_fields: frozenset[str]


class XSearchApi:
    def __init__(self, state: SandboxState) -> None:
        self.state = state
        self.index = TweetIndex(state.world.tweets, state.world.twitter_users)
        self.by_id = {tweet["id"]: tweet for tweet in state.world.tweets}

    async def search_recent(self, request: Request) -> Response:
        return await self._serve(request, token_key="", parse=self._parse, answer=self._answer)

    async def lookup(self, request: Request) -> Response:
        return await self._serve(
            request, token_key=LOOKUP_PATH, parse=self._parse_lookup, answer=self._lookup
        )

    async def _serve(
        self,
        request: Request,
        token_key: str,
        parse: Callable[[Request], Any],
        answer: Callable[[Any], dict],
    ) -> Response:
        """One request through the checks and faults; ``token_key`` picks the endpoint's window."""
        state = self.state
        token = _bearer_token(request.headers.get("authorization", ""))
        if token is None or not state.accepts(token):
            return json_response(401, UNAUTHORIZED, rate_limit_headers(state.rate_limiter.peek("")))
        window = f"{token} {token_key}" if token_key else token
        quota = state.rate_limiter.peek(window)
        if quota.remaining == 0:
            return json_response(429, TOO_MANY_REQUESTS, rate_limit_headers(quota))
        fault = state.next_fault()
        if fault.kind is FaultKind.BURST_429:
            return self._burst_429(quota, fault)
        headers = rate_limit_headers(state.rate_limiter.consume(window))
        parsed = parse(request)
        if isinstance(parsed, list):
            return json_response(400, invalid_request(parsed), headers)
        if fault.kind is FaultKind.ERROR_5XX:
            return json_response(*server_error(fault.rng), headers)
        if fault.kind is FaultKind.SLOW:
            await asyncio.sleep(state.faults.slow_s)
        body = answer(parsed)
        if fault.kind is FaultKind.MALFORMED:
            return Response(malformed(body, fault.rng), 200, headers, media_type=JSON_TYPE)
        if fault.kind is FaultKind.PARTIAL_ERRORS and "data" in body:
            errors = [*body.get("errors", []), *partial_errors(body["data"], fault.rng)]
            body = {**body, "errors": errors}
        return json_response(200, body, headers)

    def _burst_429(self, quota: Quota, fault: Fault) -> Response:
        """A throttle before the window is spent, with a short reset and sometimes Retry-After."""
        wait_s = self.state.faults.burst_429_reset_s
        headers = rate_limit_headers(Quota(quota.limit, 0, math.ceil(time.time() + wait_s)))
        if fault.rng.random() < 0.5:
            headers["retry-after"] = str(math.ceil(wait_s))
        return json_response(429, TOO_MANY_REQUESTS, headers)

    def _answer(self, request: SearchRequest) -> dict:
        upper = min((i for i in (request.until_id, request.cursor) if i is not None), default=None)
        bounds = IdBounds(int(self.state.now.timestamp()), request.since_id, upper)
        tweets, more = self.index.search(request.query, bounds, request.max_results)
        if not tweets:
            return {"meta": {"result_count": 0}}
        body: dict = {"data": [_project(t, request.tweet_fields) for t in tweets]}
        if request.expand_authors:
            users = self.state.world.twitter_users
            authors = dict.fromkeys(t["author_id"] for t in tweets)
            body["includes"] = {"users": [_project(users[a], request.user_fields) for a in authors]}
        meta = {
            "newest_id": tweets[0]["id"],
            "oldest_id": tweets[-1]["id"],
            "result_count": len(tweets),
        }
        if more:
            meta["next_token"] = _encode_token(
                request.query, int(tweets[-1]["id"]), request.since_id
            )
        body["meta"] = meta
        return body

    def _lookup(self, request: LookupRequest) -> dict:
        now = int(self.state.now.timestamp())
        found = []
        body: dict = {}
        errors = []
        for tweet_id in request.ids:
            tweet = self.by_id.get(tweet_id)
            if tweet is not None and snowflake_second(int(tweet_id)) <= now:
                found.append(tweet)
            else:
                errors.append(not_found("ids", tweet_id))
        if found:
            body["data"] = [_project(t, request.tweet_fields) for t in found]
            if request.expand_authors:
                users = self.state.world.twitter_users
                authors = dict.fromkeys(t["author_id"] for t in found)
                body["includes"] = {
                    "users": [_project(users[a], request.user_fields) for a in authors]
                }
        if errors:
            body["errors"] = errors
        return body

    def _parse_lookup(self, request: Request) -> LookupRequest | list[dict]:
        errors: list[dict] = []
        values = _single_values(request, _LOOKUP_PARAMETERS, errors)
        raw_ids = values.get("ids", "")
        ids = [part for part in raw_ids.split(",") if part] if raw_ids else []
        if not ids:
            errors.append(parameter_error("ids", [], "The `ids` query parameter can not be empty"))
        elif len(ids) > MAX_LOOKUP_IDS:
            errors.append(
                parameter_error(
                    "ids",
                    [raw_ids],
                    f"The number of values in the `ids` query parameter list [{len(ids)}] is "
                    f"not between 1 and {MAX_LOOKUP_IDS}",
                )
            )
        for tweet_id in ids:
            _tweet_id("ids", tweet_id, errors)
        expansions = _field_list("expansions", values.get("expansions"), _EXPANSIONS, errors)
        tweet_fields = _field_list(
            "tweet.fields", values.get("tweet.fields"), _TWEET_FIELDS, errors
        )
        user_fields = _field_list("user.fields", values.get("user.fields"), _USER_FIELDS, errors)
        if errors:
            return errors
        return LookupRequest(
            ids=list(dict.fromkeys(ids)),
            expand_authors="author_id" in expansions,
            tweet_fields=_DEFAULT_TWEET_FIELDS | tweet_fields,
            user_fields=_DEFAULT_USER_FIELDS | user_fields,
        )

    def _parse(self, request: Request) -> SearchRequest | list[dict]:
        """The validated request, or the 400's ``errors[]`` (all problems at once, as X does)."""
        errors: list[dict] = []
        values = _single_values(request, _PARAMETERS, errors)
        query = values.get("query", "")
        self._check_query(query, errors)
        since_id = self._since_id(values.get("since_id"), errors)
        until_id = _tweet_id("until_id", values.get("until_id"), errors)
        max_results = _max_results(values.get("max_results"), errors)
        expansions = _field_list("expansions", values.get("expansions"), _EXPANSIONS, errors)
        tweet_fields = _field_list(
            "tweet.fields", values.get("tweet.fields"), _TWEET_FIELDS, errors
        )
        user_fields = _field_list("user.fields", values.get("user.fields"), _USER_FIELDS, errors)
        cursor, token_since_id = _decode_token(values.get("next_token"), query, errors)
        if errors:
            return errors
        return SearchRequest(
            query=query,
            since_id=since_id if since_id is not None else token_since_id,
            until_id=until_id,
            cursor=cursor,
            max_results=max_results,
            expand_authors="author_id" in expansions,
            tweet_fields=_DEFAULT_TWEET_FIELDS | tweet_fields,
            user_fields=_DEFAULT_USER_FIELDS | user_fields,
        )

    def _check_query(self, query: str, errors: list[dict]) -> None:
        if not query.strip():
            errors.append(
                parameter_error("query", [], "The `query` query parameter can not be empty")
            )
        elif len(query) > MAX_QUERY_LENGTH:
            errors.append(
                parameter_error(
                    "query",
                    [query],
                    f"The `query` query parameter value is {len(query)} characters long; "
                    f"the limit is {MAX_QUERY_LENGTH}",
                )
            )
        else:
            try:
                self.index.matching_positions(query)
            except QueryError as error:
                errors.append(
                    parameter_error(
                        "query", [query], f"There were errors processing your request: {error}"
                    )
                )

    def _since_id(self, raw: str | None, errors: list[dict]) -> int | None:
        """Like X, refuse a since_id older than the 7-day search window."""
        since_id = _tweet_id("since_id", raw, errors)
        if since_id is None:
            return None
        oldest = int(self.state.now.timestamp()) - RECENT_SEARCH_WINDOW_S
        if snowflake_second(since_id) < oldest:
            after = x_timestamp(self.state.now - timedelta(seconds=RECENT_SEARCH_WINDOW_S))
            errors.append(
                parameter_error(
                    "since_id",
                    [str(raw)],
                    f"Invalid 'since_id':'{raw}'. "
                    f"'since_id' must be a tweet id created after {after}.",
                )
            )
            return None
        return since_id


def _single_values(
    request: Request, allowed: tuple[str, ...], errors: list[dict]
) -> dict[str, str]:
    """Each known parameter's value; unknown and repeated parameters are errors, as on X."""
    values: dict[str, str] = {}
    for name, value in request.query_params.multi_items():
        if name not in allowed:
            errors.append(
                parameter_error(
                    name,
                    [value],
                    f"The query parameter [{name}] is not one of [{','.join(allowed)}]",
                )
            )
        elif name in values:
            errors.append(
                parameter_error(
                    name,
                    [values[name], value],
                    f"Duplicate parameters are not allowed: the `{name}` query parameter",
                )
            )
        else:
            values[name] = value
    return values


def _bearer_token(authorization: str) -> str | None:
    scheme, _, token = authorization.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return token.strip()


def _project(item: dict, fields: frozenset[str]) -> dict:
    return {key: value for key, value in item.items() if key in fields}


def _tweet_id(name: str, raw: str | None, errors: list[dict]) -> int | None:
    if raw is None:
        return None
    if not (raw.isascii() and raw.isdigit() and len(raw) <= 19):
        errors.append(
            parameter_error(
                name,
                [raw],
                f"The `{name}` query parameter value [{raw}] does not match {_ID_PATTERN}",
            )
        )
        return None
    return int(raw)


def _max_results(raw: str | None, errors: list[dict]) -> int:
    if raw is None:
        return 10
    if raw.isascii() and raw.isdigit() and 10 <= int(raw) <= 100:
        return int(raw)
    errors.append(
        parameter_error(
            "max_results",
            [raw],
            f"The `max_results` query parameter value [{raw}] is not between 10 and 100",
        )
    )
    return 10


def _field_list(
    name: str, raw: str | None, allowed: tuple[str, ...], errors: list[dict]
) -> frozenset[str]:
    if raw is None:
        return frozenset()
    values = raw.split(",")
    for value in values:
        if value not in allowed:
            errors.append(
                parameter_error(
                    name,
                    [raw],
                    f"The `{name}` query parameter value [{value}] is not one of "
                    f"[{','.join(allowed)}]",
                )
            )
    return frozenset(values)


def _encode_token(query: str, cursor: int, since_id: int | None) -> str:
    plain = f"{zlib.crc32(query.encode())}:{cursor}:{since_id or ''}"
    return base64.b32encode(plain.encode()).decode().rstrip("=").lower()


def _decode_token(raw: str | None, query: str, errors: list[dict]) -> tuple[int | None, int | None]:
    """(cursor, since_id of the first page); a token from another query is invalid."""
    if raw is None:
        return None, None
    try:
        padded = raw.upper() + "=" * (-len(raw) % 8)
        checksum, cursor, since_id = base64.b32decode(padded).decode().split(":")
        if int(checksum) != zlib.crc32(query.encode()):
            raise ValueError("token belongs to another query")
        return int(cursor), int(since_id) if since_id else None
    except (binascii.Error, UnicodeDecodeError, ValueError):
        errors.append(
            parameter_error(
                "next_token", [raw], f"The `next_token` query parameter value [{raw}] is not valid"
            )
        )
        return None, None
