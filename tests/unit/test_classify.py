"""Behaviour of classify_texts (sentiment, score, tweet type) and of its held-out evaluation."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

from devsignal_pipelines.lib.classify import sentiment
from devsignal_pipelines.lib.classify.texts import (
    SENTIMENT_LABELS,
    TWEET_TYPE_PRECEDENCE,
    TWEET_TYPES,
    classify_texts,
)

REPO_ROOT = Path(__file__).resolve().parents[2]
DATA_DIR = REPO_ROOT.parent / "shared" / "datasets" / "sentiment"


def classify_one(text: str) -> tuple[str, float, str]:
    row = classify_texts([text]).iloc[0]
    return row.sentiment, row.sentiment_score, row.tweet_type


def test_clear_praise_is_positive_praise():
    label, score, tweet_type = classify_one("@acme is amazing, huge shoutout to the team!")
    assert (label, tweet_type) == ("positive", "praise")
    assert score > 0.5


def test_crash_question_is_a_complaint_first():
    label, _, tweet_type = classify_one("Why does @acme keep crashing?")
    assert (label, tweet_type) == ("negative", "complaint")
    assert TWEET_TYPE_PRECEDENCE.index("complaint") < TWEET_TYPE_PRECEDENCE.index("question")


@pytest.mark.parametrize(
    "text",
    [
        "How do I set env vars in @acme?",
        "Is there a way to pin versions in @acme",
        "anyone on @acme?",
    ],
)
def test_neutral_help_seeking_is_a_question(text):
    label, _, tweet_type = classify_one(text)
    assert (label, tweet_type) == ("neutral", "question")


def test_neutral_mention():
    label, score, tweet_type = classify_one("Migrating our side project to @acme this weekend")
    assert (label, score, tweet_type) == ("neutral", 0.0, "mention")


def test_url_query_string_is_not_a_question():
    assert classify_one("Release notes for @acme v2 https://acme.dev/blog?ref=x")[2] == "mention"


def test_complaint_phrase_wins_over_positive_sentiment():
    assert classify_one("Love the UI but @acme doesn't work with node 22")[2] == "complaint"


@pytest.mark.parametrize(
    ("text", "label"),
    [
        ("the worker process gets killed after 30s", "neutral"),
        ("don't worry about the cast, the compiler inlines it", "neutral"),
        ("No worries!", "positive"),
        ("the app crashes on startup", "negative"),
    ],
)
def test_developer_language(text, label):
    assert classify_one(text)[0] == label


def test_empty_input_gives_empty_typed_frame():
    frame = classify_texts([])
    assert list(frame.columns) == ["sentiment", "sentiment_score", "tweet_type"]
    assert len(frame) == 0
    assert frame["sentiment_score"].dtype == np.float64
    assert frame["sentiment"].dtype == "str" and frame["tweet_type"].dtype == "str"


def test_missing_text_is_a_neutral_mention():
    assert classify_texts([None, ""]).values.tolist() == [["neutral", 0.0, "mention"]] * 2


def test_duplicates_are_scored_once_and_get_identical_rows(monkeypatch):
    analyzer = sentiment._analyzer()
    scored = []

    def counting(text):
        scored.append(text)
        return type(analyzer).polarity_scores(analyzer, text)

    monkeypatch.setattr(analyzer, "polarity_scores", counting)
    texts = ["RT great tool", "why is it so slow?", "RT great tool", "RT great tool"]
    frame = classify_texts(texts)
    assert sorted(scored) == ["RT great tool", "why is it so slow?"]
    assert frame.iloc[0].tolist() == frame.iloc[2].tolist() == frame.iloc[3].tolist()


def test_output_keeps_input_order():
    texts = ["I love it", "it is broken", "what is it?", "a tweet", "I love it", "ugh, worst"]
    forward = classify_texts(texts)
    backward = classify_texts(texts[::-1])
    assert forward.values.tolist() == backward.values.tolist()[::-1]
    assert forward.index.tolist() == list(range(len(texts)))


def test_scores_in_range_and_labels_in_vocabulary():
    texts = [
        "BEST. TOOL. EVER!!! 😍🔥",
        "worst outage ever, everything is broken :(",
        "ok",
        "🙂",
        "?",
    ]
    frame = classify_texts(texts * 3)
    assert frame["sentiment_score"].between(-1, 1).all()
    assert set(frame["sentiment"]) <= set(SENTIMENT_LABELS)
    assert set(frame["tweet_type"]) <= set(TWEET_TYPES)
    assert set(TWEET_TYPE_PRECEDENCE) == set(TWEET_TYPES)


def test_held_out_macro_f1_beats_keyword_baseline():
    if not DATA_DIR.is_dir():
        if os.environ.get("CI") == "true":
            pytest.fail(f"labelled sentiment data missing at {DATA_DIR}")
        pytest.skip(f"labelled sentiment data not found at {DATA_DIR}")
    from devsignal_pipelines.evaluation.sentiment_eval import evaluate

    report = evaluate(DATA_DIR)
    ours = report.rows["ours (dev lexicon + tuned band)"]
    baseline = report.rows["keyword baseline"]
    assert all(o > b for o, b in zip(ours, baseline, strict=True)), report.rows
    # The shipped neutral band must be the one the training split selects.
    assert report.our_band == (sentiment.POSITIVE_THRESHOLD, sentiment.NEGATIVE_THRESHOLD)
