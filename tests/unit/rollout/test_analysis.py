"""Canary analysis: the verdicts issue 14 lists, the statistics against scipy, the healthy null."""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from typing import Any

import numpy as np
import pytest
from scipy import stats

from bistro.monitoring.histogram import MAX_INDEX, bucket_bounds, bucket_index, quantile
from bistro.rollout.analysis import (
    CRITICAL_MIN_ERRORS,
    Analysis,
    ParitySample,
    Sample,
    Thresholds,
    Verdict,
    analyse,
)
from bistro.rollout.stats import (
    BinnedLatency,
    binomial_greater,
    fisher_greater,
    mann_whitney_greater,
    quantile_upper_rank,
    rate_upper_bound,
    two_proportion_z,
)

DEFAULT = Thresholds()
_LOWER_EDGES = np.array([bucket_bounds(i)[0] for i in range(MAX_INDEX + 1)], dtype=float)
_LOG_EDGES_MS = np.log(np.maximum(_LOWER_EDGES, 1e-9) / 1000)


def bucket_probabilities(
    median_ms: float, sigma: float, slow_share: float = 0.0, slow_factor: float = 5.0
) -> np.ndarray:
    """Each bucket's probability under a lognormal latency, optionally mixed with a slow mode."""
    cdf = (1 - slow_share) * stats.norm.cdf((_LOG_EDGES_MS - math.log(median_ms)) / sigma)
    if slow_share:
        slow = (_LOG_EDGES_MS - math.log(median_ms * slow_factor)) / sigma
        cdf = cdf + slow_share * stats.norm.cdf(slow)
    cdf[0] = 0.0
    return np.diff(np.append(cdf, 1.0))


def draw(
    rng: np.random.Generator, requests: int, error_rate: float, probabilities: np.ndarray
) -> Sample:
    counts = rng.multinomial(requests, probabilities)
    nonzero = np.nonzero(counts)[0]
    histogram = dict(zip(nonzero.tolist(), counts[nonzero].tolist(), strict=True))
    return Sample(requests, int(rng.binomial(requests, error_rate)), histogram)


def flat(requests: int, errors: int, latency_ms: float = 20.0) -> Sample:
    """A sample whose requests all took the same time (error checks only)."""
    return Sample(requests, errors, {bucket_index(int(latency_ms * 1000)): requests})


def expand(histogram: Mapping[int, int]) -> np.ndarray:
    indexes = np.array(sorted(histogram))
    return np.repeat(indexes, [histogram[i] for i in indexes])


def failed_checks(analysis: Analysis) -> set[str]:
    return {name for name, check in analysis.checks.items() if _failed(check)}


def _failed(check: Any) -> bool:
    return isinstance(check, dict) and check.get("failed") is True


# --- the verdicts the issue lists -------------------------------------------------------------


def test_forty_requests_of_which_thirty_failed_are_critical_against_a_healthy_v3() -> None:
    analysis = analyse(flat(40, 30), flat(760, 2), DEFAULT)
    assert analysis.verdict is Verdict.FAIL_CRITICAL
    assert analysis.checks["critical"]["failed"] is True
    assert analysis.checks["critical"]["fisher_p_value"] < 1e-10
    assert "30 of 40" in analysis.reasons[0]
    # Below min_requests, so the minor checks did not run: the window is also inconclusive.
    assert any("fewer than the 100 needed" in reason for reason in analysis.reasons)


def test_forty_of_which_thirty_failed_are_critical_without_any_baseline() -> None:
    analysis = analyse(flat(40, 30), flat(0, 0), DEFAULT)
    assert analysis.verdict is Verdict.FAIL_CRITICAL
    assert analysis.checks["baseline_used"] is None
    assert analysis.checks["critical"]["fisher_p_value"] is None
    assert analysis.checks["critical"]["binomial_p_value"] < 1e-20


def test_twelve_percent_against_one_percent_at_a_few_thousand_requests_is_critical() -> None:
    analysis = analyse(flat(3000, 360), flat(3000, 30), DEFAULT)
    assert analysis.verdict is Verdict.FAIL_CRITICAL
    # The minor checks ran too and agree.
    assert {"error_threshold", "error_comparison"} <= failed_checks(analysis)


def test_v3_at_zero_errors_does_not_make_v4_errors_look_fine() -> None:
    analysis = analyse(flat(500, 60), flat(9500, 0), DEFAULT)
    assert analysis.verdict is Verdict.FAIL_CRITICAL
    assert analysis.checks["critical"]["fisher_p_value"] < 1e-30


def test_twenty_healthy_requests_are_inconclusive() -> None:
    analysis = analyse(flat(20, 0), flat(380, 1), DEFAULT)
    assert analysis.verdict is Verdict.INCONCLUSIVE
    assert analysis.reasons == ["v4 has 20 requests in the window, fewer than the 100 needed"]


def test_twenty_requests_with_one_error_are_inconclusive_not_critical() -> None:
    # 5 % is not twice the threshold: no rollback on one unlucky request.
    analysis = analyse(flat(20, 1), flat(380, 0), DEFAULT)
    assert analysis.verdict is Verdict.INCONCLUSIVE
    assert analysis.checks["critical"]["failed"] is False


