"""Held-out evaluation of the sentiment classifier against a keyword baseline and plain VADER.

    python -m devsignal_pipelines.evaluation.sentiment_eval [--data-dir PATH]

Each labelled set (see PROVENANCE.md in the data dir) is split 70/30, stratified, with a fixed seed.
The neutral band is tuned on the training parts only and every reported number is macro-F1 on the
held-out parts. The tuned band is printed next to the one shipped in lib/classify/sentiment.py, so a change
to the lexicon that moves the optimum shows up here. The last table is the training-split evidence
behind each DEV_LEXICON entry.
"""

from __future__ import annotations

import argparse
import csv
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

from devsignal_pipelines.lib.classify.sentiment import (
    DEV_LEXICON,
    NEGATIVE_THRESHOLD,
    NO_WORRIES_PATTERN,
    NO_WORRIES_TOKEN,
    POSITIVE_THRESHOLD,
    SENTIMENT_LABELS,
    baseline_sentiment,
    label_scores,
    score_sentiment,
)

DEFAULT_DATA_DIR = Path(__file__).resolve().parents[3] / "shared" / "datasets" / "sentiment"
HELD_OUT_FRACTION = 0.3
SPLIT_SEED = 13  # the split the lexicon was developed on; its held-out part was never inspected
THRESHOLD_GRID = np.round(np.arange(0.05, 0.701, 0.05), 2)
# Mean human rating (-4..+4) to class; the mapping PROVENANCE.md suggests.
TWEET_RATING_CUTOFF = 0.5


@dataclass(frozen=True)
class LabelledSet:
    name: str
    texts: list[str]
    labels: np.ndarray
    held_out: np.ndarray

    def part(self, held_out: bool) -> tuple[list[str], np.ndarray]:
        mask = self.held_out == held_out
        return [t for t, keep in zip(self.texts, mask, strict=True) if keep], self.labels[mask]


def load_senti4sd(path: Path) -> tuple[list[str], np.ndarray]:
    """`id;label;text`, CRLF, texts quoted (with "" escapes) when they contain quotes or `;`."""
    with path.open(encoding="utf-8-sig", newline="") as f:
        rows = [row for row in csv.reader(f, delimiter=";") if row]
    bad = [row[0] for row in rows if len(row) != 3 or row[1] not in SENTIMENT_LABELS]
    if bad:
        raise ValueError(f"{path.name}: {len(bad)} malformed rows, first ids {bad[:5]}")
    return [row[2] for row in rows], np.array([row[1] for row in rows], dtype=object)


def load_vader_tweets(path: Path) -> tuple[list[str], np.ndarray]:
    """`id<TAB>mean rating<TAB>text`; mean > 0.5 positive, < -0.5 negative, else neutral."""
    texts, ratings = [], []
    with path.open(encoding="utf-8") as f:
        for line in filter(str.strip, f):
            _, rating, text = line.rstrip("\r\n").split("\t", 2)
            texts.append(text)
            ratings.append(float(rating))
    rating = np.array(ratings)
    labels = np.select(
        [rating > TWEET_RATING_CUTOFF, rating < -TWEET_RATING_CUTOFF],
        ["positive", "negative"],
        "neutral",
    )
    return texts, labels.astype(object)


def stratified_held_out(labels: np.ndarray, fraction: float, seed: int) -> np.ndarray:
    """Boolean mask: a seeded random `fraction` of each class is held out."""
    rng = np.random.default_rng(seed)
    held_out = np.zeros(len(labels), dtype=bool)
    for label in SENTIMENT_LABELS:
        members = rng.permutation(np.flatnonzero(labels == label))
        held_out[members[: round(fraction * len(members))]] = True
    return held_out


def load_sets(data_dir: Path) -> list[LabelledSet]:
    sets = []
    for name, loader, file in (
        ("Senti4SD (Stack Overflow)", load_senti4sd, "senti4sd_train_3098.csv"),
        ("VADER tweets", load_vader_tweets, "vader_tweets_ground_truth.tsv"),
    ):
        texts, labels = loader(data_dir / file)
        held_out = stratified_held_out(labels, HELD_OUT_FRACTION, SPLIT_SEED)
        sets.append(LabelledSet(name, texts, labels, held_out))
    return sets


def macro_f1(gold: np.ndarray, predicted: np.ndarray) -> float:
    """Unweighted mean of per-class F1 over SENTIMENT_LABELS (a class never hit scores 0)."""
    f1s = []
    for label in SENTIMENT_LABELS:
        tp = np.sum((gold == label) & (predicted == label))
        fp_fn = np.sum((gold == label) != (predicted == label))
        f1s.append(2 * tp / (2 * tp + fp_fn) if tp else 0.0)
    return float(np.mean(f1s))


