"""Stack Overflow text arrives HTML-encoded; the frames store it unescaped, exactly once."""

from __future__ import annotations

import math

import pandas as pd

from devsignal_pipelines.lib.sources.stackoverflow.sync import (
    _Fetched,
    answers_frame,
    questions_frame,
    unescape_html,
    users_frame,
)

NOW = pd.Timestamp("2026-11-20", tz="UTC")
OWNER = {
    "user_id": 7,
    "account_id": 70,
    "display_name": "Se&#225;n O&#39;Brien",
    "user_type": "registered",
}


def _fetched(question: dict) -> _Fetched:
    return _Fetched(
        questions={question["question_id"]: question},
        matched_tags={question["question_id"]: ["acmedb"]},
        answers=[],
        users=[],
        cursors={},
        quarantined=[],
        stopped_early=None,
        asked=[],
    )


def test_unescape_html_decodes_once_and_leaves_non_strings() -> None:
    out = unescape_html(
        ["What&#39;s &quot;yield&quot;?", "&amp;lt;T&amp;gt;", None, float("nan"), 3]
    )
    assert out[0] == 'What\'s "yield"?'
    assert out[1] == "&lt;T&gt;"  # a literal "&lt;" typed by the user, not "<"
    assert out[2] is None and math.isnan(out[3]) and out[4] == 3


def test_question_title_and_owner_name_are_unescaped() -> None:
    question = {
        "question_id": 1,
        "title": "Can&#39;t use &amp;lt;div&amp;gt; in AcmeDB &amp; Docker",
        "tags": ["acmedb"],
        "owner": OWNER,
        "creation_date": 1_700_000_000,
        "last_activity_date": 1_700_000_100,
    }
    frame = questions_frame("acme", _fetched(question), NOW)
    assert frame.at[0, "title"] == "Can't use &lt;div&gt; in AcmeDB & Docker"
    assert frame.at[0, "owner_display_name"] == "Seán O'Brien"
    # The payload keeps the record as the API sent it.
    assert "Can&#39;t use &amp;lt;div&amp;gt;" in frame.at[0, "payload"]


def test_answer_owner_and_user_names_are_unescaped() -> None:
    answer = {
        "answer_id": 2,
        "question_id": 1,
        "owner": OWNER,
        "creation_date": 1_700_000_000,
        "last_activity_date": 1_700_000_100,
    }
    assert answers_frame("acme", [answer], NOW).at[0, "owner_display_name"] == "Seán O'Brien"
    user = {
        "user_id": 7,
        "display_name": "R&amp;D &#39;Bob&#39;",
        "location": "K&#246;ln &amp; Bonn",
    }
    frame = users_frame("acme", [user, {"user_id": 8}], NOW)
    assert frame["display_name"].tolist() == ["R&D 'Bob'", None]
    assert frame["location"].tolist() == ["Köln & Bonn", None]
