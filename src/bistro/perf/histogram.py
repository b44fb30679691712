"""Latency histograms: HDR histograms (``hdrhistogram``) in microseconds.

An HDR histogram keeps every value to 3 significant figures (0.1 %) over 1 us .. 2 min in a
few tens of kilobytes, whatever the number of requests, and two of them merge exactly; that is
what lets per-slice histograms add up to a run's and a saved run carry its full distribution.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

from hdrh.histogram import HdrHistogram

LOWEST_US = 1
HIGHEST_US = 120_000_000
SIGNIFICANT_FIGURES = 3
PERCENTILES = (50.0, 90.0, 95.0, 99.0, 99.9)
# Points of the percentile curve drawn in the report (the x axis is 1 / (1 - p)).
CURVE_PERCENTILES = (0.0, 25.0, 50.0, 75.0, 90.0, 95.0, 99.0, 99.5, 99.9, 99.95, 99.99, 100.0)


def percentile_key(p: float) -> str:
    """``50.0`` -> ``"p50"``, ``99.9`` -> ``"p99.9"``."""
    return "p" + (f"{p:g}")


class LatencyHistogram:
    """Request latencies in microseconds."""

    def __init__(self) -> None:
        self.hdr = HdrHistogram(LOWEST_US, HIGHEST_US, SIGNIFICANT_FIGURES)

    @property
    def count(self) -> int:
        return int(self.hdr.get_total_count())

    def record(self, seconds: float) -> None:
        micros = min(max(round(seconds * 1_000_000), LOWEST_US), HIGHEST_US)
        self.hdr.record_value(micros)

    def add(self, other: LatencyHistogram) -> None:
        if other.count:
            self.hdr.add(other.hdr)

    def percentile_ms(self, p: float) -> float:
        if not self.count:
            return math.nan
        return float(self.hdr.get_value_at_percentile(p)) / 1000.0

    def summary(self) -> dict[str, Any]:
        """Count, mean, the standard percentiles and max, in milliseconds."""
        if not self.count:
            return {"count": 0}
        out: dict[str, Any] = {"count": self.count}
        out["mean_ms"] = round(float(self.hdr.get_mean_value()) / 1000.0, 4)
        for p in PERCENTILES:
            out[percentile_key(p) + "_ms"] = round(self.percentile_ms(p), 4)
        out["max_ms"] = round(float(self.hdr.get_max_value()) / 1000.0, 4)
        return out

    def curve(self) -> list[tuple[float, float]]:
        """(percentile, latency ms) points for a percentile-distribution chart."""
        if not self.count:
            return []
        return [(p, round(self.percentile_ms(p), 4)) for p in CURVE_PERCENTILES]

    def encode(self) -> str:
        """The compressed, base64 HdrHistogram encoding (readable by every HDR port)."""
        encoded = self.hdr.encode()
        return encoded.decode() if isinstance(encoded, bytes) else str(encoded)

    @classmethod
    def decode(cls, data: str) -> LatencyHistogram:
        out = cls()
        if data:
            out.hdr.decode_and_add(data)
        return out

    @classmethod
    def merged(cls, parts: Iterable[LatencyHistogram]) -> LatencyHistogram:
        out = cls()
        for part in parts:
            out.add(part)
        return out


def raw_percentile_ms(latencies_us: list[int], p: float) -> float:
    """The percentile of raw latencies by the rank rule HDR histograms use (the count at
    ``p`` rounded to the nearest whole request, at least the first): the check the
    histogram's figures are held to."""
    if not latencies_us:
        return math.nan
    ordered = sorted(latencies_us)
    rank = max(1, int(min(p, 100.0) * len(ordered) / 100.0 + 0.5))
    return ordered[min(rank, len(ordered)) - 1] / 1000.0