def tune_band(scores: list[np.ndarray], gold: list[np.ndarray]) -> tuple[float, float]:
    """(positive, negative) thresholds on THRESHOLD_GRID maximising mean macro-F1 over the sets."""
    candidates = [(p, n) for p in THRESHOLD_GRID for n in THRESHOLD_GRID]
    fitness = [
        np.mean([macro_f1(g, label_scores(s, p, n)) for s, g in zip(scores, gold, strict=True)])
        for p, n in candidates
    ]
    positive, negative = candidates[int(np.argmax(fitness))]
    return float(positive), float(negative)


@dataclass(frozen=True)
class Report:
    set_names: list[str]
    rows: dict[str, list[float]]  # method -> held-out macro-F1 per set
    vader_band: tuple[float, float]
    our_band: tuple[float, float]
    evidence: pd.DataFrame


def evaluate(data_dir: Path = DEFAULT_DATA_DIR) -> Report:
    """Tune each scorer's band on the training parts, then score every method on the held-out parts."""
    sets = load_sets(data_dir)
    vader = SentimentIntensityAnalyzer()

    def vader_compound(texts: list[str]) -> np.ndarray:
        return np.array([vader.polarity_scores(t)["compound"] for t in texts])

    train = [s.part(held_out=False) for s in sets]
    test = [s.part(held_out=True) for s in sets]
    train_gold = [labels for _, labels in train]
    vader_band = tune_band([vader_compound(texts) for texts, _ in train], train_gold)
    our_band = tune_band([score_sentiment(texts)[1] for texts, _ in train], train_gold)

    rows: dict[str, list[float]] = {}
    for texts, gold in test:
        compound = vader_compound(texts)
        predictions = {
            "keyword baseline": baseline_sentiment(texts)[0],
            "VADER, default band ±0.05": label_scores(compound, 0.05, 0.05),
            "VADER, tuned band": label_scores(compound, *vader_band),
            "ours (dev lexicon + tuned band)": score_sentiment(texts)[0],
        }
        for name, predicted in predictions.items():
            rows.setdefault(name, []).append(macro_f1(gold, predicted))
    names = [f"{s.name}, held-out n={s.held_out.sum()}" for s in sets]
    return Report(names, rows, vader_band, our_band, lexicon_evidence(train))


def lexicon_evidence(train: list[tuple[list[str], np.ndarray]]) -> pd.DataFrame:
    """Gold-label counts of the training texts containing each DEV_LEXICON entry (both sets)."""
    texts = pd.Series([t for texts, _ in train for t in texts], dtype="str")
    gold = np.concatenate([labels for _, labels in train])
    counts = {}
    for entry, valence in DEV_LEXICON.items():
        pattern = NO_WORRIES_PATTERN if entry == NO_WORRIES_TOKEN else rf"(?i)\b{entry}\b"
        hit = texts.str.contains(pattern).to_numpy(bool)
        counts[entry] = {"valence": valence} | {
            lab: int(np.sum(gold[hit] == lab)) for lab in SENTIMENT_LABELS
        }
    return pd.DataFrame.from_dict(counts, orient="index")


def format_report(report: Report) -> str:
    header = "| method | " + " | ".join(report.set_names) + " |"
    lines = [header, "|---" * (len(report.set_names) + 1) + "|"]
    lines += [
        f"| {name} | " + " | ".join(f"{f1:.3f}" for f1 in f1s) + " |"
        for name, f1s in report.rows.items()
    ]
    lines += [
        "",
        f"Neutral band tuned on the training splits: VADER {report.vader_band}, "
        f"ours {report.our_band}; shipped {(POSITIVE_THRESHOLD, NEGATIVE_THRESHOLD)}.",
        "",
        "DEV_LEXICON evidence (training texts containing the entry, by gold label):",
        "",
        "| entry | valence | negative | neutral | positive |",
        "|---|---|---|---|---|",
    ]
    lines += [
        f"| {row.Index} | {row.valence:+.1f} | {row.negative} | {row.neutral} | {row.positive} |"
        for row in report.evidence.itertuples()
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", type=Path, default=DEFAULT_DATA_DIR)
    args = parser.parse_args(argv)
    print(format_report(evaluate(args.data_dir)))


if __name__ == "__main__":
    main()