def test_a_handful_of_failures_is_not_critical_yet() -> None:
    # 4 of 4 failed: below CRITICAL_MIN_ERRORS; one more and it is critical.
    few = analyse(flat(CRITICAL_MIN_ERRORS - 1, CRITICAL_MIN_ERRORS - 1), flat(400, 0), DEFAULT)
    assert few.verdict is Verdict.INCONCLUSIVE
    enough = analyse(flat(CRITICAL_MIN_ERRORS, CRITICAL_MIN_ERRORS), flat(400, 0), DEFAULT)
    assert enough.verdict is Verdict.FAIL_CRITICAL


def test_critical_needs_v4_significantly_worse_than_v3() -> None:
    # Both versions fail at 12 % (a shared cause such as the database): not v4's fault, so no
    # emergency rollback; still over the absolute threshold, so a minor failure.
    analysis = analyse(flat(2000, 240), flat(2000, 240), DEFAULT)
    assert analysis.verdict is Verdict.FAIL_MINOR
    assert analysis.checks["critical"]["failed"] is False
    assert analysis.checks["critical"]["fisher_p_value"] > 0.4
    assert failed_checks(analysis) == {"error_threshold"}


def test_critical_needs_twice_the_threshold() -> None:
    # 9.9 % is significantly worse than v3 but below 2 x 5 %.
    analysis = analyse(flat(10_000, 990), flat(10_000, 10), DEFAULT)
    assert analysis.verdict is Verdict.FAIL_MINOR
    assert analysis.checks["critical"]["failed"] is False
    at_limit = analyse(flat(10_000, 1000), flat(10_000, 10), DEFAULT)
    assert at_limit.verdict is Verdict.FAIL_CRITICAL


def test_three_percent_against_zero_at_five_thousand_each_fails_by_the_comparison() -> None:
    analysis = analyse(flat(5000, 150), flat(5000, 0), DEFAULT)
    assert analysis.verdict is Verdict.FAIL_MINOR
    assert failed_checks(analysis) == {"error_comparison"}
    comparison = analysis.checks["error_comparison"]
    # Expected error cells are 75 a side, so the z test applies even though v3 has none.
    assert comparison["test"] == "z"
    assert comparison["p_value"] < 1e-30
    assert comparison["margin_p_value"] < 1e-10
    assert analysis.checks["error_threshold"]["over"] is False


def test_the_comparison_uses_the_z_test_when_every_cell_is_large() -> None:
    analysis = analyse(flat(5000, 150), flat(5000, 50), DEFAULT)
    comparison = analysis.checks["error_comparison"]
    assert comparison["test"] == "z"
    z, p = two_proportion_z(150, 5000, 50, 5000)
    assert comparison["statistic"] == z and comparison["p_value"] == p
    assert analysis.verdict is Verdict.FAIL_MINOR


def test_a_significant_difference_inside_the_margin_passes() -> None:
    # 1.5 % vs 1.0 % at 50,000 each is significant (z ~ 7) but only half a point worse.
    analysis = analyse(flat(50_000, 750), flat(50_000, 500), DEFAULT)
    assert analysis.checks["error_comparison"]["p_value"] < 1e-6
    assert analysis.verdict is Verdict.PASS


def test_over_the_threshold_beyond_noise_fails_minor_without_a_comparison() -> None:
    analysis = analyse(flat(2000, 160), flat(2000, 150), DEFAULT)
    assert analysis.verdict is Verdict.FAIL_MINOR
    assert failed_checks(analysis) == {"error_threshold"}
    assert "8.00 %" in analysis.reasons[0] and "5 % threshold" in analysis.reasons[0]


def test_six_errors_in_a_hundred_is_noise_not_a_threshold_breach() -> None:
    analysis = analyse(flat(100, 6), flat(1900, 40), DEFAULT)
    assert analysis.checks["error_threshold"]["over"] is True
    assert analysis.checks["error_threshold"]["failed"] is False
    assert analysis.verdict is Verdict.PASS


# --- latency -----------------------------------------------------------------------------------


def test_a_forty_percent_p95_regression_at_a_few_thousand_requests_fails() -> None:
    rng = np.random.default_rng(4)
    baseline = draw(rng, 3000, 0.005, bucket_probabilities(20, 0.5))
    canary = draw(rng, 3000, 0.005, bucket_probabilities(28, 0.5))
    analysis = analyse(canary, baseline, DEFAULT)
    assert analysis.verdict is Verdict.FAIL_MINOR
    assert failed_checks(analysis) == {"latency"}
    latency = analysis.checks["latency"]
    assert 1.3 < latency["p95"]["ratio"] < 1.5
    assert latency["mann_whitney"]["p_value"] < 1e-10
    assert latency["tail"]["p_value"] < 1e-10
    assert "p95" in analysis.reasons[0]


def test_a_tail_only_regression_fails_by_the_tail_test() -> None:
    # v4 adds a 3 % slow mode at 10x: p99 explodes, the bulk does not move.
    rng = np.random.default_rng(5)
    baseline = draw(rng, 20_000, 0.0, bucket_probabilities(20, 0.4))
    canary = draw(rng, 20_000, 0.0, bucket_probabilities(20, 0.4, 0.03, 10.0))
    analysis = analyse(canary, baseline, DEFAULT)
    assert analysis.verdict is Verdict.FAIL_MINOR
    latency = analysis.checks["latency"]
    assert latency["p99"]["ratio"] > 3
    assert latency["tail"]["p_value"] < 1e-10


def test_a_small_significant_shift_is_reported_not_failed() -> None:
    rng = np.random.default_rng(6)
    baseline = draw(rng, 50_000, 0.0, bucket_probabilities(20, 0.5))
    canary = draw(rng, 50_000, 0.0, bucket_probabilities(21, 0.5))
    analysis = analyse(canary, baseline, DEFAULT)
    latency = analysis.checks["latency"]
    assert latency["mann_whitney"]["p_value"] < 1e-6
    assert latency["p95"]["ratio"] < 1.2
    assert analysis.verdict is Verdict.PASS


