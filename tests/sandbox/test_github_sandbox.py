"""The sandbox GitHub REST API v3 over real HTTP: shapes of the recorded responses in
shared/fixtures/github, Link pagination, since, the star media type, the clock, ETags and 304s,
primary and secondary rate limits, 401 / 404 / 301 / 422, and faults."""

from __future__ import annotations

import base64
import json
import math
import re
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from devsignal_pipelines.sandbox.faults import Faults
from devsignal_pipelines.sandbox.github.limits import GitHubSettings
from devsignal_pipelines.sandbox.server import SandboxServer
from devsignal_pipelines.sandbox.world import World, generate_world

FIXTURES = Path(__file__).resolve().parents[2].parent / "shared" / "fixtures" / "github"
ANCHOR = datetime(2025, 3, 1, tzinfo=UTC)
ANCHOR_TS = "2025-03-01T00:00:00Z"
TOKEN = "sandbox-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
REPO = "acme/acmedb"
STAR = "application/vnd.github.star+json"
LINK = re.compile(r'<([^>]+)>;\s*rel="([^"]+)"')


def exchanges(name: str) -> list[dict]:
    return json.loads((FIXTURES / name).read_text())


def recorded(name: str, index: int = 0) -> dict:
    return exchanges(name)[index]["response"]


def links(response: httpx.Response) -> dict[str, str]:
    return {rel: url for url, rel in LINK.findall(response.headers.get("link", ""))}


def follow(http: httpx.Client, url: str, **kwargs: object) -> Iterator[httpx.Response]:
    """Every page of a listing, by following rel="next" as given."""
    while True:
        response = http.get(url, **kwargs)  # type: ignore[arg-type]
        assert response.status_code == 200, response.text
        yield response
        url = links(response).get("next", "")
        if not url:
            return
        kwargs.pop("params", None)


def issues_at(world: World, name: str, now: str) -> dict[int, tuple[str, str, int]]:
    """number -> (state, updated_at, comments) at clock ``now``, from the raw world."""
    comments = [c for c in world.github_issue_comments[name] if c["created_at"] <= now]
    reviews = [c for c in world.github_review_comments[name] if c["created_at"] <= now]
    state = {}
    for issue in world.github_issues[name]:
        if issue["created_at"] > now:
            continue
        mine = [c["created_at"] for c in comments if c["issue_url"] == issue["url"]]
        reviewed = [
            c["created_at"]
            for c in reviews
            if c["pull_request_url"] == issue["url"].replace("/issues/", "/pulls/")
        ]
        edits = [t for t in world.github_edits.get(issue["node_id"], ()) if t <= now]
        closed = issue["closed_at"] if issue["closed_at"] and issue["closed_at"] <= now else None
        times = [issue["created_at"], *mine, *reviewed, *edits, *([closed] if closed else [])]
        state[issue["number"]] = ("closed" if closed else "open", max(times), len(mine))
    return state


@pytest.fixture(scope="module")
def world() -> World:
    return generate_world(seed=7, anchor=ANCHOR)


@pytest.fixture(scope="module")
def server(world: World) -> Iterator[SandboxServer]:
    """Shared by read-only tests: they must not move its clock or change its settings."""
    with SandboxServer(world) as running:
        yield running


@pytest.fixture(scope="module")
def http(server: SandboxServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.base_url, headers=AUTH) as client:
        yield client


# --- shapes ------------------------------------------------------------------------------------


def test_users_have_the_recorded_shape(http: httpx.Client, world: World) -> None:
    real = recorded("user_profile.json")["body"]
    contact = next(t.user_id for t in world.github_truth.values() if t.contact_id)
    login = world.github_users[contact]["login"]
    by_login = http.get(f"/users/{login.upper()}")  # logins are case-insensitive
    assert by_login.status_code == 200
    assert list(by_login.json()) == list(real)
    assert by_login.headers["content-type"] == "application/json; charset=utf-8"
    by_id = http.get(f"/user/{contact}")
    assert by_id.json() == by_login.json() == world.github_users[contact]
    assert set(recorded("user_by_id.json")["body"]) == set(real)
    bot = http.get("/users/dependabot[bot]").json()
    assert (bot["type"], bot["id"], bot["html_url"]) == (
        "Bot",
        49699333,
        "https://github.com/apps/dependabot",
    )


