"""The sandbox X API over real HTTP: shapes of real X responses, query semantics, paging, limits,
clock and faults. Shapes are checked against the real recorded responses in shared/fixtures.
"""

from __future__ import annotations

import json
import math
import re
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from devsignal_pipelines.sandbox.faults import Faults
from devsignal_pipelines.sandbox.server import SandboxServer
from devsignal_pipelines.sandbox.world import World, generate_world

FIXTURES = Path(__file__).resolve().parents[2].parent / "shared" / "fixtures" / "twitter"
ANCHOR = datetime(2025, 3, 1, tzinfo=UTC)
TOKEN = "sandbox-token"
SEARCH = "/2/tweets/search/recent"
ACME = '(acmedb OR "acme db")'
TWEET_FIELDS = "author_id,created_at,lang,conversation_id,in_reply_to_user_id,public_metrics,entities,referenced_tweets"
USER_FIELDS = "created_at,description,entities,location,name,profile_image_url,protected,public_metrics,url,username,verified"
X_TIME = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.000Z")
ACME_TEXT = re.compile(r"(?<!\w)(acmedb|acme\W+db)(?!\w)", re.IGNORECASE)


def fixture(name: str) -> dict:
    return json.loads((FIXTURES / name).read_text())


def created(tweet: dict) -> datetime:
    return datetime.strptime(tweet["created_at"], "%Y-%m-%dT%H:%M:%S.000Z").replace(tzinfo=UTC)


def is_retweet(tweet: dict) -> bool:
    return any(ref["type"] == "retweeted" for ref in tweet.get("referenced_tweets", []))


def expected_ids(
    world: World, matches: Callable[[dict], bool], now: datetime = ANCHOR
) -> list[str]:
    """What X would return: matching tweets of the last 7 days up to ``now``, newest first."""
    return [
        t["id"] for t in world.tweets if now - timedelta(days=7) <= created(t) <= now and matches(t)
    ]


def all_pages(client: httpx.Client, **params: object) -> Iterator[dict]:
    token = None
    while True:
        response = client.get(SEARCH, params={**params, **({"next_token": token} if token else {})})
        assert response.status_code == 200, response.text
        body = response.json()
        yield body
        token = body["meta"].get("next_token")
        if not token:
            return


def all_ids(client: httpx.Client, **params: object) -> list[str]:
    return [t["id"] for page in all_pages(client, **params) for t in page.get("data", [])]


@pytest.fixture(scope="module")
def world() -> World:
    return generate_world(seed=7, anchor=ANCHOR)


@pytest.fixture(scope="module")
def server(world: World) -> Iterator[SandboxServer]:
    """Shared by read-only tests: they must not move its clock or spend its rate limit."""
    with SandboxServer(world, faults=Faults(rate_limit=100_000)) as running:
        yield running


@pytest.fixture(scope="module")
def anonymous(server: SandboxServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.base_url) as http:
        yield http


@pytest.fixture(scope="module")
def client(server: SandboxServer) -> Iterator[httpx.Client]:
    with client_for(server) as http:
        yield http


def client_for(server: SandboxServer) -> httpx.Client:
    return httpx.Client(base_url=server.base_url, headers={"Authorization": f"Bearer {TOKEN}"})


# --- auth and response shapes ------------------------------------------------------------------


def test_health(client: httpx.Client) -> None:
    assert client.get("/_sandbox/health").status_code == 200


@pytest.mark.parametrize(
    "authorization", [None, "Bearer wrong-token", f"Basic {TOKEN}", "Bearer", TOKEN]
)
def test_requests_without_a_valid_token_get_the_real_401(
    anonymous: httpx.Client, authorization: str | None
) -> None:
    headers = {"Authorization": authorization} if authorization else {}
    response = anonymous.get(SEARCH, params={"query": "acmedb"}, headers=headers)
    assert response.status_code == 401
    assert response.json() == fixture("academictwitteR_search_all_401_unauthorized.body.json")
    assert {"x-rate-limit-limit", "x-rate-limit-remaining", "x-rate-limit-reset"} <= set(
        response.headers
    )