def test_a_faster_v4_passes() -> None:
    rng = np.random.default_rng(7)
    baseline = draw(rng, 5000, 0.0, bucket_probabilities(30, 0.5))
    canary = draw(rng, 5000, 0.0, bucket_probabilities(15, 0.5))
    analysis = analyse(canary, baseline, DEFAULT)
    assert analysis.checks["latency"]["mann_whitney"]["p_value"] > 0.99
    assert analysis.verdict is Verdict.PASS


def test_latency_histograms_too_small_are_inconclusive() -> None:
    canary = Sample(500, 0, {bucket_index(20_000): 50})
    analysis = analyse(canary, flat(5000, 0), DEFAULT)
    assert analysis.verdict is Verdict.INCONCLUSIVE
    assert analysis.reasons == [
        "latency histograms hold 50 (v4) and 5000 (v3) requests, fewer than the 100 needed"
    ]


def test_percentiles_are_the_histogram_modules() -> None:
    rng = np.random.default_rng(8)
    for _ in range(20):
        sample = draw(rng, int(rng.integers(1, 5000)), 0.0, bucket_probabilities(10, 1.0))
        described = analyse(sample, sample, DEFAULT).checks["canary"]
        for name, q in (("p50_ms", 0.5), ("p95_ms", 0.95), ("p99_ms", 0.99)):
            expected = quantile(sample.histogram, q)
            assert expected is not None
            assert described[name] == pytest.approx(expected * 1000, rel=1e-12)


# --- baselines -----------------------------------------------------------------------------------


def test_too_few_v3_requests_fall_back_to_the_last_good_v3_window() -> None:
    analysis = analyse(flat(5000, 150), flat(50, 0), DEFAULT, fallback_baseline=flat(5000, 0))
    assert analysis.checks["baseline_used"] == "fallback"
    assert analysis.checks["fallback_baseline"]["requests"] == 5000
    assert analysis.verdict is Verdict.FAIL_MINOR
    assert failed_checks(analysis) == {"error_comparison"}


def test_the_current_baseline_wins_when_it_has_enough() -> None:
    analysis = analyse(flat(5000, 150), flat(5000, 140), DEFAULT, fallback_baseline=flat(5000, 0))
    assert analysis.checks["baseline_used"] == "current"
    assert analysis.verdict is Verdict.PASS


def test_no_usable_baseline_is_inconclusive_unless_a_threshold_is_breached() -> None:
    small_fallback = flat(99, 0)
    healthy = analyse(flat(5000, 10), flat(50, 0), DEFAULT, fallback_baseline=small_fallback)
    assert healthy.verdict is Verdict.INCONCLUSIVE
    assert healthy.checks["baseline_used"] is None
    assert "no earlier v3 window" in healthy.reasons[0]
    breached = analyse(flat(5000, 400), flat(50, 0), DEFAULT)
    assert breached.verdict is Verdict.FAIL_MINOR


def test_v4_below_min_requests_is_inconclusive() -> None:
    analysis = analyse(flat(99, 0), flat(5000, 0), DEFAULT)
    assert analysis.verdict is Verdict.INCONCLUSIVE
    assert "error_comparison" not in analysis.checks
    at_min = analyse(flat(100, 0), flat(5000, 0), DEFAULT)
    assert at_min.verdict is Verdict.PASS


# --- parity and precedence ----------------------------------------------------------------


def test_parity_counts_only_when_configured_and_given() -> None:
    strict = Thresholds(max_parity_mismatch_rate=0.01)
    healthy = (flat(1000, 0), flat(1000, 0))
    assert analyse(*healthy, DEFAULT, parity=ParitySample(1000, 500)).verdict is Verdict.PASS
    assert analyse(*healthy, strict).verdict is Verdict.PASS
    few = analyse(*healthy, strict, parity=ParitySample(99, 0))
    assert few.verdict is Verdict.INCONCLUSIVE
    assert few.reasons == ["parity compared 99 responses, fewer than the 100 needed"]
    at_max = analyse(*healthy, strict, parity=ParitySample(1000, 10))
    assert at_max.verdict is Verdict.PASS
    over = analyse(*healthy, strict, parity=ParitySample(1000, 11))
    assert over.verdict is Verdict.FAIL_MINOR
    assert over.checks["parity"]["mismatch_rate"] == 0.011
    assert "1.10 %" in over.reasons[0]


def test_the_worst_verdict_wins_and_every_reason_is_kept() -> None:
    strict = Thresholds(max_parity_mismatch_rate=0.01)
    critical = analyse(flat(40, 30), flat(760, 0), strict, parity=ParitySample(10, 0))
    assert critical.verdict is Verdict.FAIL_CRITICAL
    assert len(critical.reasons) == 3  # critical, v4 too small, parity too small
    minor = analyse(flat(2000, 160), flat(2000, 150), strict, parity=ParitySample(10, 0))
    assert minor.verdict is Verdict.FAIL_MINOR
    assert len(minor.reasons) == 2


