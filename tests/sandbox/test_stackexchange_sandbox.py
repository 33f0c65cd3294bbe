"""The sandbox Stack Exchange API 2.3 over real HTTP: shapes of the recorded responses in
shared/fixtures, query semantics, paging, the clock, batches, quota, backoff and faults."""

from __future__ import annotations

import json
import re
import time
from collections import defaultdict
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from devsignal_pipelines.sandbox.faults import Faults
from devsignal_pipelines.sandbox.server import SandboxServer
from devsignal_pipelines.sandbox.world import World, generate_world

FIXTURES = Path(__file__).resolve().parents[2].parent / "shared" / "fixtures" / "stackexchange"
ANCHOR = datetime(2025, 3, 1, tzinfo=UTC)
ANCHOR_S = int(ANCHOR.timestamp())
KEY = "sandbox-token"
QUESTIONS = "/2.3/questions"
SO = {"site": "stackoverflow", "key": KEY}
NO_BACKOFF = Faults(backoff_rate=0.0)


def fixture(name: str) -> dict:
    return json.loads((FIXTURES / name).read_text())


def visible(world: World, now: int) -> dict[int, tuple[int, int]]:
    """question_id -> (last_activity_date, answer_count) at clock ``now``, from the raw world."""
    answers = defaultdict(list)
    for answer in world.so_answers:
        if answer["creation_date"] <= now:
            answers[answer["question_id"]].append(answer)

    def edits(post_id: int) -> list[int]:
        return [t for t in world.so_edits.get(post_id, ()) if t <= now]

    state = {}
    for question in world.so_questions:
        if question["creation_date"] <= now:
            mine = answers[question["question_id"]]
            times = [question["creation_date"], *edits(question["question_id"])]
            for answer in mine:
                times += [answer["creation_date"], *edits(answer["answer_id"])]
            state[question["question_id"]] = (max(times), len(mine))
    return state


def expected_ids(world: World, tags: set[str], now: int = ANCHOR_S) -> list[int]:
    """Questions having all ``tags``, by activity then id, newest first."""
    state = visible(world, now)
    tagged = {q["question_id"] for q in world.so_questions if tags <= set(q["tags"])}
    return sorted((i for i in state if i in tagged), key=lambda i: (state[i][0], i), reverse=True)


def all_pages(http: httpx.Client, path: str, **params: object) -> Iterator[dict]:
    page = 1
    while True:
        response = http.get(path, params={**SO, **params, "page": page})
        assert response.status_code == 200, response.text
        body = response.json()
        yield body
        if not body["has_more"]:
            return
        page += 1


def all_items(http: httpx.Client, path: str, **params: object) -> list[dict]:
    return [item for body in all_pages(http, path, **params) for item in body["items"]]


@pytest.fixture(scope="module")
def world() -> World:
    return generate_world(seed=7, anchor=ANCHOR)


@pytest.fixture(scope="module")
def server(world: World) -> Iterator[SandboxServer]:
    """Shared by read-only tests: they must not move its clock or spend much of its quota."""
    with SandboxServer(world, faults=NO_BACKOFF) as running:
        yield running


@pytest.fixture(scope="module")
def http(server: SandboxServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.base_url) as client:
        yield client


# --- shapes ------------------------------------------------------------------------------------


def test_questions_have_the_real_wrapper_and_item_shapes(http: httpx.Client) -> None:
    real = [
        fixture("se_2.2_questions_quota10000.json"),
        fixture("se_2.2_questions_sort_votes_pagesize10.json"),
    ]
    real_keys = {key for body in real for item in body["items"] for key in item}
    real_owner_keys = {key for body in real for item in body["items"] for key in item["owner"]}
    real_owner_keys |= {
        key
        for item in fixture("se_2.3_questions_72755863_answers.json")["items"]
        for key in item["owner"]
    }
    response = http.get(QUESTIONS, params={**SO, "tagged": "acmedb", "pagesize": 100})
    assert response.headers["content-type"] == "application/json; charset=utf-8"
    body = response.json()
    assert body.keys() == real[0].keys()  # items, has_more, quota_max, quota_remaining
    assert len(body["items"]) == 100 and body["has_more"] is True
    for item in body["items"]:
        assert set(item) <= real_keys | {"content_license"}
        assert {
            "question_id",
            "title",
            "tags",
            "owner",
            "is_answered",
            "view_count",
            "answer_count",
            "score",
            "last_activity_date",
            "creation_date",
            "link",
            "content_license",
        } <= set(item)
        assert "acmedb" in item["tags"]
        assert all(
            isinstance(item[k], int) for k in ("question_id", "creation_date", "last_activity_date")
        )
        assert set(item["owner"]) <= real_owner_keys
    assert any("last_edit_date" in item for item in body["items"])
    assert any("accepted_answer_id" in item for item in body["items"])