def test_default_fields_are_those_of_the_real_recent_search_response(client: httpx.Client) -> None:
    real = fixture("tweepy_search_recent_200.body.json")
    response = client.get(SEARCH, params={"query": "acmedb"})
    body = response.json()
    assert response.headers["content-type"] == "application/json; charset=utf-8"
    assert body.keys() == real.keys()
    assert body["meta"].keys() == real["meta"].keys()
    assert body["meta"]["result_count"] == len(body["data"]) == 10
    assert all(item.keys() == real["data"][0].keys() for item in body["data"])
    assert [d["id"] for d in body["data"]] == sorted((d["id"] for d in body["data"]), reverse=True)
    assert (body["meta"]["newest_id"], body["meta"]["oldest_id"]) == (
        body["data"][0]["id"],
        body["data"][-1]["id"],
    )


def test_expanded_fields_are_a_subset_of_real_responses(client: httpx.Client, world: World) -> None:
    real_bodies = [
        fixture("academictwitteR_search_all_expansions_author_id_200.body.json"),
        fixture("academictwitteR_search_all_partial_errors_200.body.json"),
        fixture("tweepy_search_recent_200.body.json"),
    ]
    real_tweet_keys = {key for body in real_bodies for item in body["data"] for key in item}
    real_user_keys = {
        key for body in real_bodies[:2] for user in body["includes"]["users"] for key in user
    }
    params = {
        "query": ACME,
        "max_results": 100,
        "expansions": "author_id",
        "tweet.fields": TWEET_FIELDS,
        "user.fields": USER_FIELDS,
    }
    users_seen: list[dict] = []
    for body in all_pages(client, **params):
        assert set(body) == {"data", "includes", "meta"}
        assert set(body["includes"]) == {"users"}
        for tweet in body["data"]:
            assert set(tweet) <= real_tweet_keys
            assert {"id", "text", "author_id", "created_at", "edit_history_tweet_ids"} <= set(tweet)
            assert X_TIME.fullmatch(tweet["created_at"])
            assert isinstance(tweet["id"], str) and isinstance(tweet["author_id"], str)
        authors = {u["id"] for u in body["includes"]["users"]}
        assert authors == {t["author_id"] for t in body["data"]}
        users_seen += body["includes"]["users"]
    assert all(set(user) <= real_user_keys for user in users_seen)
    assert all({"id", "name", "username", "url", "description"} <= set(user) for user in users_seen)
    assert any(user["url"] == "" and "entities" not in user for user in users_seen)
    assert any("location" not in user for user in users_seen)
    assert any(user["url"].startswith("https://t.co/") for user in users_seen)


def test_user_fields_are_only_those_requested(client: httpx.Client) -> None:
    body = client.get(
        SEARCH, params={"query": "acmedb", "expansions": "author_id", "user.fields": "url"}
    ).json()
    assert all(set(user) == {"id", "name", "username", "url"} for user in body["includes"]["users"])


def test_an_empty_result_is_exactly_the_real_empty_body(client: httpx.Client) -> None:
    body = client.get(SEARCH, params={"query": "zzzunmatchedzzz", "expansions": "author_id"}).json()
    assert body == fixture("academictwitteR_search_all_empty_200.body.json")


# --- query semantics ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("query", "matches"),
    [
        (ACME, lambda t: bool(ACME_TEXT.search(t["text"]))),
        (f"{ACME} -is:retweet", lambda t: bool(ACME_TEXT.search(t["text"])) and not is_retweet(t)),
        ('"acme db"', lambda t: bool(re.search(r"(?<!\w)acme\W+db(?!\w)", t["text"], re.I))),
        ("ACMEDB", lambda t: bool(re.search(r"(?<!\w)acmedb(?!\w)", t["text"], re.I))),
        (
            "acmedb OR quillpad",
            lambda t: bool(re.search(r"(?<!\w)(acmedb|quillpad)(?!\w)", t["text"], re.I)),
        ),
        (
            "acmedb nimbusdeploy",
            lambda t: bool(
                re.search(r"(?<!\w)acmedb(?!\w)", t["text"], re.I)
                and re.search(r"(?<!\w)nimbusdeploy(?!\w)", t["text"], re.I)
            ),
        ),
        (
            "(quillpad -slow) lang:en",
            lambda t: (
                bool(re.search(r"(?<!\w)quillpad(?!\w)", t["text"], re.I))
                and "slow" not in t["text"].lower().split()
                and t["lang"] == "en"
            ),
        ),
        (
            '"nimbus deploy" is:reply',
            lambda t: (
                bool(re.search(r"(?<!\w)nimbus\W+deploy(?!\w)", t["text"], re.I))
                and "in_reply_to_user_id" in t
            ),
        ),
    ],
)
def test_query_semantics(
    client: httpx.Client, world: World, query: str, matches: Callable[[dict], bool]
) -> None:
    expected = expected_ids(world, matches)
    assert expected, "the world should contain matches for every tested query"
    assert all_ids(client, query=query, max_results=100) == expected