def test_the_analysis_is_json_with_every_number() -> None:
    rng = np.random.default_rng(9)
    probabilities = bucket_probabilities(20, 0.5)
    analysis = analyse(
        draw(rng, 3000, 0.01, probabilities),
        draw(rng, 40, 0.01, probabilities),
        Thresholds(max_parity_mismatch_rate=0.05),
        fallback_baseline=draw(rng, 8000, 0.01, probabilities),
        parity=ParitySample(400, 2),
    )
    data = json.loads(json.dumps(analysis.to_dict(), allow_nan=False))
    assert data["verdict"] == analysis.verdict.value
    checks = data["checks"]
    assert checks["thresholds"]["min_requests"] == 100
    assert checks["baseline_used"] == "fallback"
    for side in ("canary", "baseline", "fallback_baseline"):
        assert set(checks[side]) == {
            "requests",
            "errors_5xx",
            "error_rate_percent",
            "latency_count",
            "p50_ms",
            "p95_ms",
            "p99_ms",
        }
    assert {"p95", "p99", "tail", "mann_whitney"} <= set(checks["latency"])
    assert checks["parity"]["compared"] == 400


# --- the data types ------------------------------------------------------------------------


def test_samples_round_trip_through_json() -> None:
    sample = Sample(1234, 5, {bucket_index(20_000): 1000, bucket_index(250_000): 234})
    restored = Sample.from_dict(json.loads(json.dumps(sample.to_dict())))
    assert restored == sample
    assert Sample.from_dict({"requests": 0, "errors_5xx": 0}) == Sample(0, 0, {})


@pytest.mark.parametrize(
    "data",
    [{}, {"requests": 1}, {"requests": "x", "errors_5xx": 0}, {"requests": 1, "errors_5xx": 2}],
)
def test_a_broken_stored_sample_is_refused(data: dict[str, Any]) -> None:
    with pytest.raises(ValueError):
        Sample.from_dict(data)


def test_impossible_samples_are_refused() -> None:
    for requests, errors, histogram in [
        (1, 2, {}),
        (-1, 0, {}),
        (1, -1, {}),
        (1, 0, {-1: 1}),
        (1, 0, {MAX_INDEX + 1: 1}),
        (1, 0, {5: -1}),
    ]:
        with pytest.raises(ValueError):
            Sample(requests, errors, histogram)
    with pytest.raises(ValueError):
        ParitySample(1, 2)
    with pytest.raises(ValueError):
        ParitySample(1, -1)
    Sample(1, 0, {0: 1, MAX_INDEX: 1})  # the edges are fine


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("auto_rollback_threshold", 0.0),
        ("auto_rollback_threshold", 50.1),
        ("performance_degradation_threshold", 0.0),
        ("min_requests", 0),
        ("significance", 0.0),
        ("significance", 0.5),
        ("max_parity_mismatch_rate", -0.1),
        ("max_parity_mismatch_rate", 1.1),
    ],
)
def test_impossible_thresholds_are_refused(field: str, value: float) -> None:
    with pytest.raises(ValueError, match=field):
        Thresholds(**{field: value})


def test_threshold_edges_are_allowed() -> None:
    Thresholds(
        auto_rollback_threshold=50.0,
        min_requests=1,
        significance=0.49,
        max_parity_mismatch_rate=0.0,
    )
    Thresholds(max_parity_mismatch_rate=1.0)


# --- the statistics computed here, against scipy -----------------------------------------------


@pytest.mark.parametrize("seed", range(6))
def test_mann_whitney_from_bins_equals_scipy_on_the_expanded_samples(seed: int) -> None:
    rng = np.random.default_rng(seed)
    shift = [1.0, 1.05, 0.9, 1.3, 1.0, 2.0][seed]
    sigma = [0.5, 0.3, 1.0, 0.2, 0.05, 0.5][seed]  # 0.05: few bins, heavy ties
    canary = draw(rng, int(rng.integers(50, 4000)), 0.0, bucket_probabilities(20 * shift, sigma))
    baseline = draw(rng, int(rng.integers(50, 4000)), 0.0, bucket_probabilities(20, sigma))
    ours = mann_whitney_greater(BinnedLatency(canary.histogram), BinnedLatency(baseline.histogram))
    theirs = stats.mannwhitneyu(
        expand(canary.histogram),
        expand(baseline.histogram),
        alternative="greater",
        method="asymptotic",
    )
    assert ours["u"] == pytest.approx(float(theirs.statistic), rel=1e-9)
    assert ours["p_value"] == pytest.approx(float(theirs.pvalue), rel=1e-9)


def test_mann_whitney_of_one_shared_bin_has_no_evidence() -> None:
    result = mann_whitney_greater(BinnedLatency({7: 10}), BinnedLatency({7: 5, 9: 0}))
    assert result == {"u": 25.0, "z": None, "p_value": 1.0}


@pytest.mark.parametrize(
    ("canary", "baseline"),
    [((5000, 150), (5000, 50)), ((1200, 30), (80_000, 1500)), ((3000, 20), (3000, 40))],
)
def test_the_z_test_equals_scipys_chi_square_without_correction(
    canary: tuple[int, int], baseline: tuple[int, int]
) -> None:
    z, p_value = two_proportion_z(canary[1], canary[0], baseline[1], baseline[0])
    table = [[canary[1], canary[0] - canary[1]], [baseline[1], baseline[0] - baseline[1]]]
    chi2 = stats.chi2_contingency(table, correction=False)
    assert z * z == pytest.approx(float(chi2.statistic), rel=1e-9)
    one_sided = chi2.pvalue / 2 if z > 0 else 1 - chi2.pvalue / 2
    assert p_value == pytest.approx(float(one_sided), rel=1e-9)