def test_repository_has_the_recorded_shape(http: httpx.Client, server: SandboxServer) -> None:
    real = recorded("sequential_pagination_releases.json")["body"]
    repo = http.get(f"/repos/{REPO.upper()}").json()
    assert set(repo) == set(real)
    assert set(repo["owner"]) == set(real["owner"]) and repo["owner"]["type"] == "Organization"
    assert set(repo["license"]) == set(real["license"])
    assert repo["full_name"] == REPO and repo["stargazers_count"] > 100
    anonymous = httpx.get(f"{server.base_url}/repos/{REPO}").json()
    assert set(real) - set(anonymous) == {"permissions", "temp_clone_token"}


def test_stargazers_plain_and_with_the_star_media_type(http: httpx.Client) -> None:
    plain_real = recorded("stargazers.json")["body"][0]
    dated_real = recorded("stargazers_with_dates.json")
    simple_real = recorded("issues_with_pull_requests.json")["body"][0]["user"]
    plain = http.get(f"/repos/{REPO}/stargazers").json()
    assert len(plain) == 30 and set(plain[0]) == set(simple_real) >= set(plain_real)
    for accept in (STAR, "application/vnd.github.v3.star+json", f"{STAR}, application/json"):
        response = http.get(f"/repos/{REPO}/stargazers", headers={"accept": accept})
        assert (
            response.headers["x-github-media-type"] == dated_real["headers"]["x-github-media-type"]
        )
        dated = response.json()
        assert set(dated[0]) == set(dated_real["body"][0]) == {"starred_at", "user"}
        assert set(dated[0]["user"]) == set(simple_real) >= set(dated_real["body"][0]["user"])
        assert [d["user"] for d in dated] == plain
        times = [d["starred_at"] for d in dated]
        assert times == sorted(times)  # oldest first, as GitHub lists them


def test_issues_and_pull_requests_have_the_recorded_shapes(http: httpx.Client) -> None:
    real = recorded("issues_with_pull_requests.json")["body"]
    real_issue = next(i for i in real if "pull_request" not in i)
    real_pull = next(i for i in real if "pull_request" in i)
    items = http.get(f"/repos/{REPO}/issues", params={"state": "all", "per_page": 100}).json()
    issue = next(i for i in items if "pull_request" not in i and i["labels"])
    pull = next(i for i in items if "pull_request" in i)
    assert list(issue) == list(real_issue)
    assert set(pull) == set(real_pull)
    assert set(pull["pull_request"]) == set(real_pull["pull_request"])
    assert set(issue["reactions"]) == set(real_issue["reactions"])
    old_label = recorded("issues.json")["body"][0]["labels"][0]
    assert set(issue["labels"][0]) >= set(old_label)
    assert {i["author_association"] for i in items} <= {"OWNER", "MEMBER", "CONTRIBUTOR", "NONE"}


def test_comments_have_the_recorded_shapes(http: httpx.Client) -> None:
    old = recorded("repo_issue_comments_since.json")["body"][0]
    comment = http.get(f"/repos/{REPO}/issues/comments").json()[0]
    modern = {"node_id", "html_url", "author_association", "reactions", "performed_via_github_app"}
    assert set(comment) == set(old) | modern
    review_real = recorded("pull_review_comments.json")["body"][0]
    review = http.get(f"/repos/{REPO}/pulls/comments").json()[0]
    assert set(review) == set(review_real)
    assert set(review["_links"]) == set(review_real["_links"])
    assert set(review) >= set(recorded("repo_pull_review_comments.json")["body"][0])


def test_forks_errors_and_rate_limit_have_the_recorded_shapes(http: httpx.Client) -> None:
    repo_keys = set(recorded("sequential_pagination_releases.json")["body"])
    fork = http.get(f"/repos/{REPO}/forks").json()[0]
    assert set(recorded("forks.json")["body"][0]) <= set(fork) <= repo_keys
    assert fork["fork"] is True
    for name, path in (
        ("error_404_not_found.json", "/repos/acme/acmedb-cloud"),
        ("error_404_unknown_user.json", "/users/ThisUserShouldReallyNotExist"),
    ):
        response = http.get(path)
        assert response.status_code == 404
        assert response.json()["message"] == recorded(name)["body"]["message"]
    limit = http.get("/rate_limit")
    real = recorded("rate_limit_status.json")
    assert set(limit.json()) == set(real["body"])
    assert set(limit.json()["resources"]["core"]) == set(real["body"]["resources"]["core"])
    wanted = {k for k in real["headers"] if k.startswith("x-ratelimit-")}
    assert wanted <= set(limit.headers) and limit.headers["x-ratelimit-resource"] == "core"