def test_near_misses_and_noise_are_not_returned(client: httpx.Client, world: World) -> None:
    near_misses = [
        t for t in world.tweets if re.search(r"acmedbx|acme-dbx|Acme databases", t["text"])
    ]
    assert near_misses
    returned = set(all_ids(client, query=ACME, max_results=100))
    assert returned.isdisjoint(t["id"] for t in near_misses)


def test_from_operator_uses_the_current_username(client: httpx.Client, world: World) -> None:
    author_id = world.tweets[0]["author_id"]
    username = world.twitter_users[author_id]["username"]
    ids = all_ids(client, query=f"from:{username.upper()}", max_results=100)
    assert ids == expected_ids(world, lambda t: t["author_id"] == author_id)


@pytest.mark.parametrize(
    "query",
    [
        "(acmedb",
        "acmedb)",
        '"acme db',
        "-acmedb",
        "is:retweet",
        "acmedb OR",
        "()",
        "url:acme.io acmedb",
        "- acmedb",
        "a" * 513,
    ],
)
def test_invalid_queries_are_400_invalid_request(client: httpx.Client, query: str) -> None:
    response = client.get(SEARCH, params={"query": query})
    real = fixture("academictwitteR_search_all_400_invalid_request.body.json")
    assert response.status_code == 400
    body = response.json()
    assert body.keys() == real.keys()
    assert (body["title"], body["type"]) == (real["title"], real["type"])
    assert body["errors"][0].keys() == real["errors"][0].keys()
    assert "query" in body["errors"][0]["parameters"]
    assert "x-rate-limit-remaining" in response.headers


@pytest.mark.parametrize(
    ("params", "parameter"),
    [
        ({"max_results": "9"}, "max_results"),
        ({"max_results": "101"}, "max_results"),
        ({"max_results": "ten"}, "max_results"),
        ({"since_id": "12abc"}, "since_id"),
        ({"until_id": "-1"}, "until_id"),
        ({"tweet_fields": "lang"}, "tweet_fields"),
        ({"tweet.fields": "lang,colour"}, "tweet.fields"),
        ({"expansions": "referenced_tweets.id"}, "expansions"),
        ({"next_token": "not-a-token"}, "next_token"),
    ],
)
def test_bad_parameters_are_400_naming_the_parameter(
    client: httpx.Client, params: dict, parameter: str
) -> None:
    response = client.get(SEARCH, params={"query": "acmedb", **params})
    assert response.status_code == 400
    assert [list(e["parameters"]) for e in response.json()["errors"]] == [[parameter]]


def test_a_next_token_is_only_valid_for_its_own_query(client: httpx.Client) -> None:
    token = client.get(SEARCH, params={"query": "acmedb"}).json()["meta"]["next_token"]
    response = client.get(SEARCH, params={"query": "quillpad", "next_token": token})
    assert response.status_code == 400


# --- paging and since_id -----------------------------------------------------------------------


def test_pagination_returns_every_match_exactly_once_newest_first(
    client: httpx.Client, world: World
) -> None:
    pages = list(all_pages(client, query=f"{ACME} -is:retweet", max_results=37))
    ids = [t["id"] for page in pages for t in page["data"]]
    assert ids == expected_ids(
        world, lambda t: bool(ACME_TEXT.search(t["text"])) and not is_retweet(t)
    )
    assert len(pages) == math.ceil(len(ids) / 37)
    for page in pages[:-1]:
        assert page["meta"]["result_count"] == 37 and "next_token" in page["meta"]
    assert "next_token" not in pages[-1]["meta"]
    for page in pages:
        meta = page["meta"]
        assert (meta["newest_id"], meta["oldest_id"]) == (
            page["data"][0]["id"],
            page["data"][-1]["id"],
        )


