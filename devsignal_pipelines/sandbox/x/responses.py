"""X API v2 response bodies and headers, copied in shape from real recorded responses.

The shapes come from /work/shared/fixtures/twitter (see its PROVENANCE.md): the 401 and 429
problem bodies, the 400 ``Invalid Request`` with ``errors[].parameters``, and the partial errors
of a 200. Fault bodies (5xx, malformed 200s) are built here too, so ``x_api`` only decides.
"""

from __future__ import annotations

import json
import random
from http import HTTPStatus

from starlette.responses import Response

from devsignal_pipelines.sandbox.ratelimit import Quota

JSON_TYPE = "application/json; charset=utf-8"

UNAUTHORIZED = {
    "title": "Unauthorized",
    "type": "about:blank",
    "status": 401,
    "detail": "Unauthorized",
}
TOO_MANY_REQUESTS = {
    "title": "Too Many Requests",
    "detail": "Too Many Requests",
    "type": "about:blank",
    "status": 429,
}


def rate_limit_headers(quota: Quota) -> dict[str, str]:
    return {
        "x-rate-limit-limit": str(quota.limit),
        "x-rate-limit-remaining": str(quota.remaining),
        "x-rate-limit-reset": str(quota.reset_epoch_s),
    }


def encode(body: object) -> bytes:
    """Compact JSON; ASCII escapes and no cycle check because they make encoding ~30% faster."""
    return json.dumps(body, separators=(",", ":"), check_circular=False).encode()


def json_response(status: int, body: object, headers: dict[str, str]) -> Response:
    return Response(encode(body), status_code=status, headers=headers, media_type=JSON_TYPE)


def parameter_error(parameter: str, values: list[str], message: str) -> dict:
    """One item of a 400's ``errors[]``."""
    return {"parameters": {parameter: values}, "message": message}


def invalid_request(errors: list[dict]) -> dict:
    return {
        "errors": errors,
        "title": "Invalid Request",
        "detail": "One or more parameters to your request was invalid.",
        "type": "https://api.twitter.com/2/problems/invalid-request",
    }


def server_error(rng: random.Random) -> tuple[int, dict]:
    status = rng.choice((500, 502, 503, 504))
    phrase = HTTPStatus(status).phrase
    return status, {"title": phrase, "detail": phrase, "type": "about:blank", "status": status}


def not_found(parameter: str, tweet_id: str) -> dict:
    """The ``errors[]`` item X gives for a post id that does not exist (or was deleted)."""
    return {
        "value": tweet_id,
        "detail": f"Could not find tweet with {parameter}: [{tweet_id}].",
        "title": "Not Found Error",
        "resource_type": "tweet",
        "parameter": parameter,
        "resource_id": tweet_id,
        "type": "https://api.twitter.com/2/problems/resource-not-found",
    }


def partial_errors(data: list[dict], rng: random.Random) -> list[dict]:
    """1-3 errors about referenced tweets of ``data``, as X reports deleted or protected ones."""
    errors = []
    for tweet in rng.sample(data, min(len(data), rng.randint(1, 3))):
        references = tweet.get("referenced_tweets") or [
            {"id": str(int(tweet["id"]) - rng.randint(1, 10**15))}
        ]
        missing = references[0]["id"]
        if rng.random() < 0.5:
            errors.append(not_found("referenced_tweets.id", missing))
        else:
            errors.append(
                {
                    "resource_id": missing,
                    "parameter": "referenced_tweets.id",
                    "resource_type": "tweet",
                    "section": "includes",
                    "title": "Authorization Error",
                    "value": missing,
                    "detail": (
                        "Sorry, you are not authorized to see the Tweet with "
                        f"referenced_tweets.id: [{missing}]."
                    ),
                    "type": "https://api.twitter.com/2/problems/not-authorized-for-resource",
                }
            )
    return errors


def malformed(body: dict, rng: random.Random) -> bytes:
    """A broken 200 body: truncated JSON, or valid JSON with 1-3 broken ``data`` items.

    ``body`` is the normal answer; its item dicts are fresh copies, so breaking them is safe.
    """
    data = body.get("data")
    if not data or rng.random() < 0.5:
        raw = encode(body)
        return raw[: rng.randint(1, len(raw) - 1)]
    for item in rng.sample(data, min(len(data), rng.randint(1, 3))):
        damage = rng.choice(("no_id", "no_text", "author_id_not_string"))
        if damage == "author_id_not_string" and "author_id" in item:
            item["author_id"] = int(item["author_id"])
        elif damage == "no_text":
            del item["text"]
        else:
            del item["id"]
    return encode(body)