# --- pagination, since, ordering ---------------------------------------------------------------


def test_following_next_visits_every_issue_once_and_links_move_to_repositories(
    http: httpx.Client, world: World
) -> None:
    repo_id = world.github_repositories[REPO]["id"]
    pages = list(follow(http, f"/repos/{REPO}/issues", params={"state": "all", "per_page": 7}))
    numbers = [i["number"] for page in pages for i in page.json()]
    expected = issues_at(world, REPO, ANCHOR_TS)
    assert numbers == sorted(expected, reverse=True)  # created, newest first
    assert len(pages) == math.ceil(len(expected) / 7)
    first, second, last = links(pages[0]), links(pages[1]), links(pages[-1])
    assert set(first) == {"next", "last"} and set(last) == {"prev", "first"}
    assert set(second) == {"prev", "next", "last", "first"}
    base = str(http.base_url).rstrip("/")
    assert first["next"] == f"{base}/repositories/{repo_id}/issues?state=all&per_page=7&page=2"
    assert first["last"].endswith(f"page={len(pages)}")
    states = {n: s for n, (s, _, _) in expected.items()}
    for item in (i for page in pages for i in page.json()):
        assert (item["state"], item["updated_at"], item["comments"]) == expected[item["number"]]
        assert item["state"] == states[item["number"]]


def test_per_page_defaults_to_30_and_is_capped_at_100(http: httpx.Client) -> None:
    assert len(http.get(f"/repos/{REPO}/stargazers").json()) == 30
    assert len(http.get(f"/repos/{REPO}/stargazers", params={"per_page": 500}).json()) == 100
    assert len(http.get(f"/repos/{REPO}/stargazers", params={"per_page": "x"}).json()) == 30
    one = http.get(f"/repos/{REPO}/issues", params={"per_page": 100, "labels": "nope"})
    assert one.json() == [] and "link" not in one.headers
    past = http.get(f"/repos/{REPO}/stargazers", params={"page": 99, "per_page": 100})
    assert past.json() == [] and set(links(past)) == {"prev", "first"}


def test_stargazers_and_comments_visit_everything_exactly_once(
    http: httpx.Client, world: World
) -> None:
    stars = [
        s["user"]["id"]
        for page in follow(
            http, f"/repos/{REPO}/stargazers", params={"per_page": 100}, headers={"accept": STAR}
        )
        for s in page.json()
    ]
    assert stars == [
        s["user_id"] for s in world.github_stargazers[REPO] if s["starred_at"] <= ANCHOR_TS
    ]
    for path, key in (
        ("issues/comments", "github_issue_comments"),
        ("pulls/comments", "github_review_comments"),
    ):
        pages = list(follow(http, f"/repos/{REPO}/{path}", params={"per_page": 50}))
        ids = [c["id"] for page in pages for c in page.json()]
        visible = [c["id"] for c in getattr(world, key)[REPO] if c["created_at"] <= ANCHOR_TS]
        assert ids == sorted(visible)  # ascending id by default
        assert "/repositories/" in links(pages[0])["next"]


def test_since_filters_on_updated_at_and_sorts_by_it(http: httpx.Client, world: World) -> None:
    since = "2025-02-20T00:00:00Z"
    params = {"state": "all", "since": since, "sort": "updated", "direction": "desc"}
    items = [i for p in follow(http, f"/repos/{REPO}/issues", params=params) for i in p.json()]
    expected = issues_at(world, REPO, ANCHOR_TS)
    wanted = {n for n, (_, updated, _) in expected.items() if updated >= since}
    assert {i["number"] for i in items} == wanted
    assert any(i["created_at"] < "2025-01-01T00:00:00Z" for i in items)  # old, but active
    updated = [i["updated_at"] for i in items]
    assert updated == sorted(updated, reverse=True)
    comments = http.get(
        f"/repos/{REPO}/issues/comments",
        params={"since": since, "sort": "updated", "direction": "asc", "per_page": 100},
    ).json()
    assert comments and all(c["updated_at"] >= since for c in comments)
    assert [c["updated_at"] for c in comments] == sorted(c["updated_at"] for c in comments)
    closed = http.get(f"/repos/{REPO}/issues", params={"state": "closed", "per_page": 100}).json()
    assert closed and all(i["state"] == "closed" for i in closed)
    default = http.get(f"/repos/{REPO}/issues", params={"per_page": 100}).json()
    assert default and all(i["state"] == "open" for i in default)


