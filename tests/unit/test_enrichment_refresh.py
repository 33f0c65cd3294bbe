"""Which cached enrichment answers are asked again: billed calls only when an answer is due."""

from __future__ import annotations

import pandas as pd
import pytest

from devsignal_pipelines.lib.sources.enrichment.sync import RefreshPolicy, plan

NOW = pd.Timestamp("2026-12-08T00:00:00Z")


def _keys(*domains: str) -> pd.DataFrame:
    return pd.DataFrame({"kind": "company", "raw": list(domains), "lookup_key": list(domains)})


def _cache(rows: list[tuple[str, str, float]]) -> pd.DataFrame:
    """(domain, status, age in days)."""
    return pd.DataFrame(
        {
            "kind": "company",
            "lookup_key": [d for d, _, _ in rows],
            "status": [s for _, s, _ in rows],
            "fetched_at": [NOW - pd.Timedelta(days=a) for _, _, a in rows],
        }
    )


def test_answers_are_asked_again_after_their_statuss_refresh_period() -> None:
    cache = _cache([
        ("found-2d.com", "found", 2), ("found-31d.com", "found", 31),
        ("nf-3d.com", "not_found", 3), ("nf-8d.com", "not_found", 8),
        ("inv-8d.com", "invalid", 8), ("queued.com", "queued", 0.01),
    ])  # fmt: skip
    keys = _keys(*cache["lookup_key"], "new.com")
    lookups, _, hits, _ = plan(keys, cache, RefreshPolicy(), NOW)
    assert sorted(lookup.key for lookup in lookups) == [
        "found-31d.com", "inv-8d.com", "new.com", "nf-8d.com", "queued.com",
    ]  # fmt: skip
    assert hits == 2  # found 2 days ago, not found 3 days ago


def test_the_ttl_is_a_floor_and_the_periods_are_configurable() -> None:
    cache = _cache([("a.com", "found", 0.5), ("b.com", "found", 1.5)])
    policy = RefreshPolicy(found=pd.Timedelta(hours=1))  # shorter than the 24 h TTL
    lookups, *_ = plan(_keys("a.com", "b.com"), cache, policy, NOW)
    assert [lookup.key for lookup in lookups] == ["b.com"]


def test_expected_calls_a_day_in_the_steady_state() -> None:
    statuses = pd.Series(["found"] * 300 + ["not_found"] * 70 + ["queued"] * 2)
    assert RefreshPolicy().calls_per_day(statuses) == pytest.approx(300 / 30 + 70 / 7 + 2)
    # The 24 h TTL alone: every answer once a day.
    daily = RefreshPolicy(found=pd.Timedelta(hours=24), not_found=pd.Timedelta(hours=24))
    assert daily.calls_per_day(statuses) == pytest.approx(372)
