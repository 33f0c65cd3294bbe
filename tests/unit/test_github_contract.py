"""The GitHub connector's parsing against real GitHub REST v3 exchanges (../shared/fixtures/github)."""

from __future__ import annotations

import json

import httpx
import pandas as pd
import pytest

from devsignal_pipelines.lib.sources.github.client import (
    GitHubClient,
    NotFound,
    RateLimitStop,
    RepositoryNotFound,
    page_number,
    parse_links,
)
from devsignal_pipelines.lib.sources.github.fetch import item_problem, profile_problem
from devsignal_pipelines.lib.sources.github.sync import (
    comments_frame,
    forks_frame,
    issues_frame,
    stargazers_frame,
    users_frame,
)
from tests.conftest import SHARED

FIXTURES = SHARED / "fixtures" / "github"
NOW = pd.Timestamp("2026-11-20T00:00:00Z")


def _exchanges(name: str) -> list[dict]:
    return json.loads((FIXTURES / name).read_text())


def _body(name: str, index: int = 0):
    return _exchanges(name)[index]["response"]["body"]


def _response(exchange: dict) -> httpx.Response:
    r = exchange["response"]
    headers = {k: v for k, v in r["headers"].items() if k != "content-encoding"}  # stored decoded
    return httpx.Response(
        r["status"],
        headers=headers,
        content=json.dumps(r["body"]).encode() if r["body"] is not None else b"",
        request=httpx.Request("GET", "https://api.github.com" + exchange["request"]["path"]),
    )


def test_real_stargazers_with_dates_load_with_their_star_times() -> None:
    items = _body("stargazers_with_dates.json")
    assert all(item_problem("stargazers", i) is None for i in items)
    frame = stargazers_frame("acme", [(7, i) for i in items], NOW)
    assert len(frame) == 6 and frame["starred_at"].notna().all()
    assert frame["user_id"].tolist() == [i["user"]["id"] for i in items]


def test_a_plain_stargazer_without_the_star_media_type_is_refused_not_guessed() -> None:
    plain_user = _body("stargazers.json")[0]
    assert "starred_at" in item_problem("stargazers", plain_user)


def test_real_issues_and_pull_requests_are_told_apart() -> None:
    items = _body("issues_with_pull_requests.json")
    assert all(item_problem("issues", i) is None for i in items)
    frame = issues_frame("acme", [(3544490, i) for i in items], NOW)
    assert int(frame["is_pull_request"].sum()) == 9 and len(frame) == 30
    # The 2012 recording gives every issue a pull_request object with null URLs: none is a PR.
    old = issues_frame("acme", [(1, i) for i in _body("issues.json")], NOW)
    assert not old["is_pull_request"].any()
    assert frame["author_association"].notna().all()


def test_real_comments_and_forks_load() -> None:
    issue_comments = _body("repo_issue_comments_since.json")
    assert all(item_problem("issue_comments", c) is None for c in issue_comments)
    frame = comments_frame("acme", "issue", [(1, c) for c in issue_comments], NOW)
    assert (
        frame["issue_number"].notna().all()
        and (frame["created_at"] <= frame["github_updated_at"]).all()
    )
    review = _body("repo_pull_review_comments.json")
    assert (
        comments_frame("acme", "review", [(1, c) for c in review], NOW)["issue_number"]
        .notna()
        .all()
    )
    forks = _body("forks.json")
    assert all(item_problem("forks", f) is None for f in forks)
    assert forks_frame("acme", [(1, f) for f in forks], NOW)["owner_login"].notna().all()


def test_real_profiles_keep_company_blog_email_and_twitter_username() -> None:
    for name in ("user_profile.json", "user_profile_twitter.json", "user_by_id.json"):
        assert profile_problem(_body(name)) is None
    frame = users_frame(
        "acme", [_body("user_profile.json"), _body("user_profile_twitter.json")], NOW
    )
    assert frame["company"].tolist()[0] == "@facebook"
    assert frame["twitter_username"].tolist()[1] == "nvie"
    assert pd.isna(frame["blog"].tolist()[0])  # "" means none


def test_link_headers_are_followed_as_given() -> None:
    headers = _exchanges("paginate_issues_link.json")[0]["response"]["headers"]
    links = parse_links(headers["link"])
    # GitHub moves the next page to /repositories/{id}/...: follow it, never rebuild it.
    assert links["next"].startswith("https://api.github.com/repositories/515435940/issues")
    assert page_number(links["next"]) == 2 and page_number(links["last"]) == 5


@pytest.mark.parametrize(
    ("fixture", "index", "expected"),
    [
        ("rate_limit_exhausted_403.json", 1, "reset"),  # primary limit spent: wait for reset
        ("secondary_rate_limit_retry_after.json", 0, 60.0),  # secondary: retry-after
        ("error_404_not_found.json", 0, None),  # not a rate limit
        ("error_401_bad_credentials.json", 0, None),
    ],
)
def test_real_rate_limit_answers_are_recognised(fixture: str, index: int, expected) -> None:
    exchange = _exchanges(fixture)[index]
    response = _response(exchange)
    if expected == "reset" and "x-ratelimit-reset" not in response.headers:
        # The 2013 recording predates the reset header: the client waits GitHub's minute.
        expected = 60.0
    client = GitHubClient("https://api.github.com", "t", organization_id="acme", token_env="T",
                          max_rate_limit_wait_s=3600, clock=lambda: 0.0)  # fmt: skip
    assert client._rate_limit_wait(response) == expected
    short = GitHubClient("https://api.github.com", "t", organization_id="acme", token_env="T",
                         max_rate_limit_wait_s=5, clock=lambda: 0.0)  # fmt: skip
    if expected is not None:
        with pytest.raises(RateLimitStop, match="more than the 5s allowed"):
            short._rate_limit_wait(response)


def test_a_real_404_for_a_user_is_not_found_not_a_missing_repository() -> None:
    """A deleted account (GET /user/{id} -> 404) is a tombstone for the sync, not a repository
    failure: the client says NotFound, and only `repository()` makes it RepositoryNotFound."""
    response = _response(_exchanges("error_404_unknown_user.json")[0])
    client = GitHubClient("https://api.github.com", "t", organization_id="acme", token_env="T")
    with pytest.raises(NotFound, match="404") as raised:
        client._raise_for_error(response, response.json(), str(response.request.url))
    assert not isinstance(raised.value, RepositoryNotFound)


def test_a_next_link_to_another_origin_is_not_followed_with_the_token() -> None:
    from starlette.applications import Starlette
    from starlette.responses import JSONResponse
    from starlette.routing import Route

    from devsignal_pipelines.lib.loopback import LoopbackServer
    from devsignal_pipelines.lib.sources.github.client import RedirectRefused

    seen: list[str] = []

    async def forks(request):
        seen.append(request.headers.get("authorization", ""))
        link = '<https://elsewhere.example/repos/acme/db/forks?page=2>; rel="next"'
        return JSONResponse([{"id": 1}], headers={"link": link})

    async def health(request):
        return JSONResponse({})

    app = Starlette(routes=[Route("/repos/acme/db/forks", forks), Route("/healthz", health)])
    with (
        LoopbackServer(app, "/healthz", name="github") as server,
        GitHubClient(server.base_url, "t0ken", organization_id="acme", token_env="T") as client,
    ):
        pages = client.pages("/repos/acme/db/forks")
        assert next(pages).items == [{"id": 1}]
        with pytest.raises(RedirectRefused, match=r"elsewhere\.example.*token is not sent"):
            next(pages)
    assert seen == ["Bearer t0ken"]  # one request, to the API's own origin
