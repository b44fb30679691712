"""Canary analysis: is v4 (the canary) worse than v3 (the baseline) in the same window?

``analyse`` is pure: two window samples (and optionally an older baseline and parity counts) in,
one verdict with every number behind it out. The controller calls it every evaluation interval
over overlapping windows for days, so the design goal is asymmetric: real regressions must be
caught, but a healthy rollout must essentially never fail a check. A test run at its nominal
alpha on every overlapping window would step a healthy rollout back several times per rollout;
that is why every "minor" failure needs a practical margin *inside* the test (the data must show
v4 worse by more than the margin, not merely worse), not just a significant p-value.

Checks, in order of precedence (fail_critical > fail_minor > inconclusive > pass):

* **Critical** (no ``min_requests``): v4's 5xx rate is at least twice ``auto_rollback_threshold``
  and significantly worse at ``significance``: significantly above the threshold rate by a
  one-sided exact binomial test, and, when there is a usable baseline, significantly above v3 by
  a one-sided Fisher exact test, which stays exact with empty cells, so a v3 at 0 % makes v4's
  errors stand out rather than look fine. Both tests are exact, so 40 requests of which 30 failed
  are enough, and 20 healthy ones are not. Fisher alone is not enough: against a large v3 at 2 %
  it calls 3 failures in 22 requests significant, which a healthy 2 % service shows in about 1 %
  of such windows, and the first windows of every step are that small. For the same reason a
  critical verdict needs ``CRITICAL_MIN_ERRORS`` errors (4 of 4 failing is not yet a rollback).
* **Baseline**: the current v3 window when it has ``min_requests``; otherwise
  ``fallback_baseline`` (the last v3 window that had enough, which the controller passes when v4
  carries nearly all traffic) when it has; otherwise none, and comparisons cannot be made.
* **Inconclusive**: v4 below ``min_requests`` (unless critical); no usable baseline (v4 may still
  fail the absolute threshold); latency histograms below ``min_requests``; parity configured and
  given with fewer than ``min_requests`` comparisons.
* **Error threshold** (needs only v4's ``min_requests``): v4's 5xx rate above
  ``auto_rollback_threshold`` *beyond sampling noise* (one-sided exact binomial test against the
  threshold rate). A bare "rate > 5 %" would fail a healthy 2 % service at 100 requests in one
  window out of 60 (6 errors in 100 is that common).
* **Error comparison**: v4 significantly worse than the baseline (one-sided Fisher exact test;
  a pooled two-proportion z test once both sides have ``Z_MIN_REQUESTS`` requests and every
  expected cell count is at least ``Z_MIN_EXPECTED``, where the normal approximation is accurate
  and Fisher's cost grows with the counts) *and* worse by more than the margin, a fifth of
  ``auto_rollback_threshold`` (1 percentage point by default). The margin is tested, not just
  observed: v4's errors against v3's one-sided Clopper-Pearson upper bound plus the margin, by an
  exact binomial test. An observed difference over 1 point together with a significant plain
  test fails a healthy window of 1,000 requests a side at about the test's alpha; the tested
  margin does not, while 3 % vs 0 % at 5,000 requests each is rejected at p < 1e-10.
* **Latency**: p50/p95/p99 of both sides from the histograms. A failure needs v4's p95 or p99
  above v3's by more than ``performance_degradation_threshold`` percent, that breach significant
  in itself, and evidence of a shift. The breach test uses "v4's p95 exceeds 1.2 x v3's" being
  exactly "more than 5 % of v4 is slower than 1.2 x v3's p95": the share of v4 slower than
  ``1 + threshold`` times v3's quantile (its distribution-free upper confidence bound, so a small
  v3 sample cannot make v4 look slow) is tested against 5 % (1 % for p99) by an exact binomial
  test, and judged once v4 expects ``MIN_TAIL_REQUESTS`` requests in that tail (a percentile of
  a dozen tail requests swings by multiples when the tail is a separate slow mode, such as
  cache misses). The evidence of a shift is either the share of v4 strictly slower than v3's
  p95 bucket, by a one-sided binomial test against the expected 5 %, or a Mann-Whitney U of v4
  against v3 from bin counts (tie-corrected, normal approximation, one-sided "v4 slower"). A
  significant but small shift (Mann-Whitney alone) is reported, not failed.
* **Parity** (when ``max_parity_mismatch_rate`` is set and parity counts are given): fewer than
  ``min_requests`` comparisons is inconclusive; a mismatch rate above the maximum fails minor.

Every number is in ``Analysis.checks``. The statistics live in ``bistro.rollout.stats``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from bistro.monitoring.histogram import MAX_INDEX, bucket_bounds, bucket_index, decode, encode
from bistro.rollout.stats import (
    BinnedLatency,
    binomial_greater,
    fisher_greater,
    mann_whitney_greater,
    quantile_upper_rank,
    rate_upper_bound,
    two_proportion_z,
)

# See the module docstring: the fewest errors that can make a window critical.
CRITICAL_MIN_ERRORS = 5
# Above this size on both sides (and expected cells >= Z_MIN_EXPECTED) the z test replaces Fisher.
Z_MIN_REQUESTS = 1000
Z_MIN_EXPECTED = 10.0
# The expected share of v4 slower than v3's p95 (or p99) when both come from one distribution.
TAILS = {"p95": 0.05, "p99": 0.01}
# A quantile comparison is judged once v4 is expected to have this many requests in the tail.
MIN_TAIL_REQUESTS = 20


class Verdict(StrEnum):
    PASS = "pass"
    FAIL_MINOR = "fail_minor"
    FAIL_CRITICAL = "fail_critical"
    INCONCLUSIVE = "inconclusive"


_RANK = {Verdict.PASS: 0, Verdict.INCONCLUSIVE: 1, Verdict.FAIL_MINOR: 2, Verdict.FAIL_CRITICAL: 3}


@dataclass(frozen=True, slots=True)
class Sample:
    """One version's stable-path traffic of one endpoint group in the window."""

    requests: int  # server-caused outcomes only (client aborts already excluded)
    errors_5xx: int
    histogram: Mapping[int, int] = field(default_factory=dict)  # bucket index -> count
    # The sorted view of the histogram (built once, in __post_init__).
    _latency: BinnedLatency | None = field(default=None, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if not 0 <= self.errors_5xx <= self.requests:
            raise ValueError(
                f"a sample needs 0 <= errors_5xx <= requests, got {self.errors_5xx} "
                f"errors in {self.requests} requests"
            )
        # The sorted view is needed by every analysis of the sample: build it once, here, and
        # validate the buckets on its arrays (sorted, so the edges are the first and last).
        view = BinnedLatency(self.histogram)
        object.__setattr__(self, "_latency", view)
        if len(view.indexes) and (
            view.indexes[0] < 0 or view.indexes[-1] > MAX_INDEX or view.counts.min() < 0
        ):
            bad = {i: c for i, c in self.histogram.items() if not 0 <= i <= MAX_INDEX or c < 0}
            raise ValueError(f"bad histogram buckets {bad}")

    def latency(self) -> BinnedLatency:
        assert self._latency is not None  # set in __post_init__
        return self._latency

    @property
    def error_rate(self) -> float:
        return self.errors_5xx / self.requests if self.requests else 0.0

    def to_dict(self) -> dict[str, Any]:
        return {
            "requests": self.requests,
            "errors_5xx": self.errors_5xx,
            "histogram": encode(self.histogram),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Sample:
        try:
            return cls(
                requests=int(data["requests"]),
                errors_5xx=int(data["errors_5xx"]),
                histogram=decode(data.get("histogram")),
            )
        except (KeyError, TypeError, AttributeError) as error:
            raise ValueError(f"not a stored sample: {error!r}") from error


@dataclass(frozen=True, slots=True)
class ParitySample:
    compared: int
    mismatched: int

    def __post_init__(self) -> None:
        if not 0 <= self.mismatched <= self.compared:
            raise ValueError(
                f"parity needs 0 <= mismatched <= compared, got {self.mismatched} "
                f"of {self.compared}"
            )


@dataclass(frozen=True, slots=True)
class Thresholds:
    auto_rollback_threshold: float = 5.0  # v4 5xx %, percent
    performance_degradation_threshold: float = 20.0  # v4 p95/p99 over v3's, percent
    min_requests: int = 100  # per version in the window
    significance: float = 0.01
    max_parity_mismatch_rate: float | None = None  # fraction 0..1

    def __post_init__(self) -> None:
        # Plain floats (a numpy float would make numpy booleans, which JSON refuses).
        for name in (
            "auto_rollback_threshold",
            "performance_degradation_threshold",
            "significance",
        ):
            object.__setattr__(self, name, float(getattr(self, name)))
        problems = []
        if not 0 < self.auto_rollback_threshold <= 50:
            problems.append("auto_rollback_threshold must be above 0 and at most 50 (percent)")
        if not self.performance_degradation_threshold > 0:
            problems.append("performance_degradation_threshold must be above 0 (percent)")
        if self.min_requests < 1:
            problems.append("min_requests must be at least 1")
        if not 0 < self.significance < 0.5:
            problems.append("significance must be between 0 and 0.5")
        rate = self.max_parity_mismatch_rate
        if rate is not None and not 0 <= rate <= 1:
            problems.append("max_parity_mismatch_rate must be between 0 and 1")
        if problems:
            raise ValueError("; ".join(problems))

    def to_dict(self) -> dict[str, Any]:
        return {
            "auto_rollback_threshold": self.auto_rollback_threshold,
            "performance_degradation_threshold": self.performance_degradation_threshold,
            "min_requests": self.min_requests,
            "significance": self.significance,
            "max_parity_mismatch_rate": self.max_parity_mismatch_rate,
        }


@dataclass(frozen=True)
class Analysis:
    verdict: Verdict
    reasons: list[str]
    checks: dict[str, Any]

    def to_dict(self) -> dict[str, Any]:
        return {"verdict": self.verdict.value, "reasons": list(self.reasons), "checks": self.checks}


class _Outcome:
    """Collects each check's verdict and sentence; the worst verdict wins."""

    def __init__(self) -> None:
        self.verdict = Verdict.PASS
        self.reasons: list[str] = []

    def add(self, verdict: Verdict, reason: str) -> None:
        self.reasons.append(reason)
        if _RANK[verdict] > _RANK[self.verdict]:
            self.verdict = verdict


def analyse(
    canary: Sample,
    baseline: Sample,
    thresholds: Thresholds,
    *,
    fallback_baseline: Sample | None = None,
    parity: ParitySample | None = None,
) -> Analysis:
    """Judge v4 (``canary``) against v3 (``baseline``) of one window; see the module docstring."""
    alpha = thresholds.significance
    threshold = thresholds.auto_rollback_threshold
    outcome = _Outcome()
    reference, used = _choose_baseline(baseline, fallback_baseline, thresholds.min_requests)
    checks: dict[str, Any] = {
        "thresholds": thresholds.to_dict(),
        "canary": _describe(canary),
        "baseline": _describe(baseline),
        "fallback_baseline": _describe(fallback_baseline)
        if fallback_baseline is not None
        else None,
        "baseline_used": used,
    }
    above_threshold = binomial_greater(canary.errors_5xx, canary.requests, threshold / 100)
    checks["critical"] = _critical(canary, reference, threshold, alpha, above_threshold, outcome)

    if canary.requests < thresholds.min_requests:
        outcome.add(
            Verdict.INCONCLUSIVE,
            f"v4 has {canary.requests} requests in the window, fewer than the "
            f"{thresholds.min_requests} needed",
        )
    else:
        checks["error_threshold"] = _error_threshold(
            canary, threshold, alpha, above_threshold, outcome
        )
        if reference is None:
            outcome.add(
                Verdict.INCONCLUSIVE,
                f"v3 has {baseline.requests} requests in the window, fewer than the "
                f"{thresholds.min_requests} needed, and no earlier v3 window to compare with",
            )
        else:
            checks["error_comparison"] = _error_comparison(
                canary, reference, threshold, alpha, outcome
            )
            checks["latency"] = _latency(canary.latency(), reference.latency(), thresholds, outcome)

    if thresholds.max_parity_mismatch_rate is not None and parity is not None:
        checks["parity"] = _parity(parity, thresholds, outcome)

    return Analysis(verdict=outcome.verdict, reasons=outcome.reasons, checks=checks)


def _choose_baseline(
    baseline: Sample, fallback: Sample | None, min_requests: int
) -> tuple[Sample | None, str | None]:
    if baseline.requests >= min_requests:
        return baseline, "current"
    if fallback is not None and fallback.requests >= min_requests:
        return fallback, "fallback"
    return None, None


def _critical(
    canary: Sample,
    reference: Sample | None,
    threshold: float,
    alpha: float,
    above_threshold: float,
    outcome: _Outcome,
) -> dict[str, Any]:
    limit = 2 * threshold
    errors, requests = canary.errors_5xx, canary.requests
    gate = (
        errors >= CRITICAL_MIN_ERRORS
        and errors * 100 >= limit * requests
        and above_threshold < alpha
    )
    # Fisher's test costs a few hundred microseconds: only when the cheap gate has passed.
    fisher = None
    if gate and reference is not None:
        fisher = fisher_greater(errors, requests, reference.errors_5xx, reference.requests)
    failed = gate and (fisher is None or fisher < alpha)
    if failed:
        against = "" if fisher is None else f", Fisher vs v3 p = {fisher:.3g}"
        outcome.add(
            Verdict.FAIL_CRITICAL,
            f"v4 5xx rate {_pct(canary.error_rate)} ({errors} of {requests}) is at least "
            f"{limit:g} % and significantly worse (binomial vs {threshold:g} % p = "
            f"{above_threshold:.3g}{against}; < {alpha:g})",
        )
    return {
        "rate_limit_percent": limit,
        "min_errors": CRITICAL_MIN_ERRORS,
        "binomial_p_value": above_threshold,
        "fisher_p_value": fisher,
        "failed": failed,
    }


def _error_threshold(
    canary: Sample, threshold: float, alpha: float, p_value: float, outcome: _Outcome
) -> dict[str, Any]:
    over = canary.errors_5xx * 100 > threshold * canary.requests
    failed = over and p_value < alpha
    if failed:
        outcome.add(
            Verdict.FAIL_MINOR,
            f"v4 5xx rate {_pct(canary.error_rate)} ({canary.errors_5xx} of {canary.requests}) "
            f"is above the {threshold:g} % threshold (binomial p = {p_value:.3g} < {alpha:g})",
        )
    return {"threshold_percent": threshold, "p_value": p_value, "over": over, "failed": failed}


def _error_comparison(
    canary: Sample, reference: Sample, threshold: float, alpha: float, outcome: _Outcome
) -> dict[str, Any]:
    margin = threshold / 5 / 100
    e1, n1, e2, n2 = canary.errors_5xx, canary.requests, reference.errors_5xx, reference.requests
    # The margin test: v4's errors against the highest rate v3 plausibly has (its one-sided
    # Clopper-Pearson bound at 1 - alpha) plus the margin, by an exact binomial test.
    bound = rate_upper_bound(e2, n2, alpha)
    tolerated = min(bound + margin, 1.0)
    margin_p = binomial_greater(e1, n1, tolerated)
    check: dict[str, Any] = {
        "difference_points": (canary.error_rate - reference.error_rate) * 100,
        "margin_points": margin * 100,
        "baseline_upper_bound_percent": bound * 100,
        "tolerated_percent": tolerated * 100,
        "margin_p_value": margin_p,
    }
    if _z_applies(e1, n1, e2, n2):
        check["test"] = "z"
        check["statistic"], check["p_value"] = two_proportion_z(e1, n1, e2, n2)
    elif margin_p < alpha:
        check["test"], check["statistic"] = "fisher", None
        check["p_value"] = fisher_greater(e1, n1, e2, n2)
    else:
        # Within the margin the comparison cannot fail: Fisher's exact test is not needed.
        check["test"], check["statistic"], check["p_value"] = "fisher", None, None
    check["failed"] = margin_p < alpha and check["p_value"] < alpha
    if check["failed"]:
        outcome.add(
            Verdict.FAIL_MINOR,
            f"v4 5xx rate {_pct(canary.error_rate)} is significantly worse than v3's "
            f"{_pct(reference.error_rate)} by more than {margin * 100:g} points "
            f"({check['test']} p = {check['p_value']:.3g}, margin p = {margin_p:.3g}, "
            f"both < {alpha:g})",
        )
    return check


def _z_applies(e1: int, n1: int, e2: int, n2: int) -> bool:
    """Large counts on every cell: the z test is accurate there and Fisher's cost is not."""
    if min(n1, n2) < Z_MIN_REQUESTS:
        return False
    errors = e1 + e2
    smallest_expected = min(errors, n1 + n2 - errors) * min(n1, n2) / (n1 + n2)
    return smallest_expected >= Z_MIN_EXPECTED


def _latency(
    canary: BinnedLatency, reference: BinnedLatency, thresholds: Thresholds, outcome: _Outcome
) -> dict[str, Any]:
    alpha = thresholds.significance
    allowed = 1 + thresholds.performance_degradation_threshold / 100
    n4, n3 = canary.total, reference.total
    check: dict[str, Any] = {
        "canary_count": n4,
        "baseline_count": n3,
        "allowed_ratio": allowed,
        "failed": False,
    }
    if min(n4, n3) < thresholds.min_requests:
        outcome.add(
            Verdict.INCONCLUSIVE,
            f"latency histograms hold {n4} (v4) and {n3} (v3) requests, fewer than the "
            f"{thresholds.min_requests} needed",
        )
        return check
    breached = []
    for name, tail in TAILS.items():
        q4, q3 = canary.quantile_micros(1 - tail), reference.quantile_micros(1 - tail)
        ratio = q4 / q3
        # v4 slower than (1 + threshold) x the highest v3 quantile the data allows, more often
        # than the tail share: "v4's quantile exceeds v3's by more than the threshold".
        bound = bucket_bounds(reference.bucket_at_rank(quantile_upper_rank(n3, 1 - tail, alpha)))
        slower = canary.count_above(bucket_index(int(bound[1] * allowed)))
        judged = n4 * tail >= MIN_TAIL_REQUESTS
        p_value = binomial_greater(slower, n4, tail)
        check[name] = {
            "canary_ms": q4 / 1000,
            "baseline_ms": q3 / 1000,
            "ratio": ratio,
            "baseline_upper_bound_ms": bound[1] / 1000,
            "slower_than_allowed": slower,
            "margin_p_value": p_value,
            "judged": judged,
        }
        if ratio > allowed and judged and p_value < alpha:
            breached.append(f"{name} {q4 / 1000:.1f} ms vs {q3 / 1000:.1f} ms (x{ratio:.2f})")
    slower95 = canary.count_above(reference.quantile_bucket(1 - TAILS["p95"]))
    tail_p = binomial_greater(slower95, n4, TAILS["p95"])
    check["tail"] = {
        "slower_than_baseline_p95": slower95,
        "share": slower95 / n4,
        "expected_share": TAILS["p95"],
        "p_value": tail_p,
    }
    mwu = mann_whitney_greater(canary, reference)
    check["mann_whitney"] = mwu
    mwu_p = mwu["p_value"]
    assert mwu_p is not None
    check["failed"] = bool(breached) and (tail_p < alpha or mwu_p < alpha)
    if check["failed"]:
        outcome.add(
            Verdict.FAIL_MINOR,
            f"v4 latency {', '.join(breached)} is over v3's by more than "
            f"{thresholds.performance_degradation_threshold:g} % (share slower than v3's p95 "
            f"{slower95 / n4 * 100:.1f} % vs 5 %, p = {tail_p:.3g}; "
            f"Mann-Whitney p = {mwu_p:.3g})",
        )
    return check


def _parity(parity: ParitySample, thresholds: Thresholds, outcome: _Outcome) -> dict[str, Any]:
    maximum = thresholds.max_parity_mismatch_rate
    assert maximum is not None
    rate = parity.mismatched / parity.compared if parity.compared else 0.0
    check: dict[str, Any] = {
        "compared": parity.compared,
        "mismatched": parity.mismatched,
        "mismatch_rate": rate,
        "max_mismatch_rate": maximum,
        "failed": False,
    }
    if parity.compared < thresholds.min_requests:
        outcome.add(
            Verdict.INCONCLUSIVE,
            f"parity compared {parity.compared} responses, fewer than the "
            f"{thresholds.min_requests} needed",
        )
    elif rate > maximum:
        check["failed"] = True
        outcome.add(
            Verdict.FAIL_MINOR,
            f"parity mismatch rate {_pct(rate)} ({parity.mismatched} of {parity.compared}) "
            f"is above the maximum {_pct(maximum)}",
        )
    return check


def _describe(sample: Sample) -> dict[str, Any]:
    view = sample.latency()
    described: dict[str, Any] = {
        "requests": sample.requests,
        "errors_5xx": sample.errors_5xx,
        "error_rate_percent": sample.error_rate * 100,
        "latency_count": view.total,
    }
    for name, q in (("p50_ms", 0.5), ("p95_ms", 0.95), ("p99_ms", 0.99)):
        described[name] = view.quantile_micros(q) / 1000 if view.total else None
    return described


def _pct(fraction: float) -> str:
    return f"{fraction * 100:.2f} %"