def test_answers_have_the_real_shapes(http: httpx.Client, world: World) -> None:
    real = fixture("se_2.3_questions_72755863_answers.json")
    real_keys = {key for item in real["items"] for key in item}
    real_keys |= {
        key
        for item in fixture("se_2.3_answer_items_user22656_wrapper_trimmed.json")["items"]
        for key in item
    }
    ids = ";".join(str(q["question_id"]) for q in world.so_questions[200:300])
    body = http.get(f"{QUESTIONS}/{ids}/answers", params={**SO, "pagesize": 100}).json()
    assert body.keys() == real.keys()
    assert body["items"]
    for item in body["items"]:
        assert (
            {
                "answer_id",
                "question_id",
                "owner",
                "is_accepted",
                "score",
                "last_activity_date",
                "creation_date",
                "content_license",
            }
            <= set(item)
            <= real_keys
        )


def test_users_are_full_user_objects_with_website_url(http: httpx.Client, world: World) -> None:
    real = fixture("se_2.3_user_item_22656_full_user_type.json")
    ids = list(world.so_users)[:100]
    items = all_items(http, f"/2.3/users/{';'.join(map(str, ids))}", pagesize=100)
    assert sorted(u["user_id"] for u in items) == sorted(ids)
    for user in items:
        assert set(user) <= set(real)
        assert user == world.so_users[user["user_id"]]
        assert isinstance(user["website_url"], str) and user["user_type"] == "registered"
    assert [u["reputation"] for u in items] == sorted(
        (u["reputation"] for u in items), reverse=True
    )
    assert any(user["website_url"] for user in items) and any(not u["website_url"] for u in items)


def test_deleted_owners_look_like_the_documented_non_existent_user(
    http: httpx.Client, world: World
) -> None:
    real = fixture("se_shallow_user_doc_examples.json")["non_existent"]
    items = all_items(http, QUESTIONS, tagged="acmedb", pagesize=100)
    deleted = [q["owner"] for q in items if q["owner"]["user_type"] == "does_not_exist"]
    assert deleted
    assert all(owner.keys() == real.keys() for owner in deleted)


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"site": None}, "site is required"),
        ({"site": "serverfault"}, "No site found for name `serverfault`"),
        ({"pagesize": 0}, "pagesize"),
        ({"pagesize": 101}, "pagesize"),
        ({"page": 0}, "page"),
        ({"sort": "hot"}, "sort"),
        ({"order": "up"}, "order"),
        ({"min": "yesterday"}, "min"),
        ({"todate": -5}, "todate"),
        ({"tagged": "a;b;c;d;e;f"}, "tagged"),
        ({"key": "not-a-key"}, "key"),
    ],
)
def test_bad_parameters_are_400_bad_parameter(
    http: httpx.Client, params: dict, message: str
) -> None:
    query = {k: v for k, v in {**SO, **params}.items() if v is not None}
    response = http.get(QUESTIONS, params=query)
    assert response.status_code == 400
    body = response.json()
    assert body.keys() == fixture("se_error_throttle_violation_backoff.body.json").keys()
    assert body == {"error_id": 400, "error_message": message, "error_name": "bad_parameter"}


def test_unknown_methods_and_non_numeric_ids_are_no_method(http: httpx.Client) -> None:
    for path in ("/2.3/tags", f"{QUESTIONS}/abc/answers", "/2.3/users/1;x"):
        response = http.get(path, params=SO)
        assert response.status_code == 400
        assert response.json()["error_name"] == "no_method"
        assert response.json()["error_id"] == 404