def test_the_z_test_without_any_error_is_no_evidence() -> None:
    assert two_proportion_z(0, 5000, 0, 5000) == (0.0, 1.0)


@pytest.mark.parametrize(
    ("successes", "trials", "rate"),
    [(0, 10, 0.05), (1, 10, 0.05), (3, 10, 0.05), (12, 100, 0.05), (160, 2000, 0.05), (7, 7, 0.5)],
)
def test_the_binomial_p_value_is_scipys_binomtest(successes: int, trials: int, rate: float) -> None:
    expected = stats.binomtest(successes, trials, rate, alternative="greater").pvalue
    assert binomial_greater(successes, trials, rate) == pytest.approx(expected, rel=1e-9)


def test_the_binomial_p_value_of_no_trials_is_one() -> None:
    assert binomial_greater(0, 0, 0.05) == 1.0


@pytest.mark.parametrize(("errors", "requests"), [(0, 100), (1, 245), (40, 1900), (0, 5000)])
def test_the_rate_bound_is_clopper_pearsons(errors: int, requests: int) -> None:
    interval = stats.binomtest(errors, requests).proportion_ci(0.98, method="exact")
    assert rate_upper_bound(errors, requests, 0.01) == pytest.approx(interval.high, rel=1e-9)
    assert rate_upper_bound(requests, requests, 0.01) == 1.0


def test_the_quantile_bound_rank_is_scipys_binomial_quantile() -> None:
    for requests in [*range(1, 200), 1000, 4999, 123_457]:
        for q in (0.5, 0.95, 0.99):
            for alpha in (0.001, 0.01, 0.05):
                expected = int(stats.binom.ppf(1 - alpha, requests, q)) + 1
                assert quantile_upper_rank(requests, q, alpha) == expected


def test_binned_latency_counts_and_ranks() -> None:
    view = BinnedLatency({30: 2, 10: 3, 20: 0, 40: 5})
    assert view.total == 10
    assert [view.bucket_at_rank(rank) for rank in (1, 3, 4, 5, 6, 10)] == [10, 10, 30, 30, 40, 40]
    assert view.bucket_at_rank(11) == MAX_INDEX
    assert [view.count_above(b) for b in (5, 10, 20, 30, 40)] == [10, 7, 7, 5, 0]
    assert view.quantile_bucket(0.0) == 10
    assert view.quantile_bucket(0.5) == 30
    assert BinnedLatency({}).total == 0


# --- the healthy null: identical distributions never fail --------------------------------


def _healthy_windows(count: int, seed: int) -> list[Analysis]:
    rng = np.random.default_rng(seed)
    analyses = []
    for _ in range(count):
        canary_n, baseline_n = np.exp(rng.uniform(math.log(100), math.log(50_000), 2))
        error_rate = rng.uniform(0, 0.02)
        probabilities = bucket_probabilities(
            median_ms=rng.uniform(3, 60),
            sigma=rng.uniform(0.2, 0.8),
            slow_share=rng.uniform(0.03, 0.4),
            slow_factor=rng.uniform(2, 10),
        )
        canary = draw(rng, int(canary_n), error_rate, probabilities)
        baseline = draw(rng, int(baseline_n), error_rate, probabilities)
        analyses.append(analyse(canary, baseline, DEFAULT))
    return analyses


def test_healthy_windows_pass() -> None:
    verdicts = [analysis.verdict for analysis in _healthy_windows(150, seed=11)]
    assert set(verdicts) == {Verdict.PASS}


@pytest.mark.slow
def test_two_thousand_healthy_windows_never_fail() -> None:
    fails = [
        analysis.reasons
        for analysis in _healthy_windows(2000, seed=12)
        if analysis.verdict in (Verdict.FAIL_MINOR, Verdict.FAIL_CRITICAL)
    ]
    assert fails == []


# --- every number in checks, against an independent computation ------------------------


def _tail_count(histogram: Mapping[int, int], above: int) -> int:
    return sum(count for index, count in histogram.items() if index > above)