def test_every_listing_reads_oldest_updated_first_from_since(
    http: httpx.Client, world: World
) -> None:
    """What the connector asks for to read on after a stop: sort=updated&direction=asc&since=,
    as GitHub documents it for issues, issue comments and review comments of a repository."""
    since = "2025-01-01T00:00:00Z"
    ascending = {"sort": "updated", "direction": "asc", "since": since, "per_page": 10}
    for path, query in (
        ("issues", {"state": "all"}),
        ("issues/comments", {}),
        ("pulls/comments", {}),
    ):
        items = [
            i
            for p in follow(http, f"/repos/{REPO}/{path}", params={**query, **ascending})
            for i in p.json()
        ]
        updated = [i["updated_at"] for i in items]
        assert items and updated == sorted(updated) and updated[0] >= since, path
        everything = [
            i
            for p in follow(http, f"/repos/{REPO}/{path}", params={**query, "per_page": 100})
            for i in p.json()
        ]
        assert [i["id"] for i in items] == [
            i["id"] for i in sorted(everything, key=lambda i: (i["updated_at"], i["id"]))
            if i["updated_at"] >= since
        ]  # fmt: skip


@pytest.mark.parametrize(
    "params",
    [{"state": "bogus"}, {"sort": "votes"}, {"direction": "up"}, {"since": "yesterday"}],
)
def test_unreadable_parameters_are_422_validation_failed(
    http: httpx.Client, params: dict[str, str]
) -> None:
    response = http.get(f"/repos/{REPO}/issues", params=params)
    assert response.status_code == 422
    body = response.json()
    real = recorded("error_422_validation.json")["body"]
    assert set(body) >= set(real) and body["message"] == real["message"]
    assert body["errors"][0]["field"] == next(iter(params))


def test_forks_sort_newest_by_default(http: httpx.Client) -> None:
    newest = http.get(f"/repos/{REPO}/forks", params={"per_page": 100}).json()
    oldest = http.get(f"/repos/{REPO}/forks", params={"per_page": 100, "sort": "oldest"}).json()
    assert [f["id"] for f in newest] == [f["id"] for f in reversed(oldest)]
    assert [f["created_at"] for f in oldest] == sorted(f["created_at"] for f in oldest)


# --- the clock ---------------------------------------------------------------------------------


def test_the_clock_reveals_later_activity_and_replays_issue_state(world: World) -> None:
    name = "nimbus/nimbusdeploy"
    early = "2024-09-01T00:00:00Z"
    with (
        SandboxServer(world) as server,
        httpx.Client(base_url=server.base_url, headers=AUTH) as http,
    ):

        def all_of(path: str, **params: object) -> list[dict]:
            return [
                i
                for p in follow(http, f"/repos/{name}/{path}", params={"per_page": 100, **params})
                for i in p.json()
            ]

        at_anchor = len(all_of("stargazers"))
        server.state.set_clock(datetime(2024, 9, 1, tzinfo=UTC))
        issues = all_of("issues", state="all")
        expected = issues_at(world, name, early)
        assert {
            i["number"]: (i["state"], i["updated_at"], i["comments"]) for i in issues
        } == expected
        assert any(
            i["state"] == "open" and w["state"] == "closed"
            for i in issues
            for w in world.github_issues[name]
            if w["number"] == i["number"]
        )
        repo = http.get(f"/repos/{name}").json()
        assert repo["stargazers_count"] == len(all_of("stargazers")) < at_anchor
        server.state.set_clock(ANCHOR + timedelta(days=2))
        assert len(all_of("stargazers")) == len(world.github_stargazers[name]) > at_anchor
        assert all_of("issues", state="all", direction="asc") == sorted(
            world.github_issues[name], key=lambda i: i["number"]
        )


# --- ETags, limits, credentials ----------------------------------------------------------------


