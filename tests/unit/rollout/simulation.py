"""A simulated deployment for the rollout controller's decisions, minute by minute.

Stable-path traffic of one endpoint group is drawn for every minute: a request rate with a
daily cycle and noise, split between v3 and v4 by the rollout's current percentage; each
version's errors and server latencies come from distributions that drift over time (the same
drift for both versions unless a regression is planted in v4). Latencies land in the real
histogram buckets (``bistro.monitoring.histogram``, every 8th bucket from 1 ms to 5 s). The
window judged at each evaluation is the last ``monitoring_period`` clipped to the current
step's start, as the controller reads it, and the real state machine decides every
``evaluation_interval``.

Cost: default intervals mean one evaluation per minute for ten simulated days per rollout,
about 16,000 per rollout. Traffic and every window's counts and percentiles are computed for a
whole step at once with numpy; the real ``analyse`` is called for every window that *could*
fail or be inconclusive by the rules it documents (too few requests, v4's error rate over the
threshold or over v3's plus the margin, a v4 p95 or p99 above v3's by the latency threshold,
all with slack). A window that can do none of these is a pass by those rules, and
``test_screened_windows_are_passes`` holds that against ``analyse`` itself on thousands of
windows, healthy and broken alike; ``simulate(check_every=...)`` also runs ``analyse`` on
screened windows as it goes and fails loudly on any disagreement.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import numpy as np
from scipy.signal import lfilter

from bistro.monitoring.histogram import bucket_bounds, bucket_index
from bistro.rollout import machine
from bistro.rollout.analysis import Sample, Thresholds, Verdict, analyse
from bistro.rollout.config import RolloutConfig
from bistro.rollout.controller import FALLBACK_FROM_PERCENTAGE, thresholds_of
from bistro.rollout.machine import Action, State

T0 = datetime(2026, 3, 2, tzinfo=UTC)

_EDGES_US = sorted(
    {bucket_bounds(i)[0] for i in range(bucket_index(1_000), bucket_index(5_000_000), 8)}
)
_INDEX = np.array([bucket_index(e) for e in _EDGES_US[:-1]])
_K = len(_INDEX)
_LOG_UPPER = np.log(np.array(_EDGES_US[1:], dtype=float) / 1e6)
# The latency each simulated bin stands for (its real bucket's midpoint), for the screen.
_MID = np.array([sum(bucket_bounds(int(i))) / 2 for i in _INDEX])


# Per-minute AR(1) drift: correlation time 1 / (1 - PHI) = 200 minutes; stationary standard
# deviation 5 % for latency and 30 % for the error rate.
PHI = 0.995
LATENCY_STEP = 0.05 * math.sqrt(1 - PHI**2)
ERROR_STEP = 0.3 * math.sqrt(1 - PHI**2)


@dataclass
class Regression:
    """What is wrong with v4 (nothing by default)."""

    error_rate: float | None = None  # v4's own 5xx rate instead of the shared one
    latency_factor: float = 1.0  # v4 latencies scaled by this


@dataclass
class Deployment:
    rng: np.random.Generator
    requests_per_minute: float = 300.0  # 5 requests/s on the group at the daily mean
    error_rate: float = 0.005
    v3_error_rate: float | None = None  # v3's own rate (else the shared one)
    median_latency: float = 0.025
    latency_sigma: float = 0.55
    v4: Regression = field(default_factory=Regression)
    _drift: float = 0.0
    _error_drift: float = 0.0

    def block(self, start: int, minutes: int, v4_share: float) -> dict[str, np.ndarray]:
        """``minutes`` minutes of traffic from minute ``start``: per minute and version the
        requests, errors and a latency histogram (``[minutes, bins]``)."""
        rng = self.rng
        t = np.arange(start, start + minutes)
        day = 1.0 + 0.6 * np.sin(2 * np.pi * t / 1440)
        rate = self.requests_per_minute * day * np.exp(0.2 * rng.standard_normal(minutes))
        # Shared conditions that hit both versions alike: latency follows the daily load
        # (+-8 %) and wanders slowly (AR(1), ~5 % standard deviation, correlated over hours);
        # the error rate wanders by ~30 %.
        drift, _ = lfilter([1.0], [1.0, -PHI], LATENCY_STEP * rng.standard_normal(minutes),
                           zi=[PHI * self._drift])  # fmt: skip
        errors_drift, _ = lfilter([1.0], [1.0, -PHI], ERROR_STEP * rng.standard_normal(minutes),
                                  zi=[PHI * self._error_drift])  # fmt: skip
        self._drift, self._error_drift = float(drift[-1]), float(errors_drift[-1])
        shared = np.minimum(0.5, self.error_rate * np.exp(errors_drift))
        drift = drift + 0.08 * np.sin(2 * np.pi * t / 1440)
        total = rng.poisson(rate)
        n4 = rng.binomial(total, v4_share)
        n3 = total - n4
        e3_rate = shared if self.v3_error_rate is None else np.full(minutes, self.v3_error_rate)
        e4_rate = shared if self.v4.error_rate is None else np.full(minutes, self.v4.error_rate)
        out = {
            "n3": n3,
            "n4": n4,
            "e3": rng.binomial(n3, e3_rate),
            "e4": rng.binomial(n4, e4_rate),
        }
        base = math.log(self.median_latency) + drift
        for name, counts, factor in (("h3", n3, 1.0), ("h4", n4, self.v4.latency_factor)):
            minute = np.repeat(np.arange(minutes), counts)
            logs = rng.standard_normal(minute.size) * self.latency_sigma
            logs += base[minute] + math.log(factor)
            slots = np.searchsorted(_LOG_UPPER, logs).clip(0, _K - 1)
            out[name] = np.bincount(minute * _K + slots, minlength=minutes * _K).reshape(
                minutes, _K
            )
        return out


def sample(requests: int, errors: int, counts: np.ndarray) -> Sample:
    nz = np.flatnonzero(counts)
    return Sample(
        requests=int(requests),
        errors_5xx=int(errors),
        histogram=dict(zip(_INDEX[nz].tolist(), counts[nz].tolist(), strict=True)),
    )


def _windows(values: np.ndarray, width: int) -> np.ndarray:
    """Rolling sums over the last ``width`` rows (fewer at the start), row by row."""
    c = np.cumsum(values, axis=0)
    out = c.copy()
    out[width:] -= c[:-width]
    return out


def _quantile_mid(hist: np.ndarray, totals: np.ndarray, q: float) -> np.ndarray:
    """Nearest-rank q-quantile per row, as the bin midpoint (0 where a row is empty)."""
    cum = np.cumsum(hist, axis=1)
    rank = np.maximum(1, np.ceil(q * totals)).astype(np.int64)
    idx = (cum < rank[:, None]).sum(axis=1).clip(0, _K - 1)
    return np.where(totals > 0, _MID[idx], 0.0)


def screen(
    n3: np.ndarray,
    e3: np.ndarray,
    h3: np.ndarray,
    n4: np.ndarray,
    e4: np.ndarray,
    h4: np.ndarray,
    thresholds: Thresholds,
) -> np.ndarray:
    """True for each window that might not be a pass (with slack); see the module docstring."""
    t = thresholds
    with np.errstate(divide="ignore", invalid="ignore"):
        r4 = np.where(n4 > 0, e4 / np.maximum(n4, 1), 0.0)
        r3 = np.where(n3 > 0, e3 / np.maximum(n3, 1), 0.0)
    limit = t.auto_rollback_threshold / 100
    margin = limit / 5
    slack = 0.9  # judge by 90 % of each limit: rounding never hides a failure
    few = (n4 < t.min_requests) | (n3 < t.min_requests)
    errors = (r4 > limit * slack) | (r4 - r3 >= margin * slack)
    latency = np.zeros(len(n4), dtype=bool)
    ratio = 1 + t.performance_degradation_threshold / 100 * slack
    for q in (0.95, 0.99):
        latency |= _quantile_mid(h4, n4, q) > ratio * _quantile_mid(h3, n3, q)
    return few | errors | latency


@dataclass
class Outcome:
    state: State
    decisions: list[tuple[int, Action, float, str]]
    evaluations: int
    analysed: int
    minutes: int

    def count(self, action: Action) -> int:
        return sum(1 for d in self.decisions if d[1] is action)

    @property
    def step_backs(self) -> int:
        return self.count(Action.STEP_BACK)

    @property
    def rollbacks(self) -> int:
        return self.count(Action.EMERGENCY_ROLLBACK)


class ScreenDisagreement(AssertionError):
    """``analyse`` did not pass a window the screen called a pass: the screen is wrong."""


def simulate(
    deployment: Deployment,
    config: RolloutConfig | None = None,
    *,
    max_minutes: int = 60 * 24 * 30,
    stop_on: tuple[Action, ...] = (),
    check_every: int = 0,
) -> Outcome:
    """One rollout from start to its end (or ``max_minutes`` or a ``stop_on`` action)."""
    config = config or RolloutConfig()
    thresholds = thresholds_of(config)
    every = max(1, round(config.evaluation_interval / 60))
    width = max(1, round(config.monitoring_period / 60))
    step_minutes = max(every, round(config.increment_interval / 60))
    progress = machine.start(config, T0).progress
    decisions: list[tuple[int, Action, float, str]] = []
    evaluations = analysed = 0
    # The last v3 window with enough requests (built into a Sample only when used).
    baseline: tuple[int, int, np.ndarray] | None = None
    t = 0  # minutes since the start
    while t < max_minutes and progress.state is State.RUNNING:
        # One step's traffic at its share (a little longer than the step: a step only ends
        # at an evaluation that passes once its interval is up).
        minutes = min(step_minutes + 4 * width, max_minutes - t)
        block = deployment.block(t, minutes, progress.percentage / 100)
        w = {k: _windows(v, width) for k, v in block.items()}
        risky = screen(w["n3"], w["e3"], w["h3"], w["n4"], w["e4"], w["h4"], thresholds)
        step_started = progress.step_started_at
        moved = False
        for m in range(every - 1, minutes, every):
            now = T0 + timedelta(minutes=t + m + 1)
            since = max(now - timedelta(minutes=width), step_started)
            evaluations += 1
            at_top = progress.percentage >= FALLBACK_FROM_PERCENTAGE
            if risky[m] or (check_every and evaluations % check_every == 0):
                fallback = sample(*baseline) if at_top and baseline is not None else None
                result = analyse(
                    sample(w["n4"][m], w["e4"][m], w["h4"][m]),
                    sample(w["n3"][m], w["e3"][m], w["h3"][m]),
                    thresholds,
                    fallback_baseline=fallback,
                )
                analysed += 1
                verdict = result.verdict
                if not risky[m] and verdict is not Verdict.PASS:
                    raise ScreenDisagreement(f"minute {t + m}: {result.reasons}")
                summary = "; ".join(result.reasons)
            else:
                verdict, summary = Verdict.PASS, ""
            if w["n3"][m] >= config.min_requests:
                baseline = (w["n3"][m], w["e3"][m], w["h3"][m].copy())
            decision = machine.evaluate(
                config, progress, verdict, now, window_start=since, summary=summary
            )
            progress = decision.progress
            if decision.action is not Action.HOLD:
                decisions.append((t + m + 1, decision.action, progress.percentage, decision.reason))
            if decision.action in stop_on or progress.state is not State.RUNNING:
                t += m + 1
                moved = True
                break
            if progress.step_started_at != step_started:
                # A new step (or a step back): traffic at the new share, window from here.
                t += m + 1
                moved = True
                break
        if not moved:
            t += minutes
        if decisions and decisions[-1][1] in stop_on:
            break
    return Outcome(progress.state, decisions, evaluations, analysed, t)
