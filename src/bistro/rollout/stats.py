"""The statistical tests of the canary analysis, on counts and binned histograms.

The controller runs the analysis every evaluation interval for every rollout, and the rollout
simulation runs it millions of times, so one analysis must cost well under a millisecond.
scipy.stats' distribution objects cost tens to hundreds of microseconds a call through their
generic machinery; the tail probabilities here go straight to the scipy.special functions those
objects wrap (``ndtr`` for the normal, ``bdtr``/``bdtrc``/``bdtrik`` for the binomial,
``betaincinv`` for the Clopper-Pearson bound), which give the same numbers. Fisher's exact test
stays ``scipy.stats.fisher_exact``: the analysis calls it only when a cheaper gate has passed.

Mann-Whitney U and the two-proportion z test are written here because scipy wants the raw
samples, and expanding a histogram of 100k requests into an array would cost more than the
whole analysis; the unit tests check both against scipy on expanded samples.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import numpy as np
from scipy import special, stats

from bistro.monitoring.histogram import MAX_INDEX, bucket_bounds


class BinnedLatency:
    """A histogram sorted once, with cumulative counts, for quantiles and tail counts.

    Quantiles are ``bistro.monitoring.histogram.quantile``'s (nearest rank, read at the
    bucket's midpoint; a unit test holds them equal), from one sort instead of one per call.
    """

    __slots__ = ("counts", "cumulative", "indexes", "total")

    def __init__(self, histogram: Mapping[int, int]) -> None:
        indexes = np.fromiter(histogram.keys(), dtype=np.int64)
        counts = np.fromiter(histogram.values(), dtype=np.int64)
        # Keys are unique, so any sort order is the same; empty bins change no rank or count.
        order = np.argsort(indexes)
        self.indexes, self.counts = indexes[order], counts[order]
        self.cumulative = np.cumsum(self.counts)
        self.total = int(self.cumulative[-1]) if len(self.cumulative) else 0

    def bucket_at_rank(self, rank: int) -> int:
        """The bucket of the rank-th fastest request (1-based); the last bucket past the end."""
        position = int(np.searchsorted(self.cumulative, rank, side="left"))
        return int(self.indexes[position]) if position < len(self.indexes) else MAX_INDEX

    def quantile_bucket(self, q: float) -> int:
        return self.bucket_at_rank(max(1, math.ceil(q * self.total)))

    def quantile_micros(self, q: float) -> float:
        lower, upper = bucket_bounds(self.quantile_bucket(q))
        return (lower + upper) / 2

    def count_above(self, bucket: int) -> int:
        """Requests in buckets strictly above ``bucket``."""
        position = int(np.searchsorted(self.indexes, bucket, side="right"))
        return self.total - (int(self.cumulative[position - 1]) if position else 0)


def mann_whitney_greater(canary: BinnedLatency, baseline: BinnedLatency) -> dict[str, float | None]:
    """One-sided Mann-Whitney U ("canary slower") from two histograms' bin counts.

    U counts the (canary, baseline) pairs where the canary request is slower, ties counting a
    half: per bin, its canary requests times the baseline requests in lower bins plus half the
    baseline requests in the same bin (the midrank formulation, without ranks). The variance
    takes the usual tie correction over the merged bins and the p-value is the normal
    approximation with continuity correction: ``scipy.stats.mannwhitneyu(x, y,
    alternative="greater", method="asymptotic")`` on the expanded samples.
    """
    n1, n2 = canary.total, baseline.total
    # Each canary bin against the baseline: requests in lower bins, and in the same bin.
    lower = np.searchsorted(baseline.indexes, canary.indexes, side="left")
    upper = np.searchsorted(baseline.indexes, canary.indexes, side="right")
    cumulative = np.concatenate(([0], baseline.cumulative))
    below, same = cumulative[lower], cumulative[upper] - cumulative[lower]
    u = float(np.dot(canary.counts, 2 * below + same)) / 2
    # Tie term over the merged bins: shared bins count a + b, the others their own count.
    ties = _cubes(canary.counts + same) - _cubes(same) + _cubes(baseline.counts)
    total = n1 + n2
    variance = n1 * n2 / 12 * ((total + 1) - ties / (total * (total - 1))) if total > 1 else 0.0
    if variance <= 0:
        return {"u": u, "z": None, "p_value": 1.0}
    z = (u - n1 * n2 / 2 - 0.5) / math.sqrt(variance)
    return {"u": u, "z": z, "p_value": normal_sf(z)}


def _cubes(counts: np.ndarray) -> float:
    """Sum of t^3 - t (in floats: the cubes of large bins overflow 64-bit integers)."""
    t = counts.astype(np.float64)
    return float(np.dot(t * t - 1, t))


def two_proportion_z(errors1: int, n1: int, errors2: int, n2: int) -> tuple[float, float]:
    """Pooled two-proportion z statistic of "rate 1 is higher" and its one-sided p-value."""
    pooled = (errors1 + errors2) / (n1 + n2)
    spread = math.sqrt(pooled * (1 - pooled) * (1 / n1 + 1 / n2))
    if spread == 0:
        return 0.0, 1.0
    z = (errors1 / n1 - errors2 / n2) / spread
    return z, normal_sf(z)


def normal_sf(z: float) -> float:
    """P(Z > z) for a standard normal (what ``scipy.stats.norm.sf`` computes)."""
    return float(special.ndtr(-z))


def binomial_greater(successes: int, trials: int, rate: float) -> float:
    """One-sided exact binomial p-value P(X >= successes), as ``scipy.stats.binomtest``."""
    if successes <= 0 or trials == 0:
        return 1.0
    return float(special.bdtrc(successes - 1, trials, rate))


def rate_upper_bound(errors: int, requests: int, alpha: float) -> float:
    """One-sided Clopper-Pearson upper bound of a rate at confidence 1 - alpha."""
    if errors >= requests:
        return 1.0
    return float(special.betaincinv(errors + 1, requests - errors, 1 - alpha))


def quantile_upper_rank(requests: int, q: float, alpha: float) -> int:
    """The rank whose request bounds the true q-quantile from above with confidence 1 - alpha.

    Distribution-free: the (k+1)-th fastest of n requests is at or above the true q-quantile
    unless more than k requests fall below it, which happens with probability
    ``P(Binomial(n, q) > k)``; k is the smallest count making that at most alpha
    (``scipy.stats.binom.ppf(1 - alpha, n, q)``). May exceed n: then there is no bound.
    """
    # Start from the normal approximation and step to the exact discrete answer (a few
    # steps at most; bdtrik would land closer but costs more than the steps).
    k = int(requests * q + float(-special.ndtri(alpha)) * math.sqrt(requests * q * (1 - q)))
    k = min(max(k, 0), requests)
    while k > 0 and special.bdtr(k - 1, requests, q) >= 1 - alpha:
        k -= 1
    while k < requests and special.bdtr(k, requests, q) < 1 - alpha:
        k += 1
    return k + 1


def fisher_greater(errors1: int, n1: int, errors2: int, n2: int) -> float:
    """One-sided Fisher exact p-value of "rate 1 is higher"; exact with empty cells too."""
    table = np.array([[errors1, n1 - errors1], [errors2, n2 - errors2]])
    return float(stats.fisher_exact(table, alternative="greater").pvalue)
