"""Classify tweet texts: sentiment, sentiment score and tweet type in one frame, one row per text.

The label vocabularies and the tweet-type precedence are re-exported here so pipeline code and
SQL builders import them from one place. Method and measured accuracy: docs/sentiment.md.
"""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd

from devsignal_pipelines.lib.classify.sentiment import SENTIMENT_LABELS, score_sentiment
from devsignal_pipelines.lib.classify.tweet_type import (
    TWEET_TYPE_PRECEDENCE,
    TWEET_TYPES,
    classify_tweet_type,
)

__all__ = ["SENTIMENT_LABELS", "TWEET_TYPES", "TWEET_TYPE_PRECEDENCE", "classify_texts"]


def classify_texts(texts: Sequence[str]) -> pd.DataFrame:
    """Columns sentiment (str), sentiment_score (float64), tweet_type (str), in input order.

    Each distinct text is classified once and the result fanned out, so retweets cost nothing.
    """
    codes, unique_texts = pd.factorize(pd.Series(list(texts), dtype="str").fillna(""))
    labels, scores = score_sentiment(unique_texts)
    types = classify_tweet_type(unique_texts, labels)
    return pd.DataFrame(
        {
            "sentiment": pd.Series(labels[codes], dtype="str"),
            "sentiment_score": pd.Series(scores[codes], dtype="float64"),
            "tweet_type": pd.Series(types[codes], dtype="str"),
        }
    )
