"""The Stack Exchange client's checks against real API 2.3 responses (../shared/fixtures/stackexchange)."""

from __future__ import annotations

import json

import pytest

from devsignal_pipelines.lib.sources.http import MalformedBodyError
from devsignal_pipelines.lib.sources.stackoverflow.client import check_wrapper
from devsignal_pipelines.lib.sources.stackoverflow.sync import (
    answer_problem,
    question_problem,
    user_problem,
)
from tests.conftest import SHARED

FIXTURES = SHARED / "fixtures" / "stackexchange"


def _json(name: str) -> dict:
    return json.loads((FIXTURES / name).read_text())


@pytest.mark.parametrize(
    "name",
    [
        "se_2.2_questions_sort_votes_pagesize10.json",
        "se_2.2_questions_quota10000.json",
        "se_2.3_questions_72755863_answers.json",
    ],
)
def test_real_wrappers_pass_the_wrapper_check(name: str) -> None:
    check_wrapper(_json(name))


def test_real_questions_answers_and_users_are_valid_records() -> None:
    for question in _json("se_2.2_questions_quota10000.json")["items"]:
        assert question_problem(question) is None
    for answer in _json("se_2.3_questions_72755863_answers.json")["items"]:
        assert answer_problem(answer) is None
    for answer in _json("se_2.3_answer_items_user22656_wrapper_trimmed.json")["items"]:
        assert answer_problem(answer) is None
    assert user_problem(_json("se_2.3_user_item_22656_full_user_type.json")) is None


def test_a_deleted_owner_is_a_valid_record_without_user_id() -> None:
    question = _json("se_2.2_questions_quota10000.json")["items"][0]
    question["owner"] = _json("se_shallow_user_doc_examples.json")["non_existent"]
    assert question_problem(question) is None


@pytest.mark.parametrize(
    "body",
    [
        {"items": {}},
        {"items": [], "quota_remaining": "9"},
        {"items": [], "quota_max": 1, "quota_remaining": 1, "backoff": "10"},
    ],
)
def test_unusable_wrappers_are_malformed(body: dict) -> None:
    with pytest.raises(MalformedBodyError):
        check_wrapper(body)


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        ({"question_id": "1"}, "question_id"),
        ({"tags": "a;b"}, "tags"),
        ({"owner": {"user_id": "7"}}, "user_id"),
    ],
)
def test_malformed_questions_say_why(changes: dict, reason: str) -> None:
    question = {**_json("se_2.2_questions_quota10000.json")["items"][0], **changes}
    assert reason in question_problem(question)
