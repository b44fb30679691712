"""bistro perf's pure parts: histograms, the slice schedule, compare, rules, the HTML report."""

from __future__ import annotations

import random
import re
from typing import Any

import pytest

from bistro.perf.compare import bootstrap_interval, compare_runs
from bistro.perf.histogram import LatencyHistogram, raw_percentile_ms
from bistro.perf.plan import (
    Corpus,
    Mix,
    PlanError,
    parse_duration,
    parse_endpoints,
    schedule,
)
from bistro.perf.probe import running_rollouts
from bistro.perf.recommend import recommendations
from bistro.perf.report_html import render_html


def test_histogram_percentiles_match_raw_values_within_a_tenth_of_a_percent() -> None:
    rng = random.Random(5)
    raw = [max(1, int(rng.lognormvariate(8, 1.2))) for _ in range(20_000)]  # us, long tail
    hist = LatencyHistogram()
    for value in raw:
        hist.record(value / 1e6)
    for p in (50.0, 90.0, 99.0, 99.9, 100.0):
        expected = raw_percentile_ms(raw, p)
        assert hist.percentile_ms(p) == pytest.approx(expected, rel=1e-3)
    summary = hist.summary()
    assert summary["count"] == 20_000
    assert summary["max_ms"] == pytest.approx(max(raw) / 1000, rel=1e-3)


def test_histograms_survive_encoding_and_merge_exactly() -> None:
    a, b = LatencyHistogram(), LatencyHistogram()
    for i in range(1, 1001):
        a.record(i / 1e4)
        b.record(i / 1e3)
    restored = LatencyHistogram.decode(a.encode())
    assert restored.summary() == a.summary()
    merged = LatencyHistogram.merged([a, b])
    assert merged.count == 2000
    assert merged.percentile_ms(100) == b.percentile_ms(100)


def test_the_schedule_alternates_versions_in_whole_reversed_rounds() -> None:
    slices = schedule(("v3", "v4"), duration=8, slice_seconds=1)
    assert [s.version for s in slices] == ["v3", "v4", "v4", "v3", "v3", "v4", "v4", "v3"]
    assert [s.index for s in slices] == list(range(8))
    three = schedule(("v3", "v4", "stable"), duration=5, slice_seconds=1)
    assert len(three) == 6  # whole rounds: every version gets the same time
    with pytest.raises(PlanError):
        schedule(("v3", "v4"), duration=0, slice_seconds=1)


def test_durations_and_endpoints_are_parsed_or_refused() -> None:
    assert parse_duration("30s") == 30
    assert parse_duration("2m") == 120
    assert parse_duration("500ms") == 0.5
    assert parse_duration("1.5") == 1.5
    with pytest.raises(PlanError):
        parse_duration("soon")
    assert parse_endpoints("detail, list,detail") == ("detail", "list")
    with pytest.raises(PlanError, match="unknown endpoint nope"):
        parse_endpoints("detail,nope")


def test_the_mix_gives_each_endpoint_an_equal_share_and_both_versions_the_same_paths() -> None:
    rows = [
        {"id": i, "name": f"Trattoria Number {i}", "cuisine": "italian", "city": "Rome"}
        for i in range(1, 6)
    ]
    mix = Mix(("detail", "search", "statistics"), Corpus.from_restaurants(rows))
    v3 = [r for r, _ in zip(mix.requests("v3"), range(30), strict=False)]
    v4 = [r for r, _ in zip(mix.requests("v4"), range(30), strict=False)]
    assert [r.endpoint for r in v3].count("detail") == 10
    assert [r.path.removeprefix("/api/v3") for r in v3] == [
        r.path.removeprefix("/api/v4") for r in v4
    ]
    assert {r.path for r in v3 if r.endpoint == "detail"} == {
        f"/api/v3/restaurants/{i}" for i in range(1, 6)
    }


def run_with(slices_p50: dict[str, list[float]], ratios: list[float]) -> dict[str, Any]:
    slices = []
    for version, values in slices_p50.items():
        for value in values:
            slices.append(
                {"version": version, "endpoints": {"detail": {"count": 100, "p50_ms": value}}}
            )
    versions = {v: {"p50_ms": sum(vals) / len(vals)} for v, vals in slices_p50.items()}
    return {
        "endpoints": {"detail": {"versions": versions, "slice_ratios_p50": ratios}},
        "slices": slices,
    }


def test_compare_marks_a_change_only_outside_both_runs_spread() -> None:
    rng = random.Random(3)

    def noisy(center: float) -> list[float]:
        return [center * rng.uniform(0.9, 1.1) for _ in range(12)]

    a = run_with({"v3": noisy(10), "v4": noisy(5)}, noisy(0.5))
    same = run_with({"v3": noisy(10), "v4": noisy(5)}, noisy(0.5))
    slower = run_with({"v3": noisy(10), "v4": noisy(8)}, noisy(0.8))
    unchanged = compare_runs(a, same)
    assert unchanged["changed"] == []
    changed = compare_runs(a, slower)
    assert set(changed["changed"]) == {"detail v4 p50 ms", "detail v4/v3 p50"}
    row = next(r for r in changed["rows"] if r["figure"] == "v4 p50 ms")
    assert row["b_over_a"] == pytest.approx(1.6, rel=0.1)
    low, high = row["a"]["interval"]
    assert low < row["a"]["median"] < high


