"""Microbenchmark of the rollout controller's canary analysis, in one run.

    python benchmarks/bench_analysis.py [--calls 300]

Times ``analyse`` on pairs of window samples (latency histograms of a few hundred to a few
thousand distinct buckets, 5k to 100k requests a side), next to the two costs it avoids for
scale: scipy's Mann-Whitney U on the same two windows expanded into arrays, and building the
sorted views of the two histograms (the floor of any analysis of them). Target: one analysis
of two ~1,000-bucket histograms well under 1 ms.
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from collections.abc import Callable, Mapping
from pathlib import Path

sys.path[:0] = [str(Path(__file__).resolve().parents[1] / "src")]

import numpy as np  # noqa: E402
from scipy import stats  # noqa: E402

from bistro.monitoring.histogram import MAX_INDEX, bucket_bounds  # noqa: E402
from bistro.rollout.analysis import Sample, Thresholds, analyse  # noqa: E402
from bistro.rollout.stats import BinnedLatency  # noqa: E402

TARGET_US = 1000.0


def per_call_us(fn: Callable[[], object], calls: int, repeats: int = 5) -> float:
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        for _ in range(calls):
            fn()
        best = min(best, (time.perf_counter() - start) / calls)
    return best * 1e6


def sample(rng: np.random.Generator, requests: int, median_ms: float, sigma: float) -> Sample:
    lower = np.array([bucket_bounds(i)[0] for i in range(MAX_INDEX + 1)], dtype=float)
    cdf = stats.norm.cdf((np.log(np.maximum(lower, 1e-9) / 1000) - math.log(median_ms)) / sigma)
    cdf[0] = 0.0
    counts = rng.multinomial(requests, np.diff(np.append(cdf, 1.0)))
    nonzero = np.nonzero(counts)[0]
    histogram = dict(zip(nonzero.tolist(), counts[nonzero].tolist(), strict=True))
    return Sample(requests, int(requests * 0.01), histogram)


def expanded(histogram: Mapping[int, int]) -> np.ndarray:
    keys = np.array(sorted(histogram))
    return np.repeat(keys, [histogram[k] for k in keys])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=300)
    args = parser.parse_args()
    rng = np.random.default_rng(1)
    thresholds = Thresholds()
    cases = [
        ("5k vs 50k, sigma 0.5", 5_000, 50_000, 0.5),
        ("100k vs 100k, sigma 0.5", 100_000, 100_000, 0.5),
        ("100k vs 100k, sigma 1.5", 100_000, 100_000, 1.5),
    ]
    print(f"{'windows':<26}{'buckets':>13}{'analyse us':>12}{'views us':>10}{'scipy MWU us':>14}")
    worst = 0.0
    for name, n4, n3, sigma in cases:
        canary, baseline = sample(rng, n4, 24, sigma), sample(rng, n3, 20, sigma)

        def run(c: Sample = canary, b: Sample = baseline) -> object:
            # Fresh samples each call: the view cache would otherwise hide the sorting.
            fresh_c = Sample(c.requests, c.errors_5xx, c.histogram)
            fresh_b = Sample(b.requests, b.errors_5xx, b.histogram)
            return analyse(fresh_c, fresh_b, thresholds)

        def views(c: Sample = canary, b: Sample = baseline) -> object:
            return BinnedLatency(c.histogram), BinnedLatency(b.histogram)

        x, y = expanded(canary.histogram), expanded(baseline.histogram)

        def scipy_mwu(x: np.ndarray = x, y: np.ndarray = y) -> object:
            return stats.mannwhitneyu(x, y, alternative="greater", method="asymptotic")

        analysis_us = per_call_us(run, args.calls)
        views_us = per_call_us(views, args.calls)
        scipy_us = per_call_us(scipy_mwu, max(3, args.calls // 30), repeats=3)
        worst = max(worst, analysis_us) if n4 <= 5_000 else worst
        bins = f"{len(canary.histogram)}/{len(baseline.histogram)}"
        print(f"{name:<26}{bins:>13}{analysis_us:>12.0f}{views_us:>10.0f}{scipy_us:>14.0f}")
        print(f"{'':<26}{'':>13}  analyse / scipy MWU alone = {analysis_us / scipy_us:.3f}")
    verdict = "meets" if worst < TARGET_US else "misses"
    print(f"~1,000-bucket windows: {worst:.0f} us per analysis, {verdict} the {TARGET_US:.0f} us")


if __name__ == "__main__":
    main()