def test_etag_304_is_free_with_a_token_and_counted_without(world: World) -> None:
    with (
        SandboxServer(world) as server,
        httpx.Client(base_url=server.base_url, headers=AUTH) as http,
    ):
        first = http.get(f"/repos/{REPO}/issues", params={"per_page": 5})
        tag = first.headers["etag"]
        assert (
            tag.startswith('W/"')
            and http.get(f"/repos/{REPO}/issues", params={"per_page": 5}).headers["etag"] == tag
        )
        remaining = int(http.get("/rate_limit").json()["rate"]["remaining"])
        for _ in range(3):
            again = http.get(
                f"/repos/{REPO}/issues", params={"per_page": 5}, headers={"if-none-match": tag}
            )
            assert (again.status_code, again.content, again.headers["etag"]) == (304, b"", tag)
            assert int(again.headers["x-ratelimit-remaining"]) == remaining
        changed = http.get(
            f"/repos/{REPO}/issues", params={"per_page": 6}, headers={"if-none-match": tag}
        )
        assert changed.status_code == 200
        assert int(changed.headers["x-ratelimit-remaining"]) == remaining - 1
        anonymous = httpx.get(f"{server.base_url}/repos/{REPO}")
        again = httpx.get(
            f"{server.base_url}/repos/{REPO}", headers={"if-none-match": anonymous.headers["etag"]}
        )
        assert again.status_code == 304
        assert (
            int(again.headers["x-ratelimit-remaining"])
            == int(anonymous.headers["x-ratelimit-remaining"]) - 1
        )
        assert server.state.github.counters["not_modified"] == 4


def test_primary_limit_answers_403_with_remaining_0_and_the_reset(world: World) -> None:
    with (
        SandboxServer(world) as server,
        httpx.Client(base_url=server.base_url, headers=AUTH) as http,
    ):
        server.state.github.configure(rate_limit=3)
        responses = [http.get(f"/repos/{REPO}") for _ in range(4)]
        assert [r.status_code for r in responses] == [200, 200, 200, 403]
        assert [r.headers["x-ratelimit-remaining"] for r in responses] == ["2", "1", "0", "0"]
        assert [r.headers["x-ratelimit-used"] for r in responses] == ["1", "2", "3", "3"]
        refused = responses[3]
        body = refused.json()
        assert re.fullmatch(r"API rate limit exceeded for user ID \d+\.", body["message"])
        assert TOKEN not in refused.text and body["documentation_url"].startswith(
            "https://docs.github.com"
        )
        reset = int(refused.headers["x-ratelimit-reset"])
        assert time.time() < reset <= time.time() + 3601
        assert http.get("/rate_limit").json()["rate"]["remaining"] == 0  # not counted itself
        server.state.github.configure(rate_limit=1, primary_limit_status=429)
        assert http.get(f"/repos/{REPO}").status_code == 200
        assert http.get(f"/repos/{REPO}").status_code == 429
        assert server.state.github.counters["primary_refusals"] == 2


def test_unauthenticated_callers_get_60_an_hour_per_address(world: World) -> None:
    with SandboxServer(world) as server, httpx.Client(base_url=server.base_url) as http:
        first = http.get(f"/users/{world.github_members['acme'][0]}")
        assert (first.headers["x-ratelimit-limit"], first.headers["x-ratelimit-remaining"]) == (
            "60",
            "59",
        )
        assert http.get("/rate_limit").json()["resources"]["core"]["limit"] == 60
        assert (
            http.post("/_sandbox/github", json={"rate_limit_unauthenticated": 2}).status_code == 200
        )
        codes = [http.get(f"/repos/{REPO}").status_code for _ in range(3)]
        assert codes == [200, 200, 403]
        refused = http.get(f"/repos/{REPO}")
        assert refused.json()["message"].startswith("API rate limit exceeded for 127.0.0.1.")
        assert refused.headers["x-ratelimit-remaining"] == "0"
        assert http.get(f"/repos/{REPO}", headers=AUTH).status_code == 200  # a token is apart
        status = http.get("/_sandbox/github").json()
        assert status["settings"]["rate_limit_unauthenticated"] == 2
        assert status["counters"]["primary_refusals"] == 2
        assert http.delete("/_sandbox/github").status_code == 204
        assert http.get(f"/repos/{REPO}").status_code == 200  # fresh windows
        assert http.post("/_sandbox/github", json={"bogus": 1}).status_code == 400