def test_the_bootstrap_interval_narrows_with_more_slices_and_is_repeatable() -> None:
    rng = random.Random(9)
    few = [rng.gauss(10, 1) for _ in range(6)]
    many = [rng.gauss(10, 1) for _ in range(60)]
    few_interval, many_interval = bootstrap_interval(few), bootstrap_interval(many)
    assert few_interval is not None and many_interval is not None
    assert many_interval[1] - many_interval[0] < few_interval[1] - few_interval[0]
    assert bootstrap_interval(few) == few_interval
    assert bootstrap_interval([1.0]) is None


def healthy() -> dict[str, Any]:
    version = {"count": 1000, "p50_ms": 2.0, "p99_ms": 6.0, "error_rate": 0.0, "rate_limited": 0}
    return {
        "generator": {"saturated": False, "descheduled": False, "cpu_percent": 20.0},
        "endpoints": {
            "detail": {
                "versions": {"v3": dict(version), "v4": dict(version, p50_ms=1.0)},
                "v4_over_v3_p50": 0.5,
                "slice_ratios_p50": [0.5, 0.52, 0.48],
            }
        },
        "slices": [],
        "cache": {
            "during_run": {
                "hit_rate": 0.9,
                "ttl_seconds": {"restaurants": 1800},
                "deltas": {"l1_hits": 900, "l1_misses": 100},
            }
        },
        "resources": {
            "instances": {"a": {"rss_before_bytes": 100 * 2**20, "rss_after_bytes": 101 * 2**20}}
        },
    }


def test_no_rule_fires_on_a_healthy_run() -> None:
    assert recommendations(healthy()) == []


def test_each_rule_fires_with_the_figure_behind_it() -> None:
    run = healthy()
    run["generator"] = {"saturated": True, "cpu_percent": 97.0, "late_share": 0.2}
    detail = run["endpoints"]["detail"]
    detail["versions"]["v4"].update(p50_ms=3.0, p99_ms=60.0, error_rate=0.2, rate_limited=4)
    detail["v4_over_v3_p50"], detail["slice_ratios_p50"] = 1.5, [1.4, 1.5, 1.6]
    run["cache"]["during_run"]["hit_rate"] = 0.2
    run["resources"]["instances"]["a"]["rss_after_bytes"] = 200 * 2**20
    run["slices"] = [
        {"index": 0, "version": "v4", "endpoints": {"detail": {"count": 10, "errors": 5}}},
        {"index": 1, "version": "v3", "endpoints": {"detail": {"count": 10, "errors": 0}}},
    ]
    fired = {r["rule"]: r for r in recommendations(run)}
    assert set(fired) == {
        "saturated_generator",
        "v4_regression",
        "queueing",
        "error_burst",
        "rate_limited",
        "low_hit_rate",
        "memory_growth",
    }
    assert fired["v4_regression"]["figure"]["ratio"] == 1.5
    assert fired["queueing"]["figure"]["p99_over_p50"] == 20.0
    assert fired["low_hit_rate"]["figure"]["ttl_seconds"] == {"restaurants": 1800}
    assert "1800 s" in fired["low_hit_rate"]["message"]
    assert fired["memory_growth"]["figure"]["rss_after_bytes"] == 200 * 2**20


def test_the_html_report_is_self_contained() -> None:
    run = healthy()
    run.update(
        base_url="http://127.0.0.1:1", mode="open", timeline=[{"second": 0, "v3": 3, "v4": 4}]
    )
    for version in run["endpoints"]["detail"]["versions"].values():
        version["curve"] = [[50.0, 1.0], [99.0, 3.0]]
    run["warnings"] = ["</script><script>alert(1)</script>"]
    page = render_html(run)
    assert "Chart.js v4" in page  # the library is inlined
    assert not re.search(r"<(script|link)[^>]+(src|href)=", page)  # nothing fetched
    assert "<script>alert(1)" not in page
    assert '"curves":{"detail"' in page


def test_running_rollouts_are_read_from_the_status_and_their_absence_tolerated() -> None:
    status = {
        "rollout": {
            "rollouts": [
                {"flag": "api_v4_restaurants", "state": "running", "percentage": 25},
                {"flag": "api_v4_reviews", "state": "paused", "percentage": 10},
                {"flag": "api_v4_statistics", "state": "running", "percentage": 2.5},
            ]
        }
    }
    assert running_rollouts(status) == [
        "api_v4_restaurants (at 25 %)",
        "api_v4_statistics (at 2.5 %)",
    ]
    # An older service: no rollout section, or the placeholder without rollouts.
    for older in (None, {}, {"rollout": {"state": "no rollout controller yet"}}):
        assert running_rollouts(older) == []