def test_since_id_returns_only_newer_tweets(client: httpx.Client, world: World) -> None:
    expected = expected_ids(world, lambda t: bool(ACME_TEXT.search(t["text"])))
    assert all_ids(client, query=ACME, since_id=expected[50], max_results=100) == expected[:50]
    assert all_ids(client, query=ACME, since_id=expected[50], max_results=10) == expected[:50]
    assert all_ids(client, query=ACME, until_id=expected[50], max_results=100) == expected[51:]


def test_since_id_older_than_the_search_window_is_refused(client: httpx.Client) -> None:
    eight_days_ago = int((ANCHOR - timedelta(days=8)).timestamp() * 1000)
    stale_id = (eight_days_ago - 1288834974657) << 22
    response = client.get(SEARCH, params={"query": ACME, "since_id": str(stale_id)})
    assert response.status_code == 400
    assert list(response.json()["errors"][0]["parameters"]) == ["since_id"]


def test_clock_reveals_later_tweets_and_since_id_fetches_only_them(world: World) -> None:
    with SandboxServer(world) as server, client_for(server) as http:
        first = list(all_pages(http, query=ACME, max_results=100))
        newest_id = first[0]["meta"]["newest_id"]
        at_anchor = [t["id"] for page in first for t in page["data"]]
        assert at_anchor == expected_ids(world, lambda t: bool(ACME_TEXT.search(t["text"])))

        later = ANCHOR + timedelta(hours=20)
        assert http.post("/_sandbox/clock", json={"now": later.isoformat()}).status_code == 200
        new = all_ids(http, query=ACME, since_id=newest_id, max_results=100)
        assert new
        assert new == [
            i
            for i in expected_ids(world, lambda t: bool(ACME_TEXT.search(t["text"])), later)
            if int(i) > int(newest_id)
        ]
        assert all(created(t) > ANCHOR for t in world.tweets if t["id"] in set(new))

        assert [r.params.get("since_id") for r in server.state.requests][-1] == newest_id
        server.state.set_clock(ANCHOR)
        assert all_ids(http, query=ACME, max_results=100) == at_anchor
        assert http.post("/_sandbox/clock", json={"when": "soon"}).status_code == 400


def test_pages_do_not_shift_when_tweets_appear_between_requests(world: World) -> None:
    with SandboxServer(world) as server, client_for(server) as http:
        page = http.get(SEARCH, params={"query": ACME, "max_results": 20}).json()
        later = ANCHOR + timedelta(days=1)
        server.state.set_clock(later)
        rest = all_ids(http, query=ACME, max_results=20, next_token=page["meta"]["next_token"])
        matches = lambda t: bool(ACME_TEXT.search(t["text"]))  # noqa: E731
        still_in_window = set(expected_ids(world, matches, later))
        expected_rest = [i for i in expected_ids(world, matches)[20:] if i in still_in_window]
        assert rest == expected_rest  # nothing new, nothing repeated; only aged-out tweets drop


# --- rate limits -------------------------------------------------------------------------------


def test_rate_limit_headers_count_down_then_a_real_429_until_reset(world: World) -> None:
    with (
        SandboxServer(world, faults=Faults(rate_limit=3, rate_window_s=0.5)) as server,
        client_for(server) as http,
    ):
        started = time.time()
        responses = [http.get(SEARCH, params={"query": "acmedb"}) for _ in range(4)]
        assert [r.status_code for r in responses] == [200, 200, 200, 429]
        assert [r.headers["x-rate-limit-remaining"] for r in responses] == ["2", "1", "0", "0"]
        assert {r.headers["x-rate-limit-limit"] for r in responses} == {"3"}
        reset = int(responses[0].headers["x-rate-limit-reset"])
        assert math.ceil(started) <= reset <= math.ceil(time.time() + 0.5)
        assert responses[3].json() == fixture("v2_429_too_many_requests.body.json")
        time.sleep(0.55)
        again = http.get(SEARCH, params={"query": "acmedb"})
        assert (again.status_code, again.headers["x-rate-limit-remaining"]) == (200, "2")