@pytest.mark.parametrize(
    "authorization", ["Bearer not-a-token", "token not-a-token", "Basic !!!", "Digest abc"]
)
def test_unknown_credentials_are_401_bad_credentials(
    server: SandboxServer, authorization: str
) -> None:
    response = httpx.get(
        f"{server.base_url}/repos/{REPO}", headers={"Authorization": authorization}
    )
    assert response.status_code == 401
    assert (
        response.json()["message"] == recorded("error_401_bad_credentials.json")["body"]["message"]
    )


def test_the_token_scheme_and_basic_auth_work_too(server: SandboxServer) -> None:
    basic = base64.b64encode(f"me:{TOKEN}".encode()).decode()
    for authorization in (f"token {TOKEN}", f"Basic {basic}"):
        response = httpx.get(
            f"{server.base_url}/repos/{REPO}", headers={"Authorization": authorization}
        )
        assert response.status_code == 200 and response.headers["x-ratelimit-limit"] == "5000"


# --- 404, 301, the stargazer page limit --------------------------------------------------------


def test_private_repositories_unknown_users_and_old_logins_are_404(
    http: httpx.Client, world: World
) -> None:
    for name in world.github_missing:
        assert http.get(f"/repos/{name}").status_code == 404
        assert http.get(f"/repos/{name}/stargazers").status_code == 404
    assert http.get("/repositories/1").status_code == 404
    assert http.get("/user/3").status_code == 404
    current = {u["login"].lower() for u in world.github_users.values()}
    stale = next(i.username for i in world.github_identities if i.username.lower() not in current)
    assert http.get(f"/users/{stale}").status_code == 404
    identity = next(i for i in world.github_identities if i.username.lower() == stale.lower())
    assert http.get(f"/user/{identity.platform_user_id}").status_code == 200  # ids are permanent


def test_a_renamed_repository_answers_301_to_its_id(http: httpx.Client, world: World) -> None:
    old, new = next(iter(world.github_renamed.items()))
    repo_id = world.github_repositories[new]["id"]
    moved = http.get(f"/repos/{old}/issues", params={"state": "all", "per_page": 5})
    base = str(http.base_url).rstrip("/")
    location = f"{base}/repositories/{repo_id}/issues?state=all&per_page=5"
    assert (moved.status_code, moved.headers["location"]) == (301, location)
    assert moved.json()["message"] == "Moved Permanently" and moved.json()["url"] == location
    followed = http.get(f"/repos/{old}", follow_redirects=True)
    assert followed.status_code == 200 and followed.json()["full_name"] == new
    issues = http.get(location).json()
    assert len(issues) == 5 and issues[0]["repository_url"].endswith(f"/repos/{new}")


def test_a_rename_can_redirect_to_another_host(world: World) -> None:
    """The `redirect_base_url` knob: a 301 off the API host, which a client must not follow
    with its token."""
    old, new = next(iter(world.github_renamed.items()))
    with (
        SandboxServer(world) as server,
        httpx.Client(base_url=server.base_url, headers=AUTH) as http,
    ):
        server.state.github.configure(redirect_base_url="https://elsewhere.example/")
        moved = http.get(f"/repos/{old}/stargazers", params={"page": 2})
        repo_id = world.github_repositories[new]["id"]
        location = f"https://elsewhere.example/repositories/{repo_id}/stargazers?page=2"
        assert (moved.status_code, moved.headers["location"]) == (301, location)
        server.state.github.configure(redirect_base_url=None)
        assert http.get(f"/repos/{old}").headers["location"].startswith(server.base_url)


def test_stargazers_stop_at_the_page_limit_with_422(world: World) -> None:
    with (
        SandboxServer(world) as server,
        httpx.Client(base_url=server.base_url, headers=AUTH) as http,
    ):
        server.state.github.configure(stargazer_page_limit=3)
        pages = list(follow(http, f"/repos/{REPO}/stargazers", params={"per_page": 10}))
        assert len(pages) == 3 and links(pages[0])["last"].endswith("page=3")
        assert "next" not in links(pages[-1])
        beyond = http.get(f"/repos/{REPO}/stargazers", params={"per_page": 10, "page": 4})
        assert beyond.status_code == 422
        assert beyond.json()["message"].startswith(
            "In order to keep the API fast for everyone, pagination is limited for this resource."
        )
        assert links(beyond)["last"].endswith("per_page=10&page=3")
        assert (
            http.get(f"/repos/{REPO}/issues", params={"per_page": 10, "page": 4}).status_code == 200
        )
        assert server.state.github.settings.stargazer_page_limit == 3
    assert GitHubSettings().stargazer_page_limit == 400  # GitHub's