# --- query semantics ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "tagged", ["acmedb", "quillpad", "database-migrations", "acmedb;database-migrations"]
)
def test_tagged_means_all_listed_tags_newest_activity_first(
    http: httpx.Client, world: World, tagged: str
) -> None:
    expected = expected_ids(world, set(tagged.split(";")))
    assert expected
    items = all_items(http, QUESTIONS, tagged=tagged, pagesize=100)
    assert [q["question_id"] for q in items] == expected
    state = visible(world, ANCHOR_S)
    assert all(
        (q["last_activity_date"], q["answer_count"]) == state[q["question_id"]] for q in items
    )


def test_a_shared_tag_is_read_by_both_organizations(http: httpx.Client, world: World) -> None:
    both = {o.id for o in world.organizations if "database-migrations" in o.tags}
    assert both == {"acme", "nimbus"}
    ids = [
        q["question_id"]
        for q in all_items(http, QUESTIONS, tagged="database-migrations", pagesize=100)
    ]
    with_acme = {q["question_id"] for q in world.so_questions if "acmedb" in q["tags"]}
    assert set(ids) & with_acme and set(ids) - with_acme


def test_unknown_tag_is_a_clean_empty_answer(http: httpx.Client) -> None:
    body = http.get(QUESTIONS, params={**SO, "tagged": "no-such-tag"}).json()
    assert body["items"] == [] and body["has_more"] is False
    assert body.keys() == {"items", "has_more", "quota_max", "quota_remaining"}


def test_sort_creation_order_and_date_bounds(http: httpx.Client, world: World) -> None:
    ids = set(expected_ids(world, {"quillpad"}))
    created = {
        q["question_id"]: q["creation_date"] for q in world.so_questions if q["question_id"] in ids
    }
    by_creation = sorted(ids, key=lambda i: (created[i], i))
    asc = all_items(http, QUESTIONS, tagged="quillpad", sort="creation", order="asc", pagesize=100)
    assert [q["question_id"] for q in asc] == by_creation
    low, high = created[by_creation[40]], created[by_creation[120]]
    for bounds in ({"min": low, "max": high}, {"fromdate": low, "todate": high}):
        items = all_items(
            http, QUESTIONS, tagged="quillpad", sort="creation", pagesize=100, **bounds
        )
        assert [q["question_id"] for q in items] == by_creation[40:121][::-1]


def test_min_on_activity_returns_only_activity_at_or_after_it(
    http: httpx.Client, world: World
) -> None:
    state = visible(world, ANCHOR_S)
    expected = expected_ids(world, {"acmedb"})
    cursor = state[expected[60]][0]
    items = all_items(http, QUESTIONS, tagged="acmedb", sort="activity", min=cursor, pagesize=100)
    assert [q["question_id"] for q in items] == [i for i in expected if state[i][0] >= cursor]
    assert all(q["last_activity_date"] >= cursor for q in items)


def test_paging_covers_everything_exactly_once(http: httpx.Client, world: World) -> None:
    pages = list(all_pages(http, QUESTIONS, tagged="acmedb", pagesize=37))
    ids = [q["question_id"] for page in pages for q in page["items"]]
    assert ids == expected_ids(world, {"acmedb"})
    assert len(ids) == len(set(ids))
    assert [len(p["items"]) for p in pages[:-1]] == [37] * (len(pages) - 1)
    assert [p["has_more"] for p in pages] == [True] * (len(pages) - 1) + [False]
    past = http.get(
        QUESTIONS, params={**SO, "tagged": "acmedb", "pagesize": 37, "page": len(pages) + 1}
    ).json()
    assert (past["items"], past["has_more"]) == ([], False)