def test_every_number_of_a_failing_window_is_in_checks() -> None:
    rng = np.random.default_rng(21)
    canary = draw(rng, 3000, 0.0, bucket_probabilities(28, 0.5))
    canary = Sample(3000, 150, canary.histogram)
    baseline = draw(rng, 2500, 0.0, bucket_probabilities(20, 0.5))
    baseline = Sample(2500, 25, baseline.histogram)
    analysis = analyse(canary, baseline, DEFAULT)
    checks = analysis.checks

    for name, sample in (("canary", canary), ("baseline", baseline)):
        described = checks[name]
        assert described["requests"] == sample.requests
        assert described["errors_5xx"] == sample.errors_5xx
        assert described["error_rate_percent"] == pytest.approx(
            100 * sample.errors_5xx / sample.requests
        )
        assert described["latency_count"] == sample.requests
    assert checks["canary"]["error_rate_percent"] == pytest.approx(5.0)
    assert checks["fallback_baseline"] is None
    assert checks["baseline_used"] == "current"

    binomial = stats.binomtest(150, 3000, 0.05, alternative="greater").pvalue
    assert checks["critical"] == {
        "rate_limit_percent": 10.0,
        "min_errors": CRITICAL_MIN_ERRORS,
        "binomial_p_value": pytest.approx(binomial, rel=1e-9),
        "fisher_p_value": None,  # the gate (10 %) did not pass: no Fisher needed
        "failed": False,
    }
    assert checks["error_threshold"] == {
        "threshold_percent": 5.0,
        "p_value": pytest.approx(binomial, rel=1e-9),
        "over": False,  # exactly 5 % is not above 5 %
        "failed": False,
    }

    bound = stats.beta.ppf(0.99, 26, 2475)
    z, p_value = two_proportion_z(150, 3000, 25, 2500)
    assert checks["error_comparison"] == {
        "difference_points": pytest.approx(4.0),
        "margin_points": pytest.approx(1.0),
        "baseline_upper_bound_percent": pytest.approx(100 * bound, rel=1e-9),
        "tolerated_percent": pytest.approx(100 * bound + 1, rel=1e-9),
        "margin_p_value": pytest.approx(
            stats.binomtest(150, 3000, bound + 0.01, alternative="greater").pvalue, rel=1e-6
        ),
        "test": "z",
        "statistic": z,
        "p_value": p_value,
        "failed": True,
    }

    latency = checks["latency"]
    assert latency["canary_count"] == 3000 and latency["baseline_count"] == 2500
    assert latency["allowed_ratio"] == 1.2
    for name, q in (("p95", 0.95), ("p99", 0.99)):
        q4, q3 = quantile(canary.histogram, q), quantile(baseline.histogram, q)
        assert q4 is not None and q3 is not None
        rank = int(stats.binom.ppf(0.99, 2500, q)) + 1
        bound_bucket = int(np.sort(expand(baseline.histogram))[rank - 1])
        bound_micros = bucket_bounds(bound_bucket)[1]
        slower = _tail_count(canary.histogram, bucket_index(int(bound_micros * 1.2)))
        assert latency[name] == {
            "canary_ms": pytest.approx(q4 * 1000),
            "baseline_ms": pytest.approx(q3 * 1000),
            "ratio": pytest.approx(q4 / q3),
            "baseline_upper_bound_ms": bound_micros / 1000,
            "slower_than_allowed": slower,
            "margin_p_value": pytest.approx(
                stats.binomtest(slower, 3000, 1 - q, alternative="greater").pvalue, rel=1e-6
            ),
            "judged": True,
        }
    q3_95 = quantile(baseline.histogram, 0.95)
    assert q3_95 is not None
    slower95 = _tail_count(canary.histogram, bucket_index(int(q3_95 * 1e6)))
    assert latency["tail"] == {
        "slower_than_baseline_p95": slower95,
        "share": slower95 / 3000,
        "expected_share": 0.05,
        "p_value": pytest.approx(
            stats.binomtest(slower95, 3000, 0.05, alternative="greater").pvalue, rel=1e-6
        ),
    }
    assert set(latency["mann_whitney"]) == {"u", "z", "p_value"}
    assert latency["failed"] is True
    # p99 is over by 30 % too, but 30 tail requests cannot show it beyond v3's own noise.
    assert latency["p99"]["ratio"] > 1.2 and latency["p99"]["margin_p_value"] > 0.01
    mwu = latency["mann_whitney"]["p_value"]
    assert analysis.reasons == [
        f"v4 5xx rate 5.00 % is significantly worse than v3's 1.00 % by more than 1 points "
        f"(z p = {p_value:.3g}, margin p = {checks['error_comparison']['margin_p_value']:.3g}, "
        f"both < 0.01)",
        f"v4 latency p95 {latency['p95']['canary_ms']:.1f} ms vs "
        f"{latency['p95']['baseline_ms']:.1f} ms (x{latency['p95']['ratio']:.2f}) "
        f"is over v3's by more than 20 % (share slower than "
        f"v3's p95 {slower95 / 30:.1f} % vs 5 %, p = {latency['tail']['p_value']:.3g}; "
        f"Mann-Whitney p = {mwu:.3g})",
    ]


def test_critical_reasons_name_the_tests_and_numbers() -> None:
    against_v3 = analyse(flat(40, 30), flat(760, 2), DEFAULT)
    fisher = stats.fisher_exact([[30, 10], [2, 758]], alternative="greater").pvalue
    binomial = stats.binomtest(30, 40, 0.05, alternative="greater").pvalue
    assert against_v3.checks["critical"]["fisher_p_value"] == pytest.approx(fisher, rel=1e-9)
    assert against_v3.reasons[0] == (
        f"v4 5xx rate 75.00 % (30 of 40) is at least 10 % and significantly worse "
        f"(binomial vs 5 % p = {binomial:.3g}, Fisher vs v3 p = {fisher:.3g}; < 0.01)"
    )
    alone = analyse(flat(40, 30), flat(0, 0), DEFAULT)
    assert alone.reasons[0] == (
        f"v4 5xx rate 75.00 % (30 of 40) is at least 10 % and significantly worse "
        f"(binomial vs 5 % p = {binomial:.3g}; < 0.01)"
    )


def test_minor_error_reasons_name_the_numbers() -> None:
    over = analyse(flat(2000, 160), flat(2000, 150), DEFAULT)
    p_value = stats.binomtest(160, 2000, 0.05, alternative="greater").pvalue
    assert over.reasons == [
        f"v4 5xx rate 8.00 % (160 of 2000) is above the 5 % threshold "
        f"(binomial p = {p_value:.3g} < 0.01)"
    ]


def test_the_fisher_comparison_runs_when_the_margin_test_fails() -> None:
    analysis = analyse(flat(500, 40), flat(600, 1), DEFAULT)
    comparison = analysis.checks["error_comparison"]
    expected = stats.fisher_exact([[40, 460], [1, 599]], alternative="greater").pvalue
    assert comparison["test"] == "fisher"
    assert comparison["p_value"] == pytest.approx(expected, rel=1e-9)
    assert comparison["failed"] is True
    assert analysis.verdict is Verdict.FAIL_MINOR
    # Within the margin, Fisher's test is not run at all.
    within = analyse(flat(500, 6), flat(600, 6), DEFAULT).checks["error_comparison"]
    assert (within["test"], within["statistic"], within["p_value"]) == ("fisher", None, None)
    assert within["failed"] is False


