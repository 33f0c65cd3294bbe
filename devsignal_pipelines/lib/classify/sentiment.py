"""Sentiment of short developer texts (tweets, Stack Overflow posts): positive / negative / neutral.

VADER's rule-based scorer (lexicon, negation, boosters, "but", punctuation) does the work; it needs
no model download and scores ~10-20k short texts a second on one core. On developer text it has two
measurable weaknesses, which this module corrects (evidence: docs/sentiment.md, reproduced by
`python -m devsignal_pipelines.evaluation.sentiment_eval`):

* Its ±0.05 neutral band is far too narrow. Developer prose is full of mildly positive filler
  ("create", "help", "sure", "like") but negative words almost always mean a problem, so the band
  is asymmetric, tuned on the training splits only.
* A few words mean something else to developers: a process gets "killed", "don't worry about the
  cast" is advice, "no worries" answers a thanks; and dev complaint words ("crashes", "bug",
  "slow") are missing from VADER. `DEV_LEXICON` fixes these.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence

import numpy as np
import pandas as pd
from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

SENTIMENT_LABELS = ("negative", "neutral", "positive")

# compound >= POSITIVE_THRESHOLD is positive, compound <= -NEGATIVE_THRESHOLD is negative.
# Tuned by sentiment_eval on the training splits (VADER's own defaults are 0.05 / 0.05).
POSITIVE_THRESHOLD = 0.45
NEGATIVE_THRESHOLD = 0.10

# "no worries" / "no problem" is rewritten to one token before scoring, because VADER reads it as
# a negated negative (about +0.4) while raters read it as the reply to a thanks (clearly positive).
NO_WORRIES_PATTERN = r"(?i)\bno (?:worries|worry|probs?|problems?)\b"
NO_WORRIES_TOKEN = "no_worries"

# Each entry was kept because most training texts containing it carry that polarity (counts are
# printed by sentiment_eval). Valences are copied from the nearest VADER entry, noted per line.
DEV_LEXICON: dict[str, float] = {
    "crashes": -1.7,  # = crash; "crashed"/"crashing" are its inflections
    "crashed": -1.7,
    "crashing": -1.7,
    "bug": -1.4,  # = defect; "buggy" its adjective ("bugs" is mixed in the data, so left out)
    "buggy": -1.4,
    "deprecated": -1.2,  # = obsolete
    "slow": -1.7,  # = sluggish
    "tedious": -1.3,  # = boring
    "fast": 1.8,  # = efficient
    # VADER polarity, but neutral in most developer texts that use them.
    "killed": 0.0,
    "kills": 0.0,
    "worry": 0.0,
    "worried": 0.0,
    NO_WORRIES_TOKEN: 1.9,  # = thanks
}

_BASELINE_POSITIVE = frozenset(
    {
        "good",
        "great",
        "love",
        "awesome",
        "excellent",
        "amazing",
        "nice",
        "thanks",
        "thank",
        "helpful",
        "perfect",
        "fantastic",
        "cool",
        "best",
        "happy",
        "easy",
        "fast",
        "useful",
        "glad",
    }
)
_BASELINE_NEGATIVE = frozenset(
    {
        "bad",
        "hate",
        "terrible",
        "awful",
        "worst",
        "broken",
        "bug",
        "crash",
        "slow",
        "error",
        "fail",
        "wrong",
        "annoying",
        "problem",
        "horrible",
        "sucks",
        "ugly",
        "useless",
        "frustrating",
        "sad",
    }
)


@functools.cache
def _analyzer() -> SentimentIntensityAnalyzer:
    """Built on first use, not at import: reading VADER's lexicon files costs ~0.1 s per process."""
    analyzer = SentimentIntensityAnalyzer()
    analyzer.lexicon.update(DEV_LEXICON)
    return analyzer


def label_scores(
    scores: np.ndarray,
    positive_threshold: float = POSITIVE_THRESHOLD,
    negative_threshold: float = NEGATIVE_THRESHOLD,
) -> np.ndarray:
    """Map compound scores to SENTIMENT_LABELS (object array) with the given neutral band."""
    labels = np.full(len(scores), "neutral", dtype=object)
    labels[scores >= positive_threshold] = "positive"
    labels[scores <= -negative_threshold] = "negative"
    return labels


def score_sentiment(texts: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
    """Label (object array of SENTIMENT_LABELS) and VADER compound score in [-1, 1] per text.

    Identical texts are scored once (retweets repeat their text and scoring is the slow part).
    A missing text scores as the empty string: neutral, 0.0.
    """
    codes, unique_texts = pd.factorize(pd.Series(list(texts), dtype="str").fillna(""))
    prepared = unique_texts.str.replace(NO_WORRIES_PATTERN, NO_WORRIES_TOKEN, regex=True)
    analyzer = _analyzer()
    unique_scores = np.fromiter(
        (analyzer.polarity_scores(text)["compound"] for text in prepared.tolist()),
        dtype=np.float64,
        count=len(prepared),
    )
    scores = unique_scores[codes]
    return label_scores(scores), scores


def baseline_sentiment(texts: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
    """Keyword-count baseline, for the evaluation report only: score (pos - neg) / (pos + neg)."""
    words = pd.Series(list(texts), dtype="str").fillna("").str.lower().str.findall(r"[a-z']+")
    positive = np.array([sum(w in _BASELINE_POSITIVE for w in ws) for ws in words], dtype=float)
    negative = np.array([sum(w in _BASELINE_NEGATIVE for w in ws) for ws in words], dtype=float)
    total = positive + negative
    scores = np.divide(positive - negative, total, out=np.zeros_like(total), where=total > 0)
    labels = np.array(SENTIMENT_LABELS, dtype=object)[np.sign(scores).astype(int) + 1]
    return labels, scores
