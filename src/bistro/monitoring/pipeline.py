"""Local accumulation -> compact time buckets in the shared store (and Prometheus).

Every ``flush_interval`` seconds each process drains its recorder, folds the batch into one
row per (version, group, route) for the interval, adds the cache hit/miss deltas, and writes
them in one transaction. If the database is down the rows stay pending and go out with the
next successful flush, so nothing is counted twice or lost while the process lives.
"""

from __future__ import annotations

import os
import socket
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from bistro.core.clock import Clock
from bistro.core.database import Database
from bistro.monitoring.histogram import encode, merge
from bistro.monitoring.prom import PrometheusExporter
from bistro.monitoring.recorder import Recorder
from bistro.monitoring.repository import MetricsRepository
from bistro.monitoring.stats import timeseries, window_summary

log = structlog.get_logger("bistro.monitoring")

CacheCounts = Callable[[], Mapping[str, tuple[int, int]]]


def instance_name() -> str:
    return f"{socket.gethostname()[:40]}-{os.getpid()}-{uuid.uuid4().hex[:6]}"


@dataclass
class _Row:
    requests: int = 0
    errors_4xx: int = 0
    errors_5xx: int = 0
    latency_sum: float = 0.0
    bytes_out: int = 0
    histogram: dict[int, int] = field(default_factory=dict)


class MetricsPipeline:
    def __init__(
        self,
        db: Database,
        clock: Clock,
        recorder: Recorder,
        exporter: PrometheusExporter,
        *,
        retention: timedelta,
        cache_counts: CacheCounts | None = None,
        instance: str | None = None,
    ) -> None:
        self.db = db
        self.clock = clock
        self.recorder = recorder
        self.exporter = exporter
        self.retention = retention
        self.cache_counts = cache_counts
        self.instance = instance or instance_name()
        self._period_start = clock.now()
        self._pending: dict[tuple[str, str, str], _Row] = {}
        self._pending_cache: dict[str, list[int]] = {}
        self._cache_seen: dict[str, tuple[int, int]] = {}
        self.last_flush_ok: datetime | None = None
        self.consecutive_failures = 0
        self._last_prune: datetime | None = None

    def collect(self) -> None:
        """Drain the recorder into the pending rows and Prometheus (cheap; no I/O)."""
        batch = self.recorder.drain()
        if batch:
            self.exporter.apply(batch)
        for (version, group, route, status_class), series in batch.items():
            row = self._pending.get((version, group, route))
            if row is None:
                row = self._pending[(version, group, route)] = _Row()
            row.requests += series.requests
            if status_class == "5xx":
                row.errors_5xx += series.requests
            elif status_class == "4xx":
                row.errors_4xx += series.requests
            row.latency_sum += series.latency_sum
            row.bytes_out += series.bytes_out
            merge(row.histogram, series.histogram)
        if self.cache_counts is not None:
            deltas: dict[str, tuple[int, int]] = {}
            for level, (hits, misses) in self.cache_counts().items():
                seen_hits, seen_misses = self._cache_seen.get(level, (0, 0))
                # A counter that went backwards was reset: count from zero again.
                d_hits = hits - seen_hits if hits >= seen_hits else hits
                d_misses = misses - seen_misses if misses >= seen_misses else misses
                self._cache_seen[level] = (hits, misses)
                if d_hits or d_misses:
                    deltas[level] = (d_hits, d_misses)
                    pending = self._pending_cache.setdefault(level, [0, 0])
                    pending[0] += d_hits
                    pending[1] += d_misses
            if deltas:
                self.exporter.apply_cache(deltas)

    async def flush(self) -> bool:
        """Write the interval's rows; True on success (or nothing to write)."""
        self.collect()
        now = self.clock.now()
        start = self._period_start
        request_rows = [
            {
                "bucket_start": start,
                "instance": self.instance,
                "version": version,
                "grp": group,
                "route": route[:200],
                "requests": row.requests,
                "errors_4xx": row.errors_4xx,
                "errors_5xx": row.errors_5xx,
                "latency_sum": row.latency_sum,
                "bytes_out": row.bytes_out,
                "histogram": encode(row.histogram),
            }
            for (version, group, route), row in self._pending.items()
        ]
        cache_rows = [
            {
                "bucket_start": start,
                "instance": self.instance,
                "level": level,
                "hits": hits,
                "misses": misses,
            }
            for level, (hits, misses) in self._pending_cache.items()
        ]
        prune = self._last_prune is None or now - self._last_prune >= timedelta(minutes=1)
        try:
            async with self.db.unit_of_work() as session:
                repo = MetricsRepository(session)
                await repo.add_request_buckets(request_rows)
                await repo.add_cache_buckets(cache_rows)
                if prune:
                    await repo.prune(now - self.retention)
        except Exception as exc:  # the store is down: keep the rows for the next flush
            self.consecutive_failures += 1
            log.warning(
                "metrics_flush_failed",
                error=type(exc).__name__,
                pending_rows=len(request_rows),
                failures=self.consecutive_failures,
            )
            return False
        self._pending.clear()
        self._pending_cache.clear()
        self._period_start = now
        self.last_flush_ok = now
        self.consecutive_failures = 0
        if prune:
            self._last_prune = now
        return True

    async def _rows(
        self, seconds: float, session: AsyncSession | None
    ) -> tuple[Any, Any, datetime, datetime]:
        until = self.clock.now() + timedelta(microseconds=1)
        since = until - timedelta(seconds=seconds)
        if session is None:
            async with self.db.unit_of_work() as own:
                return await self._rows(seconds, own)
        repo = MetricsRepository(session)
        requests = await repo.request_rows(since, until)
        caches = await repo.cache_rows(since, until)
        return requests, caches, since, until

    async def summary(self, seconds: float, session: AsyncSession | None = None) -> dict[str, Any]:
        """Per version and group over the last ``seconds``, every instance merged.

        Pass the request's session from a route (SQLite has a single connection)."""
        requests, caches, since, until = await self._rows(seconds, session)
        return window_summary(requests, caches, seconds, since, until)

    async def summary_and_series(
        self, seconds: float, step: int, session: AsyncSession | None = None
    ) -> dict[str, Any]:
        requests, caches, since, until = await self._rows(seconds, session)
        out = window_summary(requests, caches, seconds, since, until)
        out["timeseries"] = timeseries(requests, caches, since, until, step)
        return out