def test_answers_batch_of_100_question_ids_and_more_is_refused(
    http: httpx.Client, world: World
) -> None:
    question_ids = [q["question_id"] for q in world.so_questions if q["creation_date"] <= ANCHOR_S][
        :100
    ]
    path = f"{QUESTIONS}/{';'.join(map(str, question_ids))}/answers"
    items = all_items(http, path, pagesize=100)
    expected = sorted(
        a["answer_id"]
        for a in world.so_answers
        if a["question_id"] in set(question_ids) and a["creation_date"] <= ANCHOR_S
    )
    assert len(items) > 100  # more than one page
    assert sorted(a["answer_id"] for a in items) == expected
    activity = [(a["last_activity_date"], a["answer_id"]) for a in items]
    assert activity == sorted(activity, reverse=True)
    assert all(a["last_activity_date"] <= ANCHOR_S for a in items)
    too_many = ";".join(map(str, [*question_ids, question_ids[0] + 1]))
    response = http.get(f"{QUESTIONS}/{too_many}/answers", params=SO)
    assert response.status_code == 400
    assert response.json() == {
        "error_id": 400,
        "error_message": "ids",
        "error_name": "bad_parameter",
    }
    response = http.get(f"/2.3/users/{too_many}", params=SO)
    assert (response.status_code, response.json()["error_message"]) == (400, "ids")


# --- the clock ---------------------------------------------------------------------------------


def test_activity_after_the_anchor_brings_old_questions_back(world: World) -> None:
    """A connector reading by activity from a saved cursor re-reads questions that got a new
    answer or an edit, and their answers show the new one."""
    with (
        SandboxServer(world, faults=NO_BACKOFF) as server,
        httpx.Client(base_url=server.base_url) as http,
    ):
        first = all_items(http, QUESTIONS, tagged="acmedb", sort="activity", pagesize=100)
        cursor = max(q["last_activity_date"] for q in first)
        assert cursor <= ANCHOR_S
        before = {q["question_id"]: q for q in first}

        later = ANCHOR + timedelta(days=1)
        assert http.post("/_sandbox/clock", json={"now": later.isoformat()}).status_code == 200
        again = all_items(
            http, QUESTIONS, tagged="acmedb", sort="activity", min=cursor + 1, pagesize=100
        )
        now = int(later.timestamp())
        state = visible(world, now)
        assert [q["question_id"] for q in again] == [
            i for i in expected_ids(world, {"acmedb"}, now) if state[i][0] > cursor
        ]
        revisited = [q for q in again if q["question_id"] in before]
        new = [q for q in again if q["question_id"] not in before]
        assert revisited and new
        assert all(q["creation_date"] > ANCHOR_S for q in new)
        grew = [
            q for q in revisited if q["answer_count"] > before[q["question_id"]]["answer_count"]
        ]
        assert grew
        ids = ";".join(str(q["question_id"]) for q in grew[:100])
        answers = all_items(http, f"{QUESTIONS}/{ids}/answers", pagesize=100)
        assert any(a["creation_date"] > ANCHOR_S for a in answers)

        server.state.set_clock(ANCHOR)
        assert all_items(http, QUESTIONS, tagged="acmedb", pagesize=100) == first


# --- quota and backoff -------------------------------------------------------------------------


def test_quota_counts_down_per_key_then_the_real_throttle_error(world: World) -> None:
    faults = Faults(backoff_rate=0.0, se_quota=3, se_quota_anonymous=2)
    with (
        SandboxServer(world, faults=faults) as server,
        httpx.Client(base_url=server.base_url) as http,
    ):
        keyed = [http.get(QUESTIONS, params=SO) for _ in range(4)]
        assert [r.status_code for r in keyed] == [200, 200, 200, 400]
        assert [r.json()["quota_remaining"] for r in keyed[:3]] == [2, 1, 0]
        assert {r.json()["quota_max"] for r in keyed[:3]} == {3}
        real = fixture("se_error_throttle_violation_ip_ban.response.json")
        assert keyed[3].status_code == real["status"]
        refused = keyed[3].json()
        assert refused.keys() == real["body"].keys()
        assert (refused["error_id"], refused["error_name"]) == (502, "throttle_violation")
        seconds = re.fullmatch(
            r"too many requests from this IP, more requests available in (\d+) seconds",
            refused["error_message"],
        )
        assert seconds and 86_000 < int(seconds.group(1)) <= 86_400
        anonymous = [http.get(QUESTIONS, params={"site": "stackoverflow"}) for _ in range(3)]
        assert [r.status_code for r in anonymous] == [200, 200, 400]
        assert anonymous[0].json()["quota_max"] == 2
        assert server.state.stackexchange.quota_refusals == 2
        assert server.state.throttle_violations == 0


