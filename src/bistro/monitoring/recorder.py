"""The per-process accumulator the metrics middleware writes into (the hot path).

``record`` is a dict lookup and a handful of integer additions; everything else (stores,
Prometheus, percentiles) happens later, on a drained copy, off the request path.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from bistro.monitoring.histogram import bucket_index, merge

VERSIONS = ("v3", "v4")
GROUPS = ("restaurants", "reviews", "users", "statistics", "other")
NO_VERSION = "none"  # control plane, docs, /metrics, the dashboard: not v3/v4 traffic

_GROUP_OF_SEGMENT = {
    "restaurants": "restaurants",
    "reviews": "reviews",
    "auth": "users",
    "users": "users",
    "admin": "users",
    "statistics": "statistics",
}

# (version, group, route template, status class)
SeriesKey = tuple[str, str, str, str]


@dataclass(slots=True)
class Series:
    requests: int = 0
    latency_sum: float = 0.0
    bytes_out: int = 0
    histogram: dict[int, int] = field(default_factory=dict)

    def add(self, other: Series) -> None:
        self.requests += other.requests
        self.latency_sum += other.latency_sum
        self.bytes_out += other.bytes_out
        merge(self.histogram, other.histogram)


def classify(path: str, served_version: str | None = None) -> tuple[str, str, str]:
    """(version, group, route label) for a path or route template.

    The route label drops the ``/api/vN`` prefix, so the same endpoint has the same label under
    both versions and v3 can be compared with v4 route by route.
    """
    if path.startswith("/api/v3/") or path.startswith("/api/v4/"):
        version = path[5:7]
        rest = path[7:]
    elif path.startswith("/api/") and served_version in VERSIONS:
        version = served_version
        rest = path[4:]
    else:
        return NO_VERSION, "other", path
    if served_version in VERSIONS:
        version = served_version
    segment = rest[1:].split("/", 1)[0]
    group = _GROUP_OF_SEGMENT.get(segment)
    if group is None:
        # Control-plane routes under /api/v4/migration are not v4 traffic.
        return NO_VERSION, "other", path
    return version, group, rest


def status_class(status: int) -> str:
    return f"{status // 100}xx"


class Recorder:
    """Accumulates series since the last :meth:`drain`. Not thread-safe: one event loop."""

    __slots__ = ("_live",)

    def __init__(self) -> None:
        self._live: dict[SeriesKey, Series] = {}

    def record(self, key: SeriesKey, latency: float, bytes_out: int) -> None:
        series = self._live.get(key)
        if series is None:
            series = self._live[key] = Series()
        series.requests += 1
        series.latency_sum += latency
        series.bytes_out += bytes_out
        micros = int(latency * 1_000_000)
        # bucket_index's fast paths (under 100 ms), inlined: this runs once per request.
        if micros < 1_000:
            index = micros if micros > 0 else 0
        elif micros < 10_000:
            index = 900 + micros // 10
        elif micros < 100_000:
            index = 1800 + micros // 100
        else:
            index = bucket_index(micros)
        histogram = series.histogram
        histogram[index] = histogram.get(index, 0) + 1

    def drain(self) -> dict[SeriesKey, Series]:
        """Hand over everything recorded so far and start again from zero."""
        live, self._live = self._live, {}
        return live