def test_burst_429s_announce_a_short_reset(world: World) -> None:
    faults = Faults(burst_429_rate=1.0, burst_429_reset_s=1.5, fault_seed=1)
    with SandboxServer(world, faults=faults) as server, client_for(server) as http:
        responses = [http.get(SEARCH, params={"query": "acmedb"}) for _ in range(12)]
        assert {r.status_code for r in responses} == {429}
        for response in responses:
            assert response.headers["x-rate-limit-remaining"] == "0"
            assert 0 < int(response.headers["x-rate-limit-reset"]) - time.time() <= 2.5
        retry_after = {r.headers.get("retry-after") for r in responses}
        assert retry_after == {None, "2"}


# --- faults ------------------------------------------------------------------------------------

FAULTY = Faults(
    burst_429_rate=0.1,
    burst_429_reset_s=0.0,
    error_5xx_rate=0.15,
    malformed_rate=0.15,
    partial_errors_rate=0.15,
    slow_rate=0.05,
    slow_s=0.01,
    fault_seed=3,
)


def broken(response: httpx.Response) -> bool:
    """What a careful client retries: throttles, server errors, unparsable or malformed bodies."""
    if response.status_code in (429, 500, 502, 503, 504):
        return True
    try:
        body = response.json()
    except json.JSONDecodeError:
        return True
    return any(
        not isinstance(t.get("id"), str)
        or not isinstance(t.get("text"), str)
        or not isinstance(t.get("author_id"), str)
        for t in body.get("data", [])
    )


def retrying_ids(http: httpx.Client, seen: list[httpx.Response], **params: object) -> list[str]:
    ids: list[str] = []
    token = None
    while True:
        page_params = {**params, **({"next_token": token} if token else {})}
        while broken(response := http.get(SEARCH, params=page_params)):
            seen.append(response)
        seen.append(response)
        body = response.json()
        ids += [t["id"] for t in body.get("data", [])]
        token = body["meta"].get("next_token")
        if not token:
            return ids


def test_faults_are_deterministic_and_a_retrying_client_loses_nothing(world: World) -> None:
    params = {"query": ACME, "max_results": 20, "tweet.fields": "author_id"}
    with SandboxServer(world) as clean, client_for(clean) as http:
        expected = all_ids(http, **params)
    runs = []
    for _ in range(2):
        with SandboxServer(world, faults=FAULTY) as server, client_for(server) as http:
            seen: list[httpx.Response] = []
            assert retrying_ids(http, seen, **params) == expected
            runs.append([(r.status_code, r.content) for r in seen])
    assert runs[0] == runs[1]
    statuses = {status for status, _ in runs[0]}
    assert {200, 429} <= statuses and statuses & {500, 502, 503, 504}
    bodies = [content for status, content in runs[0] if status == 200]
    assert any(not _parses(content) for content in bodies)
    assert any(_parses(content) and "errors" in json.loads(content) for content in bodies)


def _parses(content: bytes) -> bool:
    try:
        json.loads(content)
    except json.JSONDecodeError:
        return False
    return True


def test_partial_errors_have_the_real_shape(world: World) -> None:
    real = fixture("academictwitteR_search_all_partial_errors_200.body.json")
    real_shapes = {frozenset(error) for error in real["errors"]}
    with (
        SandboxServer(world, faults=Faults(partial_errors_rate=1.0)) as server,
        client_for(server) as http,
    ):
        body = http.get(SEARCH, params={"query": ACME, "max_results": 50}).json()
    assert {"data", "errors", "meta"} <= set(body)
    assert all(frozenset(error) in real_shapes for error in body["errors"])


# --- request log -------------------------------------------------------------------------------


def test_request_log_records_params_but_never_the_token(
    server: SandboxServer, client: httpx.Client
) -> None:
    client.delete("/_sandbox/requests")
    client.get(SEARCH, params={"query": ACME, "since_id": "1895000000000000000"})
    logged = client.get("/_sandbox/requests")
    assert TOKEN not in logged.text
    (entry,) = logged.json()
    assert entry["path"] == SEARCH and entry["method"] == "GET"
    assert entry["params"] == {"query": ACME, "since_id": "1895000000000000000"}
    assert entry["status"] in (200, 400)
    assert server.state.requests[-1].params == entry["params"]
    assert TOKEN not in repr(server.state)
