"""Fault knobs: the CLI spec form and the deterministic per-request decision."""

from __future__ import annotations

from collections import Counter
from dataclasses import replace

import pytest

from devsignal_pipelines.sandbox.faults import FaultKind, Faults


def test_default_faults_are_off() -> None:
    faults = Faults()
    assert {faults.decide(n).kind for n in range(1, 500)} == {FaultKind.NONE}
    assert (faults.rate_limit, faults.rate_window_s) == (450, 900.0)


def test_spec_parses_every_knob() -> None:
    faults = Faults.from_spec(
        "5xx=0.2,429=0.1:2,slow=0.05:0.25,malformed=0.05,partial=0.1,seed=3,limit=60/30"
    )
    assert faults == Faults(
        rate_limit=60,
        rate_window_s=30.0,
        burst_429_rate=0.1,
        burst_429_reset_s=2.0,
        error_5xx_rate=0.2,
        slow_rate=0.05,
        slow_s=0.25,
        malformed_rate=0.05,
        partial_errors_rate=0.1,
        fault_seed=3,
    )
    assert Faults.from_spec("") == Faults() == Faults.from_spec("none")


@pytest.mark.parametrize(
    "spec", ["5xx", "typo=0.1", "5xx=abc", "5xx=1.5", "5xx=0.6,429=0.6", "limit=0"]
)
def test_bad_specs_are_refused(spec: str) -> None:
    with pytest.raises(ValueError):
        Faults.from_spec(spec)


def test_decisions_depend_only_on_seed_and_request_number() -> None:
    faults = Faults(error_5xx_rate=0.3, burst_429_rate=0.1, malformed_rate=0.1, fault_seed=11)
    first = [faults.decide(n).kind for n in range(1, 2001)]
    assert first == [faults.decide(n).kind for n in range(1, 2001)]
    reseeded = replace(faults, fault_seed=12)
    assert first != [reseeded.decide(n).kind for n in range(1, 2001)]
    shares = Counter(first)
    assert 0.25 < shares[FaultKind.ERROR_5XX] / 2000 < 0.35
    assert 0.07 < shares[FaultKind.BURST_429] / 2000 < 0.13


def test_stack_exchange_knobs_parse_and_default_to_the_real_api() -> None:
    assert (Faults().backoff_rate, Faults().backoff_s) == (0.05, 2)
    assert (Faults().se_quota, Faults().se_quota_anonymous) == (10_000, 300)
    faults = Faults.from_spec("backoff=0.5:3,quota=50/5,5xx=0.1")
    assert faults == Faults(
        backoff_rate=0.5, backoff_s=3, se_quota=50, se_quota_anonymous=5, error_5xx_rate=0.1
    )
    assert Faults.from_spec("backoff=0").backoff_rate == 0.0
    assert Faults.from_spec("quota=7").se_quota_anonymous == 300


@pytest.mark.parametrize("spec", ["backoff=1.5", "backoff=0.1:0", "backoff=0.1:1.5", "quota=0"])
def test_bad_stack_exchange_specs_are_refused(spec: str) -> None:
    with pytest.raises(ValueError):
        Faults.from_spec(spec)


def test_backoff_is_deterministic_and_independent_of_the_other_faults() -> None:
    faults = Faults(backoff_rate=0.2, backoff_s=2, fault_seed=4)
    draws = [faults.backoff(n) for n in range(1, 2001)]
    assert draws == [faults.backoff(n) for n in range(1, 2001)]
    assert set(draws) == {None, 1, 2}
    assert 0.16 < sum(d is not None for d in draws) / 2000 < 0.24
    noisy = replace(faults, error_5xx_rate=0.5)
    assert [noisy.backoff(n) for n in range(1, 2001)] == draws
    assert {Faults(backoff_rate=0.0).backoff(n) for n in range(1, 200)} == {None}
    assert {Faults(backoff_rate=1.0, backoff_s=1).backoff(n) for n in range(1, 200)} == {1}
