"""Prometheus exposition (prometheus_client), fed from drained recorder batches.

The request path never touches prometheus_client: each batch the recorder hands over (at
every flush, and just before a scrape) is added to pre-bound labelled children. The fine
log-linear buckets fold exactly into the Prometheus bounds because every bound below is a
bucket edge (three significant digits). With ``PROMETHEUS_MULTIPROC_DIR`` set (``bistro
serve --workers N``), values live in that directory's mmap files and a scrape of any worker
merges every worker's files.
"""

from __future__ import annotations

import os
import tempfile
from bisect import bisect_left
from typing import Any

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    ProcessCollector,
    generate_latest,
)
from prometheus_client.multiprocess import MultiProcessCollector

from bistro.monitoring.histogram import bucket_bounds
from bistro.monitoring.recorder import CLIENT_ABORT, Series, SeriesKey

BOUNDS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
_BOUNDS_US = [round(b * 1_000_000) for b in BOUNDS]


def prepare_multiprocess(workers: int) -> str | None:
    """Before uvicorn forks several workers: give them one shared, empty directory for
    prometheus_client's multiprocess files (unless the operator chose one)."""
    if workers <= 1:
        return None
    directory = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if not directory:
        directory = tempfile.mkdtemp(prefix="bistro-prometheus-")
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = directory
    os.makedirs(directory, exist_ok=True)
    return directory


def prom_bucket(index: int) -> int:
    """Position of a fine bucket among the Prometheus buckets (len(BOUNDS) is +Inf)."""
    _, upper = bucket_bounds(index)
    return bisect_left(_BOUNDS_US, upper)


class PrometheusExporter:
    def __init__(self, multiproc_dir: str | None = None) -> None:
        self.multiproc_dir = multiproc_dir or os.environ.get("PROMETHEUS_MULTIPROC_DIR")
        # Metrics register in this app's own registry (several apps can live in one test
        # process); in multiprocess mode the registry only exists to own them.
        self.registry = CollectorRegistry(auto_describe=True)
        if not self.multiproc_dir:
            ProcessCollector(registry=self.registry)
        self.requests = Counter(
            "bistro_http_requests",
            "HTTP requests, by traffic source (stable, direct, shadow, synthetic), API "
            "version, endpoint group, route template and outcome: the status class, or "
            "client_abort when the client went away before the response was complete.",
            ["source", "version", "group", "route", "status_class"],
            registry=self.registry,
        )
        self.duration = Histogram(
            "bistro_http_request_duration_seconds",
            "Server time from the request to the response's first byte, less time spent "
            "waiting for the client's body (client aborts are not observed).",
            ["source", "version", "group", "route"],
            buckets=BOUNDS,
            registry=self.registry,
        )
        self.response_bytes = Counter(
            "bistro_http_response_bytes",
            "Response body bytes sent.",
            ["source", "version", "group", "route"],
            registry=self.registry,
        )
        self.cache_lookups = Counter(
            "bistro_cache_lookups",
            "Cache lookups by level and result (hit or miss).",
            ["level", "result"],
            registry=self.registry,
        )
        self.database_up = Gauge(
            "bistro_database_up",
            "1 when this process's last database probe succeeded.",
            registry=self.registry,
            multiprocess_mode="livemin",
        )
        self._children: dict[SeriesKey, tuple[Any, Any, Any]] = {}
        self._prom_index: dict[int, int] = {}

    def _bind(self, key: SeriesKey) -> tuple[Any, Any, Any]:
        source, version, group, route, outcome = key
        # An aborted request has no server latency worth a statistic: not observed.
        aborted = outcome == CLIENT_ABORT
        children = (
            self.requests.labels(source, version, group, route, outcome),
            None if aborted else self.duration.labels(source, version, group, route),
            self.response_bytes.labels(source, version, group, route),
        )
        self._children[key] = children
        return children

    def apply(self, batch: dict[SeriesKey, Series]) -> None:
        for key, series in batch.items():
            children = self._children.get(key) or self._bind(key)
            requests, duration, size = children
            requests.inc(series.requests)
            size.inc(series.bytes_out)
            if duration is None:
                continue
            # Histogram has no bulk observe: add whole counts to its (non-cumulative) buckets.
            buckets = duration._buckets
            for index, count in series.histogram.items():
                position = self._prom_index.get(index)
                if position is None:
                    position = self._prom_index[index] = prom_bucket(index)
                buckets[position].inc(count)
            duration._sum.inc(series.latency_sum)

    def apply_cache(self, deltas: dict[str, tuple[int, int]]) -> None:
        for level, (hits, misses) in deltas.items():
            if hits:
                self.cache_lookups.labels(level, "hit").inc(hits)
            if misses:
                self.cache_lookups.labels(level, "miss").inc(misses)

    def render(self) -> tuple[bytes, str]:
        if self.multiproc_dir:
            registry = CollectorRegistry()
            MultiProcessCollector(registry, path=self.multiproc_dir)
            return generate_latest(registry), CONTENT_TYPE_LATEST
        return generate_latest(self.registry), CONTENT_TYPE_LATEST
