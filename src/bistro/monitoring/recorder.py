"""The per-process accumulator the metrics middleware writes into (the hot path).

``record`` is a dict lookup and a handful of integer additions; everything else (stores,
Prometheus, percentiles) happens later, on a drained copy, off the request path.
"""

from __future__ import annotations

from collections.abc import MutableMapping
from dataclasses import dataclass, field
from typing import Any

from bistro.core.context import context_of
from bistro.monitoring.histogram import bucket_index, merge

VERSIONS = ("v3", "v4")
GROUPS = ("restaurants", "reviews", "users", "statistics", "other")
NO_VERSION = "none"  # control plane, docs, /metrics, the dashboard: not v3/v4 traffic

# Where a request came from (the ``source`` dimension of every series, row and metric):
# - ``stable``: a client on the stable path ``/api/...`` (the router chose the version);
# - ``direct``: a call to ``/api/v3/...`` or ``/api/v4/...`` (and everything else);
# - ``shadow``: v4 run off the request path to compare with v3 (parity's shadow mode);
# - ``synthetic``: traffic a tool generates (perf runs, drills' probes, smoke checks).
# Alerts, the dashboard and the rollout controller judge only real client traffic.
STABLE, DIRECT, SHADOW, SYNTHETIC = "stable", "direct", "shadow", "synthetic"
SOURCES = (STABLE, DIRECT, SHADOW, SYNTHETIC)
CLIENT_SOURCES = (STABLE, DIRECT)

# The outcome of a request whose client went away before its response was complete: its own
# value next to the status classes, counted in no error rate and no latency statistic.
CLIENT_ABORT = "client_abort"

_GROUP_OF_SEGMENT = {
    "restaurants": "restaurants",
    "reviews": "reviews",
    "auth": "users",
    "users": "users",
    "admin": "users",
    "statistics": "statistics",
}

# (source, version, group, route template, outcome: a status class or CLIENT_ABORT)
SeriesKey = tuple[str, str, str, str, str]


def mark_source(scope: MutableMapping[str, Any], source: str) -> None:
    """Say where a request came from, before it reaches the metrics middleware.

    A layer that makes requests of its own (parity's shadow run calls the app with a scope it
    built, perf's in-process runs) calls this on that scope, so the metrics count them under
    ``shadow`` or ``synthetic`` and never as client traffic. It sets the request context's
    ``source``; without it a request is ``stable`` when the stable-path router routed it,
    else ``direct``."""
    if source not in SOURCES:
        raise ValueError(f"unknown traffic source {source!r}; one of {', '.join(SOURCES)}")
    context_of(scope).source = source


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