def test_a_baseline_failing_everything_caps_the_tolerated_rate() -> None:
    analysis = analyse(flat(100, 100), flat(100, 100), DEFAULT)
    assert analysis.checks["error_comparison"]["tolerated_percent"] == 100.0
    assert analysis.checks["error_comparison"]["margin_p_value"] == 1.0


# --- boundaries ------------------------------------------------------------------------------


def test_just_below_twice_the_threshold_is_not_critical() -> None:
    assert analyse(flat(10_000, 999), flat(10_000, 10), DEFAULT).checks["critical"]["failed"] is (
        False
    )


def test_just_below_the_threshold_is_not_over_it() -> None:
    below = analyse(flat(10_000, 499), flat(10_000, 499), DEFAULT)
    assert below.checks["error_threshold"]["over"] is False
    above = analyse(flat(10_000, 501), flat(10_000, 499), DEFAULT)
    assert above.checks["error_threshold"]["over"] is True


def test_a_p_value_equal_to_the_significance_is_not_significant() -> None:
    # Same computation as the analysis, so the floats are identical.
    threshold_p = binomial_greater(160, 2000, 0.05)
    at = analyse(flat(2000, 160), flat(2000, 150), Thresholds(significance=threshold_p))
    assert at.checks["error_threshold"]["failed"] is False
    above = Thresholds(significance=float(np.nextafter(threshold_p, 1)))
    assert analyse(flat(2000, 160), flat(2000, 150), above).checks["error_threshold"]["failed"]

    critical_p = binomial_greater(30, 40, 0.05)
    at = analyse(flat(40, 30), flat(0, 0), Thresholds(significance=critical_p))
    assert at.verdict is not Verdict.FAIL_CRITICAL
    fisher = float(stats.fisher_exact([[30, 10], [0, 40]], alternative="greater").pvalue)
    at = analyse(flat(40, 30), flat(40, 0), Thresholds(min_requests=40, significance=fisher))
    assert at.checks["critical"]["fisher_p_value"] == fisher
    assert at.checks["critical"]["failed"] is False


def test_the_baseline_at_exactly_min_requests_is_used() -> None:
    assert analyse(flat(100, 0), flat(100, 0), DEFAULT).checks["baseline_used"] == "current"
    fallback = analyse(flat(100, 0), flat(99, 0), DEFAULT, fallback_baseline=flat(100, 0))
    assert fallback.checks["baseline_used"] == "fallback"


def test_the_z_test_starts_at_its_documented_sizes() -> None:
    def test_of(canary: Sample, baseline: Sample) -> str:
        return str(analyse(canary, baseline, DEFAULT).checks["error_comparison"]["test"])

    assert test_of(flat(1000, 10), flat(1000, 10)) == "z"  # expected error cells exactly 10
    assert test_of(flat(1000, 10), flat(1000, 9)) == "fisher"  # 9.5
    assert test_of(flat(999, 30), flat(5000, 100)) == "fisher"
    assert test_of(flat(5000, 100), flat(999, 30)) == "fisher"
    assert test_of(flat(1000, 990), flat(1000, 990)) == "z"  # success cells exactly 10
    assert test_of(flat(1000, 991), flat(1000, 990)) == "fisher"
    assert test_of(flat(1000, 40), flat(3000, 0)) == "z"  # 40 x 1000 / 4000 = 10
    assert test_of(flat(1000, 30), flat(3000, 0)) == "fisher"  # 7.5
    assert test_of(flat(1000, 0), flat(3000, 30)) == "fisher"


def test_quantiles_are_judged_from_twenty_expected_tail_requests() -> None:
    rng = np.random.default_rng(22)
    probabilities = bucket_probabilities(20, 0.5)
    baseline = draw(rng, 5000, 0.0, probabilities)
    for requests, p95, p99 in [(399, False, False), (400, True, False), (2000, True, True)]:
        latency = analyse(draw(rng, requests, 0.0, probabilities), baseline, DEFAULT).checks[
            "latency"
        ]
        assert (latency["p95"]["judged"], latency["p99"]["judged"]) == (p95, p99)


def test_a_tail_regression_fails_even_when_the_bulk_is_faster() -> None:
    rng = np.random.default_rng(23)
    baseline = draw(rng, 20_000, 0.0, bucket_probabilities(20, 0.4))
    canary = draw(rng, 20_000, 0.0, bucket_probabilities(16, 0.4, 0.06, 10.0))
    latency = analyse(canary, baseline, DEFAULT).checks["latency"]
    assert latency["mann_whitney"]["p_value"] > 0.5
    assert latency["tail"]["p_value"] < 1e-10
    assert latency["failed"] is True


def test_a_sample_without_latency_reports_no_percentiles() -> None:
    analysis = analyse(flat(500, 0), Sample(0, 0, {}), DEFAULT)
    assert analysis.checks["baseline"]["p95_ms"] is None
    assert analysis.checks["baseline"]["latency_count"] == 0


