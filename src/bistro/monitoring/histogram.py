"""A mergeable log-linear latency histogram (HDR-like, three significant decimal digits).

Latencies are kept in whole microseconds. Below 1 ms every microsecond has its own bucket;
above, each decade [10^k, 10^(k+1)) us is cut into 900 equal buckets of width 10^(k-2) us, so
a bucket is at most 1 % wide and a quantile read at its midpoint is within 0.5 % of the value.
Every bucket edge is a number with three significant digits, so the conventional Prometheus
bounds (5 ms, 25 ms, 0.1 s, 2.5 s, ...) are exact edges and fine buckets fold into them
without error. Histograms are sparse ``{bucket index: count}`` dicts: merging is a sum.
"""

from __future__ import annotations

import math
from bisect import bisect_right
from collections.abc import Iterable, Mapping

_FIRST_DECADE = 1_000  # microseconds; below this, buckets are 1 us wide
_SUB = 900  # buckets per decade above 1 ms
MAX_MICROS = 10**9  # 1000 s: anything slower lands in the last bucket
_DECADES = [10**k for k in range(4, 10)]  # upper bounds of the decades above 1 ms
_DIVISORS = [10**k for k in range(1, 8)]
MAX_INDEX = _FIRST_DECADE + _SUB * len(_DECADES) - 1


def bucket_index(micros: int) -> int:
    """The bucket of a latency in whole microseconds (negative counts as zero)."""
    if micros < _FIRST_DECADE:
        return micros if micros > 0 else 0
    # Fast paths for the usual 1-100 ms (same result as the general case below).
    if micros < 10_000:
        return 900 + micros // 10
    if micros < 100_000:
        return 1800 + micros // 100
    if micros >= MAX_MICROS:
        return MAX_INDEX
    decade = bisect_right(_DECADES, micros)  # 0 for [1e3, 1e4), 1 for [1e4, 1e5), ...
    return _FIRST_DECADE + decade * _SUB + micros // _DIVISORS[decade] - 100


def bucket_bounds(index: int) -> tuple[int, int]:
    """``[lower, upper)`` of a bucket, in microseconds."""
    if index < _FIRST_DECADE:
        return index, index + 1
    decade, offset = divmod(index - _FIRST_DECADE, _SUB)
    width = _DIVISORS[decade]
    lower = (offset + 100) * width
    return lower, lower + width


def merge(target: dict[int, int], other: Mapping[int, int]) -> dict[int, int]:
    """Add ``other``'s counts into ``target`` (in place) and return it."""
    for index, count in other.items():
        target[index] = target.get(index, 0) + count
    return target


def merge_all(histograms: Iterable[Mapping[int, int]]) -> dict[int, int]:
    total: dict[int, int] = {}
    for histogram in histograms:
        merge(total, histogram)
    return total


def quantile(histogram: Mapping[int, int], q: float) -> float | None:
    """The q-quantile in seconds (nearest rank, read at the bucket's midpoint); None if empty."""
    total = sum(histogram.values())
    if total == 0:
        return None
    rank = max(1, math.ceil(q * total))
    seen = 0
    for index in sorted(histogram):
        seen += histogram[index]
        if seen >= rank:
            lower, upper = bucket_bounds(index)
            return (lower + upper) / 2 / 1e6
    lower, upper = bucket_bounds(max(histogram))
    return (lower + upper) / 2 / 1e6


def encode(histogram: Mapping[int, int]) -> dict[str, int]:
    """JSON-friendly form (string keys) for the shared store."""
    return {str(index): count for index, count in histogram.items() if count}


def decode(data: Mapping[str, int] | None) -> dict[int, int]:
    if not data:
        return {}
    return {int(index): int(count) for index, count in data.items()}


def encode_pairs(histogram: Mapping[int, int]) -> list[int]:
    """The compact stored form of the per-minute rollups: ``[index, count, index, count,
    ...]`` by index. A long window merges hundreds of these: a flat list of numbers parses
    and sums far faster (as arrays) than an object with string keys."""
    out: list[int] = []
    for index in sorted(histogram):
        count = histogram[index]
        if count:
            out += (index, count)
    return out
