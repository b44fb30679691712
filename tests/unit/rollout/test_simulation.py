"""Whole rollouts, simulated minute by minute with an injected clock and the default intervals
(24 h steps, a 2 h window evaluated every minute, so consecutive windows overlap): the real
analysis and state machine decide on noisy traffic (see ``simulation.py``)."""

from __future__ import annotations

import multiprocessing
from concurrent.futures import ProcessPoolExecutor

import numpy as np
import pytest

from bistro.rollout import machine
from bistro.rollout.analysis import Sample, Thresholds, Verdict, analyse
from bistro.rollout.config import RolloutConfig
from bistro.rollout.machine import Action, Progress, State
from tests.unit.rollout.simulation import (
    T0,
    Deployment,
    Regression,
    _windows,
    sample,
    screen,
    simulate,
)

HEALTHY_ROLLOUTS = 200


def _healthy(seed: int) -> tuple[int, str, int, int, int, int]:
    outcome = simulate(Deployment(np.random.default_rng(seed)), check_every=997)
    return (
        seed,
        outcome.state.value,
        outcome.step_backs,
        outcome.rollbacks,
        outcome.count(Action.PAUSE),
        outcome.evaluations,
    )


@pytest.mark.slow
def test_200_healthy_rollouts_complete_without_a_step_back_or_a_rollback() -> None:
    # Two processes (the machine has two cores); each rollout is ~15,000 evaluations.
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=2, mp_context=context) as pool:
        results = list(pool.map(_healthy, range(HEALTHY_ROLLOUTS), chunksize=10))
    assert len(results) == HEALTHY_ROLLOUTS
    not_completed = [r for r in results if r[1] != "completed"]
    assert not_completed == []
    assert sum(r[2] for r in results) == 0  # step-backs
    assert sum(r[3] for r in results) == 0  # rollbacks
    assert sum(r[4] for r in results) == 0  # pauses
    # Default intervals: ten 24 h steps, evaluated every minute, then two windows at 100 %.
    assert min(r[5] for r in results) >= 10 * 1440


def test_one_healthy_rollout_in_detail() -> None:
    outcome = simulate(Deployment(np.random.default_rng(12345)), check_every=101)
    assert outcome.state is State.COMPLETED
    increments = [d for d in outcome.decisions if d[1] is Action.INCREMENT]
    assert [d[2] for d in increments] == [15, 25, 35, 45, 55, 65, 75, 85, 95, 100]
    # Each step held for its 24 hours (the evaluation right after the interval passes).
    assert [d[0] for d in increments] == [1440 * (i + 1) for i in range(10)]
    assert outcome.decisions[-1][1] is Action.COMPLETE
    # Two non-overlapping 2 h windows at 100 %: at least 2 h after reaching it.
    assert outcome.decisions[-1][0] - increments[-1][0] >= 120


def test_12_percent_against_1_percent_rolls_back_at_the_first_evaluation() -> None:
    deployment = Deployment(
        np.random.default_rng(7),
        requests_per_minute=60_000,  # a busy group: 5 % of it is 3,000 v4 requests a minute
        v3_error_rate=0.01,
        v4=Regression(error_rate=0.12),
    )
    outcome = simulate(deployment, stop_on=(Action.EMERGENCY_ROLLBACK,), max_minutes=60)
    assert outcome.evaluations == 1
    assert [d[1] for d in outcome.decisions] == [Action.EMERGENCY_ROLLBACK]
    assert outcome.state is State.ROLLED_BACK


def test_3_percent_against_0_at_5000_each_is_caught_by_the_comparison() -> None:
    rng = np.random.default_rng(3)
    counts = Deployment(rng).block(0, 120, 0.5)
    latency = _windows(counts["h3"], 120)[-1]
    v4 = Sample(requests=5000, errors_5xx=150, histogram=sample(5000, 0, latency).histogram)
    v3 = Sample(requests=5000, errors_5xx=0, histogram=sample(5000, 0, latency).histogram)
    result = analyse(v4, v3, Thresholds())
    assert result.verdict is Verdict.FAIL_MINOR
    assert result.checks["error_threshold"]["failed"] is False  # 3 % is under the 5 % threshold
    assert result.checks["error_comparison"]["failed"] is True
    (reason,) = result.reasons
    assert "significantly worse than v3's" in reason
    config = RolloutConfig()
    progress = Progress(State.RUNNING, 15.0, 1, T0)
    actions = []
    for minute in range(1, 4):
        now = T0 + np.timedelta64(minute, "m").astype("timedelta64[s]").item()
        d = machine.evaluate(config, progress, result.verdict, now, window_start=T0)
        actions.append(d.action)
        progress = d.progress
    assert actions == [Action.HOLD, Action.HOLD, Action.STEP_BACK]
    assert progress.percentage == 5.0