def test_default_quotas_are_the_real_ones(http: httpx.Client) -> None:
    keyed = http.get(QUESTIONS, params=SO).json()
    anonymous = http.get(QUESTIONS, params={"site": "stackoverflow"}).json()
    assert (keyed["quota_max"], anonymous["quota_max"]) == (10_000, 300)
    assert 0 < keyed["quota_remaining"] < 10_000


def test_backoff_is_per_method_and_key_and_violations_are_counted(world: World) -> None:
    faults = Faults(backoff_rate=1.0, backoff_s=1)
    with (
        SandboxServer(world, faults=faults) as server,
        httpx.Client(base_url=server.base_url) as http,
    ):
        first = http.get(QUESTIONS, params=SO)
        assert first.json()["backoff"] == 1
        users = http.get(f"/2.3/users/{next(iter(world.so_users))}", params=SO)
        assert users.status_code == 200  # another method is not under the backoff
        anonymous = http.get(QUESTIONS, params={"site": "stackoverflow"})
        assert anonymous.status_code == 200  # nor another key
        violation = http.get(QUESTIONS, params=SO)
        real = fixture("se_error_throttle_violation_backoff.response.json")
        assert (violation.status_code, violation.json()) == (real["status"], real["body"])
        assert server.state.throttle_violations == 1
        assert http.get("/_sandbox/stackexchange").json()["throttle_violations"] == 1
        time.sleep(1.05)
        assert http.get(QUESTIONS, params=SO).status_code == 200
        assert server.state.throttle_violations == 1


# --- faults, determinism and the request log ---------------------------------------------------

FAULTY = Faults(
    error_5xx_rate=0.2,
    malformed_rate=0.2,
    slow_rate=0.05,
    slow_s=0.01,
    backoff_rate=0.0,
    fault_seed=5,
)


def broken(response: httpx.Response) -> bool:
    """What a careful client retries: server errors, unparsable or malformed bodies."""
    if response.status_code >= 500 or (
        response.status_code == 400 and response.json().get("error_id", 0) in (500, 503)
    ):
        return True
    try:
        body = response.json()
    except json.JSONDecodeError:
        return True
    return "items" not in body or any("question_id" not in q for q in body["items"])


def retrying_ids(http: httpx.Client, seen: list[httpx.Response]) -> list[int]:
    ids: list[int] = []
    page = 1
    while True:
        params = {**SO, "tagged": "acmedb", "pagesize": 20, "page": page}
        while broken(response := http.get(QUESTIONS, params=params)):
            seen.append(response)
        seen.append(response)
        body = response.json()
        ids += [q["question_id"] for q in body["items"]]
        if not body["has_more"]:
            return ids
        page += 1


def test_faults_are_deterministic_and_a_retrying_client_loses_nothing(world: World) -> None:
    runs = []
    for _ in range(2):
        with (
            SandboxServer(world, faults=FAULTY) as server,
            httpx.Client(base_url=server.base_url) as http,
        ):
            seen: list[httpx.Response] = []
            assert retrying_ids(http, seen) == expected_ids(world, {"acmedb"})
            runs.append([(r.status_code, r.content) for r in seen])
    assert runs[0] == runs[1]
    statuses = {status for status, _ in runs[0]}
    assert statuses & {500, 503}
    errors = [json.loads(c) for s, c in runs[0] if s >= 500]
    assert all(e.keys() == {"error_id", "error_message", "error_name"} for e in errors)
    bodies = [c for s, c in runs[0] if s == 200]
    assert any(not _parses(c) for c in bodies)
    assert any(_parses(c) and "items" not in json.loads(c) for c in bodies)


def _parses(content: bytes) -> bool:
    try:
        json.loads(content)
    except json.JSONDecodeError:
        return False
    return True


def test_requests_are_logged_with_the_x_ones(server: SandboxServer, http: httpx.Client) -> None:
    http.delete("/_sandbox/requests")
    http.get(QUESTIONS, params={**SO, "tagged": "quillpad"})
    (entry,) = http.get("/_sandbox/requests").json()
    assert (entry["path"], entry["status"]) == (QUESTIONS, 200)
    assert entry["params"] == {**SO, "tagged": "quillpad"}
