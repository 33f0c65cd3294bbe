"""The X client's parser against real X API v2 responses (../shared/fixtures/twitter)."""

from __future__ import annotations

import json

import pytest

from devsignal_pipelines.lib.sources.http import MalformedBodyError
from devsignal_pipelines.lib.sources.twitter.client import build_query, parse_search_page
from tests.conftest import SHARED

FIXTURES = SHARED / "fixtures" / "twitter"


def _body(name: str) -> dict:
    return json.loads((FIXTURES / name).read_text())


def test_real_search_page_with_authors_parses() -> None:
    page = parse_search_page(_body("academictwitteR_search_all_expansions_author_id_200.body.json"))
    assert page.result_count == 4 and len(page.tweets) == 4
    assert {u["id"] for u in page.users} == {"15392391", "14457151"}
    assert page.newest_id == "1400942130898554891"
    assert page.next_token is None and not page.quarantined


def test_real_page_with_next_token_and_default_fields() -> None:
    response = json.loads((FIXTURES / "tweepy_search_recent_200.response.json").read_text())
    page = parse_search_page(response["body"])
    assert page.next_token == "b26v89c19zqg8o3fpzbn1e0ffhxjiofzw6po136rvbnul"
    # Default fields carry no author_id/created_at: such posts cannot be attributed, so they are quarantined.
    assert len(page.quarantined) == 10 and "author_id" in page.quarantined[0][0]


def test_real_partial_errors_are_counted_not_fatal() -> None:
    page = parse_search_page(_body("academictwitteR_search_all_partial_errors_200.body.json"))
    assert len(page.partial_errors) == 8
    assert len(page.tweets) == 257 and len(page.users) == 126


def test_real_empty_result() -> None:
    page = parse_search_page(_body("academictwitteR_search_all_empty_200.body.json"))
    assert (page.tweets, page.users, page.result_count, page.next_token) == ([], [], 0, None)


@pytest.mark.parametrize(
    "body",
    [
        [],
        {"data": []},
        {"meta": {"result_count": "3"}},
        {"meta": {"result_count": 1}, "data": {"id": "1"}},
    ],
)
def test_unusable_wrapper_is_malformed(body: object) -> None:
    with pytest.raises(MalformedBodyError):
        parse_search_page(body)  # type: ignore[arg-type]


def test_query_building() -> None:
    assert build_query(["acmedb", " acme  db "]) == '(acmedb OR "acme db") -is:retweet'
    with pytest.raises(ValueError, match="plain words"):
        build_query(['"quoted"'])
    with pytest.raises(ValueError, match="no keywords"):
        build_query([" ", ""])
    with pytest.raises(ValueError, match="512"):
        build_query(["k" * 600])


@pytest.mark.parametrize("keyword", ["lang:en", "-foo", "is:reply", "from:acme", "OR", "AND"])
def test_a_keyword_that_is_search_syntax_is_refused_not_sent(keyword: str) -> None:
    with pytest.raises(ValueError, match="X search syntax"):
        build_query(["acmedb", keyword])


def test_phrases_are_quoted_so_syntax_inside_them_is_read_as_words() -> None:
    assert build_query(["acme OR db", "-x y"]) == '("acme OR db" OR "-x y") -is:retweet'


def _page_with(tweet_changes: dict, user_changes: dict | None = None) -> dict:
    body = _body("academictwitteR_search_all_expansions_author_id_200.body.json")
    body["data"][0].update(tweet_changes)
    if user_changes:
        body["includes"]["users"][0].update(user_changes)
    return body


@pytest.mark.parametrize(
    ("tweet_changes", "user_changes", "reason"),
    [
        ({"created_at": "yesterday"}, None, "created_at"),
        ({"public_metrics": [1]}, None, "public_metrics"),
        ({"author_id": 15392391}, None, "author_id"),
        ({}, {"created_at": "garbage"}, "user created_at"),
        ({}, {"entities": "x"}, "entities"),
    ],
)
def test_malformed_records_are_quarantined_with_a_reason(
    tweet_changes, user_changes, reason
) -> None:
    page = parse_search_page(_page_with(tweet_changes, user_changes))
    assert len(page.quarantined) == 1 and reason in page.quarantined[0][0]
    assert len(page.tweets) + len(page.users) == 4 + 2 - 1


def test_non_numeric_newest_id_is_a_malformed_wrapper() -> None:
    body = _body("academictwitteR_search_all_expansions_author_id_200.body.json")
    body["meta"]["newest_id"] = "abc"
    with pytest.raises(MalformedBodyError, match="newest_id"):
        parse_search_page(body)


def test_too_many_keywords_are_refused() -> None:
    with pytest.raises(ValueError, match="at most 32"):
        build_query([f"k{i}" for i in range(40)])