def test_3_percent_against_0_steps_back_in_a_simulated_rollout() -> None:
    deployment = Deployment(
        np.random.default_rng(11), v3_error_rate=0.0, v4=Regression(error_rate=0.03)
    )
    outcome = simulate(deployment, stop_on=(Action.STEP_BACK,), max_minutes=1440)
    assert outcome.rollbacks == 0
    assert outcome.decisions[-1][1] is Action.STEP_BACK
    assert "significantly worse than v3's" in outcome.decisions[-1][3]


def test_a_40_percent_p95_regression_steps_back() -> None:
    deployment = Deployment(np.random.default_rng(5), v4=Regression(latency_factor=1.4))
    outcome = simulate(deployment, stop_on=(Action.STEP_BACK,), max_minutes=1440)
    assert outcome.rollbacks == 0
    assert outcome.decisions[-1][1] is Action.STEP_BACK
    assert "p95" in outcome.decisions[-1][3]


def test_20_requests_hold() -> None:
    rng = np.random.default_rng(2)
    block = Deployment(rng).block(0, 120, 0.01)
    w = {k: _windows(v, 120)[-1] for k, v in block.items()}
    canary = Sample(requests=20, errors_5xx=0, histogram={2100: 12, 2300: 8})
    result = analyse(canary, sample(w["n3"], w["e3"], w["h3"]), Thresholds())
    assert result.verdict is Verdict.INCONCLUSIVE
    d = machine.evaluate(RolloutConfig(), Progress(State.RUNNING, 5, 0, T0), result.verdict, T0,
                         window_start=T0)  # fmt: skip
    assert d.action is Action.HOLD


@pytest.mark.parametrize("baseline_requests", [1000, 0])
def test_40_requests_with_30_failures_roll_back(baseline_requests: int) -> None:
    canary = Sample(requests=40, errors_5xx=30, histogram={2100: 40})
    baseline = Sample(
        requests=baseline_requests,
        errors_5xx=baseline_requests // 200,
        histogram={2100: baseline_requests} if baseline_requests else {},
    )
    result = analyse(canary, baseline, Thresholds())
    assert result.verdict is Verdict.FAIL_CRITICAL
    d = machine.evaluate(RolloutConfig(), Progress(State.RUNNING, 5, 0, T0), result.verdict, T0,
                         window_start=T0)  # fmt: skip
    assert d.action is Action.EMERGENCY_ROLLBACK


def test_screened_windows_are_passes() -> None:
    """The simulation's shortcut holds against ``analyse`` itself: every window the screen
    calls a pass, healthy or broken, at any size, ``analyse`` passes too."""
    rng = np.random.default_rng(99)
    thresholds = Thresholds()
    screened = checked = 0
    cases = [
        Regression(),
        Regression(error_rate=0.012),
        Regression(error_rate=0.04),
        Regression(latency_factor=1.1),
        Regression(latency_factor=1.25),
        Regression(latency_factor=0.8),
    ]
    for regression in cases:
        for share in (0.02, 0.05, 0.3, 0.9):
            for rate in (60, 300, 3000):
                block = Deployment(rng, requests_per_minute=rate, v4=regression).block(
                    0, 240, share
                )
                w = {k: _windows(v, 120) for k, v in block.items()}
                risky = screen(w["n3"], w["e3"], w["h3"], w["n4"], w["e4"], w["h4"], thresholds)
                for m in range(0, 240, 12):
                    checked += 1
                    if risky[m]:
                        continue
                    screened += 1
                    verdict = analyse(
                        sample(w["n4"][m], w["e4"][m], w["h4"][m]),
                        sample(w["n3"][m], w["e3"][m], w["h3"][m]),
                        thresholds,
                    ).verdict
                    assert verdict is Verdict.PASS, (regression, share, rate, m)
    # The screen must leave most healthy windows to the shortcut, or the simulation is slow,
    # and must flag the rest, or this test proves nothing.
    assert 0.2 * checked < screened < 0.9 * checked