# --- secondary limits and faults ---------------------------------------------------------------


def test_secondary_limit_answers_with_retry_after(world: World) -> None:
    with (
        SandboxServer(world) as server,
        httpx.Client(base_url=server.base_url, headers=AUTH) as http,
    ):
        server.state.github.configure(secondary_requests_per_window=2, secondary_window_s=30)
        codes = [http.get(f"/repos/{REPO}").status_code for _ in range(3)]
        assert codes == [200, 200, 403]
        refused = http.get(f"/repos/{REPO}")
        assert refused.json()["message"].startswith("You have exceeded a secondary rate limit")
        assert 1 <= int(refused.headers["retry-after"]) <= 30
        assert int(refused.headers["x-ratelimit-remaining"]) > 0  # not the primary limit
        server.state.github.configure(secondary_limit_status=429, secondary_retry_after=False)
        assert [http.get(f"/repos/{REPO}").status_code for _ in range(3)] == [200, 200, 429]
        assert "retry-after" not in http.get(f"/repos/{REPO}").headers


def test_the_burst_fault_is_a_secondary_limit(world: World) -> None:
    faults = Faults(burst_429_rate=1.0, burst_429_reset_s=2)
    with SandboxServer(world, faults=faults) as server:
        response = httpx.get(f"{server.base_url}/repos/{REPO}", headers=AUTH)
        assert response.status_code == 403 and response.headers["retry-after"] == "2"
        assert "secondary rate limit" in response.json()["message"]
        assert response.headers["x-ratelimit-remaining"] == "5000"  # nothing used


FAULTY = Faults(error_5xx_rate=0.2, malformed_rate=0.2, slow_rate=0.05, slow_s=0.01, fault_seed=5)


def broken(response: httpx.Response) -> bool:
    """What a careful client retries: server errors, unparsable or malformed bodies."""
    if response.status_code >= 500:
        return True
    try:
        body = response.json()
    except json.JSONDecodeError:
        return True
    return any("id" not in i or not isinstance(i.get("user"), dict) for i in body)


def test_faults_are_deterministic_and_a_retrying_client_loses_nothing(world: World) -> None:
    runs = []
    for _ in range(2):
        with SandboxServer(world, faults=FAULTY) as server, httpx.Client(headers=AUTH) as http:
            seen: list[httpx.Response] = []
            numbers: list[int] = []
            url = f"{server.base_url}/repos/{REPO}/issues?state=all&per_page=5"
            while url:
                while broken(response := http.get(url)):
                    seen.append(response)
                seen.append(response)
                numbers += [i["number"] for i in response.json()]
                url = links(response).get("next", "")
            assert numbers == sorted(issues_at(world, REPO, ANCHOR_TS), reverse=True)
            runs.append([(r.status_code, r.content) for r in seen])
    assert runs[0] == runs[1]
    assert {status for status, _ in runs[0]} & {500, 502, 503, 504}
    bodies = [c for s, c in runs[0] if s == 200]
    assert any(not _parses(c) for c in bodies)
    assert any(_parses(c) and broken_items(c) for c in bodies)


def broken_items(content: bytes) -> bool:
    return any("id" not in i or not isinstance(i.get("user"), dict) for i in json.loads(content))


def _parses(content: bytes) -> bool:
    try:
        json.loads(content)
    except json.JSONDecodeError:
        return False
    return True


def test_requests_are_logged_without_the_token(server: SandboxServer, http: httpx.Client) -> None:
    http.delete("/_sandbox/requests")
    http.get(f"/repos/{REPO}/issues", params={"state": "all"})
    (entry,) = http.get("/_sandbox/requests").json()
    assert (entry["path"], entry["status"], entry["params"]) == (
        f"/repos/{REPO}/issues",
        200,
        {"state": "all"},
    )
    assert TOKEN not in json.dumps(entry)
