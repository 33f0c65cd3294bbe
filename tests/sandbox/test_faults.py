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
