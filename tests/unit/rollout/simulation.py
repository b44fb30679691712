"""A simulated deployment for the rollout controller's decisions, minute by minute.

Stable-path traffic of one endpoint group is drawn every minute: a request rate with a daily
cycle and noise, split between v3 and v4 by the rollout's current percentage; each version's
errors and server latencies are drawn from a distribution that drifts over time (the same
drift for both versions unless a regression is planted in v4). Latencies land in the real
histogram buckets (``bistro.monitoring.histogram``). The window the controller judges is the
last ``monitoring_period`` clipped to the current step's start, exactly as the controller
reads it, and every minute the real ``analyse`` and the real state machine decide.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np

from bistro.monitoring.histogram import bucket_bounds, bucket_index
from bistro.rollout import machine
from bistro.rollout.analysis import Sample, Thresholds, Verdict, analyse
from bistro.rollout.config import RolloutConfig
from bistro.rollout.controller import FALLBACK_FROM_PERCENTAGE, thresholds_of
from bistro.rollout.machine import Action, State

T0 = datetime(2026, 3, 2, tzinfo=UTC)

# The simulated latencies land in every 8th real bucket between 1 ms and 5 s (≈ 440 buckets,
# each still within 8 % of its neighbours): drawing a minute's histogram is one multinomial.
_EDGES_US = sorted(
    {bucket_bounds(i)[0] for i in range(bucket_index(1_000), bucket_index(5_000_000), 8)}
)
_INDEX = np.array([bucket_index(e) for e in _EDGES_US[:-1]])
_LOG_UPPER = np.log(np.array(_EDGES_US[1:], dtype=float) / 1e6)


@dataclass
class Regression:
    """What is wrong with v4 (nothing by default)."""

    error_rate: float | None = None  # v4's own 5xx rate instead of the shared one
    latency_factor: float = 1.0  # v4 latencies scaled by this


@dataclass
class Deployment:
    rng: np.random.Generator
    requests_per_minute: float = 600.0  # 10 requests/s on the group at the daily mean
    error_rate: float = 0.005
    median_latency: float = 0.025
    latency_sigma: float = 0.55
    v4: Regression = field(default_factory=Regression)
    _drift: float = 0.0
    _error_drift: float = 0.0

    def minute(self, t: int, v4_share: float) -> tuple[tuple[int, int, np.ndarray], ...]:
        """(requests, errors, histogram counts) for v3 then v4 in minute ``t``."""
        rng = self.rng
        # Shared conditions: a daily cycle, noise, and slow drifts (AR(1)) in latency and
        # error rate that hit both versions alike.
        day = 1.0 + 0.6 * math.sin(2 * math.pi * t / 1440)
        rate = self.requests_per_minute * day * math.exp(0.2 * rng.standard_normal())
        self._drift = 0.98 * self._drift + 0.03 * rng.standard_normal()
        self._error_drift = 0.98 * self._error_drift + 0.05 * rng.standard_normal()
        shared_error = min(0.5, self.error_rate * math.exp(self._error_drift))
        total = int(rng.poisson(rate))
        n4 = int(rng.binomial(total, v4_share))
        n3 = total - n4
        # Log-latencies of every request this minute; v4's scaled by its regression factor.
        logs = rng.standard_normal(total) * self.latency_sigma
        logs += math.log(self.median_latency) + self._drift
        logs[n3:] += math.log(self.v4.latency_factor)
        slots = np.searchsorted(_LOG_UPPER, logs).clip(0, len(_INDEX) - 1)
        e4 = self.v4.error_rate if self.v4.error_rate is not None else shared_error
        return (
            (
                n3,
                int(rng.binomial(n3, shared_error)),
                np.bincount(slots[:n3], minlength=len(_INDEX)),
            ),
            (n4, int(rng.binomial(n4, e4)), np.bincount(slots[n3:], minlength=len(_INDEX))),
        )


def _sample(n: int, errors: int, counts: np.ndarray) -> Sample:
    nz = np.flatnonzero(counts)
    return Sample(
        requests=n,
        errors_5xx=errors,
        histogram=dict(zip(_INDEX[nz].tolist(), counts[nz].tolist(), strict=True)),
    )


@dataclass
class Outcome:
    state: State
    decisions: list[tuple[int, Action, float, str]]
    evaluations: int
    minutes: int

    def count(self, action: Action) -> int:
        return sum(1 for d in self.decisions if d[1] is action)

    @property
    def step_backs(self) -> int:
        return self.count(Action.STEP_BACK)

    @property
    def rollbacks(self) -> int:
        return self.count(Action.EMERGENCY_ROLLBACK)


def simulate(
    deployment: Deployment,
    config: RolloutConfig | None = None,
    *,
    max_minutes: int = 60 * 24 * 40,
    until_first: tuple[Action, ...] = (),
) -> Outcome:
    """Run one rollout to its end (or ``max_minutes``), evaluating every
    ``evaluation_interval`` (whole minutes) over the clipped window."""
    config = config or RolloutConfig()
    thresholds: Thresholds = thresholds_of(config)
    every = max(1, round(config.evaluation_interval / 60))
    window_minutes = max(1, round(config.monitoring_period / 60))
    progress = machine.start(config, T0).progress
    window: deque[Any] = deque()
    sums = [
        0,
        0,
        np.zeros(len(_INDEX), dtype=np.int64),
        0,
        0,
        np.zeros(len(_INDEX), dtype=np.int64),
    ]
    baseline: Sample | None = None
    decisions: list[tuple[int, Action, float, str]] = []
    evaluations = 0
    step_started = progress.step_started_at
    t = 0
    while t < max_minutes and progress.state is State.RUNNING:
        v3, v4 = deployment.minute(t, progress.percentage / 100)
        entry = (*v3, *v4)
        window.append(entry)
        for i, value in enumerate(entry):
            sums[i] = sums[i] + value
        while len(window) > window_minutes:
            old = window.popleft()
            for i, value in enumerate(old):
                sums[i] = sums[i] - value
        t += 1
        if t % every:
            continue
        now = T0 + timedelta(minutes=t)
        since = max(now - timedelta(minutes=len(window)), step_started)
        base = _sample(sums[0], sums[1], sums[2])
        canary = _sample(sums[3], sums[4], sums[5])
        fallback = baseline if progress.percentage >= FALLBACK_FROM_PERCENTAGE else None
        analysis = analyse(canary, base, thresholds, fallback_baseline=fallback)
        evaluations += 1
        if base.requests >= config.min_requests:
            baseline = base
        decision = machine.evaluate(
            config,
            progress,
            analysis.verdict,
            now,
            window_start=since,
            summary="; ".join(analysis.reasons),
        )
        if decision.action is not Action.HOLD:
            decisions.append((t, decision.action, decision.progress.percentage, decision.reason))
        if decision.progress.step_started_at != step_started:
            # A new step: the window starts again from here (clipped to the step's start).
            step_started = decision.progress.step_started_at
            window.clear()
            sums = [
                0,
                0,
                np.zeros(len(_INDEX), dtype=np.int64),
                0,
                0,
                np.zeros(len(_INDEX), dtype=np.int64),
            ]
        progress = decision.progress
        if decision.action in until_first:
            break
    return Outcome(progress.state, decisions, evaluations, t)


def verdict_of(
    deployment: Deployment, v4_share: float, minutes: int, config: RolloutConfig
) -> Verdict:
    """The verdict on ``minutes`` of traffic at a fixed share (one window)."""
    sums = [
        0,
        0,
        np.zeros(len(_INDEX), dtype=np.int64),
        0,
        0,
        np.zeros(len(_INDEX), dtype=np.int64),
    ]
    for t in range(minutes):
        v3, v4 = deployment.minute(t, v4_share)
        for i, value in enumerate((*v3, *v4)):
            sums[i] = sums[i] + value
    return analyse(
        _sample(sums[3], sums[4], sums[5]),
        _sample(sums[0], sums[1], sums[2]),
        thresholds_of(config),
    ).verdict
