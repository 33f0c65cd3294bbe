"""Every model's rows equal an independent pandas computation from the same generated inputs."""

from __future__ import annotations

import model_references as ref
import pandas as pd
import pytest
from conftest import AS_OF, SCORING_RUNS
from model_frames import assert_same_rows, normalize, read_model


@pytest.fixture(scope="session")
def expected(inputs, project) -> dict[str, pd.DataFrame]:
    v = project.variables
    history = ref.score_history(inputs, v["scoring"], SCORING_RUNS)
    scores = ref.account_scores(history, inputs, v["scoring"])
    return {
        "account_score_history": history,
        "account_scores": scores,
        "signal_trends": ref.signal_trends(inputs, AS_OF),
        "sentiment_daily": ref.sentiment_daily(inputs, AS_OF),
        "account_cohorts": ref.account_cohorts(inputs, AS_OF),
        "signal_funnel": ref.signal_funnel(inputs, v["funnels"], v["funnel_window_days"], AS_OF),
        "tier_movement": ref.tier_movement(history),
        "top_movers": ref.top_movers(history, inputs, v["top_movers"]),
        "source_attribution": ref.source_attribution(inputs, scores, AS_OF),
    }


@pytest.mark.parametrize(
    "name",
    [
        "account_score_history",
        "account_scores",
        "signal_trends",
        "sentiment_daily",
        "account_cohorts",
        "signal_funnel",
        "tier_movement",
        "top_movers",
        "source_attribution",
    ],
)
def test_model_matches_pandas_reference(name, built, project, expected):
    model = project.model(name)
    reference = normalize(expected[name], model)
    assert not reference.empty, (
        f"the generated inputs give {name} no rows: the test would prove nothing"
    )
    assert_same_rows(
        read_model(built, project, name), reference, f"{built.dialect} {model.relation}"
    )


def test_latest_snapshot_is_the_as_of_snapshot(duckdb_built, project, inputs):
    scores = read_model(duckdb_built, project, "account_scores")
    assert (scores["snapshot_at"] == pd.Timestamp(AS_OF)).all()
    assert set(scores["trend"]) == {"RISING", "FALLING", "STABLE"}, (
        "the data should move scores both ways"
    )
    assert set(scores["tier"]) == {"HOT", "WARM", "COLD"}