def test_parity_edges() -> None:
    strict = Thresholds(max_parity_mismatch_rate=0.01)
    healthy = (flat(1000, 0), flat(1000, 0))
    none = analyse(*healthy, strict, parity=ParitySample(0, 0)).checks["parity"]
    assert none == {
        "compared": 0,
        "mismatched": 0,
        "mismatch_rate": 0.0,
        "max_mismatch_rate": 0.01,
        "failed": False,
    }
    at_min = analyse(*healthy, strict, parity=ParitySample(100, 1))
    assert at_min.verdict is Verdict.PASS
    assert at_min.checks["parity"]["failed"] is False
    over = analyse(*healthy, strict, parity=ParitySample(100, 2))
    assert over.checks["parity"]["failed"] is True
    ParitySample(5, 5)  # all mismatched is a valid count


def test_errors_say_what_is_wrong() -> None:
    with pytest.raises(ValueError, match="0 <= errors_5xx <= requests, got 2 errors in 1"):
        Sample(1, 2, {})
    with pytest.raises(ValueError, match=r"bad histogram buckets \{-1: 1\}"):
        Sample(1, 0, {-1: 1})
    with pytest.raises(ValueError, match="0 <= mismatched <= compared, got 2 of 1"):
        ParitySample(1, 2)
    with pytest.raises(ValueError, match="not a stored sample"):
        Sample.from_dict({})


def test_small_thresholds_are_allowed() -> None:
    Thresholds(auto_rollback_threshold=0.5, performance_degradation_threshold=0.5)


def test_statistics_at_their_edges() -> None:
    assert binomial_greater(1, 1, 0.05) == pytest.approx(0.05)
    one = mann_whitney_greater(BinnedLatency({5: 1}), BinnedLatency({}))
    assert one == {"u": 0.0, "z": None, "p_value": 1.0}
    pair = mann_whitney_greater(BinnedLatency({9: 1}), BinnedLatency({5: 1}))
    theirs = stats.mannwhitneyu([9], [5], alternative="greater", method="asymptotic")
    assert pair["u"] == 1.0
    assert pair["p_value"] == pytest.approx(float(theirs.pvalue), rel=1e-9)
    assert BinnedLatency({10: 1}).quantile_bucket(0.5) == 10


@pytest.mark.parametrize("table", [((3, 10), (0, 10)), ((1, 50), (4, 50)), ((5, 5), (5, 40))])
def test_fisher_is_scipys_one_sided_test(table: tuple[tuple[int, int], ...]) -> None:
    (e1, n1), (e2, n2) = table
    expected = stats.fisher_exact([[e1, n1 - e1], [e2, n2 - e2]], alternative="greater").pvalue
    assert fisher_greater(e1, n1, e2, n2) == pytest.approx(expected, rel=1e-12)


def test_thresholds_and_the_analysis_serialise_completely() -> None:
    thresholds = Thresholds(7.0, 30.0, 50, 0.001, 0.02)
    analysis = analyse(flat(20, 0), flat(380, 1), thresholds)
    assert analysis.checks["thresholds"] == {
        "auto_rollback_threshold": 7.0,
        "performance_degradation_threshold": 30.0,
        "min_requests": 50,
        "significance": 0.001,
        "max_parity_mismatch_rate": 0.02,
    }
    assert analysis.to_dict() == {
        "verdict": "inconclusive",
        "reasons": ["v4 has 20 requests in the window, fewer than the 50 needed"],
        "checks": analysis.checks,
    }


def test_every_bad_threshold_is_named_at_once() -> None:
    with pytest.raises(ValueError) as refused:
        Thresholds(0.0, 0.0, 0, 0.0, 2.0)
    assert str(refused.value) == (
        "auto_rollback_threshold must be above 0 and at most 50 (percent); "
        "performance_degradation_threshold must be above 0 (percent); "
        "min_requests must be at least 1; "
        "significance must be between 0 and 0.5; "
        "max_parity_mismatch_rate must be between 0 and 1"
    )


def test_too_small_latency_histograms_report_their_counts() -> None:
    analysis = analyse(Sample(500, 0, {bucket_index(20_000): 50}), flat(5000, 0), DEFAULT)
    assert analysis.checks["latency"] == {
        "canary_count": 50,
        "baseline_count": 5000,
        "allowed_ratio": 1.2,
        "failed": False,
    }


# Mutants that survive `make mutation` and why they change nothing observable:
# - `p < alpha` -> `p <= alpha` where alpha also moves the null (the error comparison's
#   Clopper-Pearson bound, the latency margin's quantile bound) or where another test at the
#   same alpha must pass too (tail / Mann-Whitney evidence): a p-value exactly equal to alpha
#   cannot be built there; the p == alpha boundary is pinned where it can be (threshold, critical).
# - the plain comparison test `p_value <= alpha`: whenever the margin test is significant the
#   plain one is far more so (its null is smaller), so the plain p-value never sits at alpha.
# - latency `ratio >= allowed`: a ratio of exactly 1.2 leaves the margin test insignificant.
# - `_Outcome.add` `>=`: an equal rank is the same verdict.
# - `quantile_upper_rank`'s starting guess and step sizes: both loops walk to the exact answer
#   from any start (only the number of steps changes; a unit test holds it to scipy's ppf).
# - `binomial_greater`'s guard variants: bdtrc(-1, n, p) is already 1.0.
# - `astype(None)`, `fromiter(dtype=None)`, `searchsorted` without `side="left"`: the defaults
#   are float64 and "left", which give the same numbers.
# - Thresholds/Analysis key and message mutants were killed by the serialisation tests added
#   after the last recorded run (95.5 % analysis, 91.6 % stats before them).
