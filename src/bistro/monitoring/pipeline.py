"""Local accumulation -> compact time buckets in the shared store (and Prometheus).

Every ``flush_interval`` seconds each process drains its recorder, folds the batch into one
row per (source, version, group, route) for the interval, adds the cache hit/miss deltas, and
writes them in one transaction, together with its per-minute rollups (one row per source,
version and group for the minute the interval's bucket starts in: the running sum this
process keeps, upserted whole; only this process writes its rows). If the database is down
the rows stay pending and go out with the next successful flush, so nothing is counted twice
or lost while the process lives.
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
from bistro.monitoring.histogram import encode, encode_pairs, merge
from bistro.monitoring.prom import PrometheusExporter
from bistro.monitoring.recorder import CLIENT_ABORT, VERSIONS, Recorder
from bistro.monitoring.repository import MetricsRepository
from bistro.monitoring.stats import timeseries, window_summary
from bistro.monitoring.window import floor_minute

log = structlog.get_logger("bistro.monitoring")

CacheCounts = Callable[[], Mapping[str, tuple[int, int]]]


def instance_name() -> str:
    return f"{socket.gethostname()[:40]}-{os.getpid()}-{uuid.uuid4().hex[:6]}"


@dataclass
class _Row:
    requests: int = 0
    errors_4xx: int = 0
    errors_5xx: int = 0
    client_aborts: int = 0
    latency_sum: float = 0.0
    bytes_out: int = 0
    histogram: dict[int, int] = field(default_factory=dict)

    def add(self, other: _Row) -> None:
        self.requests += other.requests
        self.errors_4xx += other.errors_4xx
        self.errors_5xx += other.errors_5xx
        self.client_aborts += other.client_aborts
        self.latency_sum += other.latency_sum
        self.bytes_out += other.bytes_out
        merge(self.histogram, other.histogram)

    def values(self) -> dict[str, Any]:
        return {
            "requests": self.requests,
            "errors_4xx": self.errors_4xx,
            "errors_5xx": self.errors_5xx,
            "client_aborts": self.client_aborts,
            "latency_sum": self.latency_sum,
            "bytes_out": self.bytes_out,
            "histogram": encode(self.histogram),
        }


# (source, version, group, route) of a pending bucket row; (minute, source, version, group)
# of a rollup row.
_BucketKey = tuple[str, str, str, str]
_MinuteKey = tuple[datetime, str, str, str]


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
        self._pending: dict[_BucketKey, _Row] = {}
        # This process's rollup of the minutes it may still add to (written whole each flush).
        self._minutes: dict[_MinuteKey, _Row] = {}
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
        for (source, version, group, route, outcome), series in batch.items():
            row = self._pending.get((source, version, group, route))
            if row is None:
                row = self._pending[(source, version, group, route)] = _Row()
            row.bytes_out += series.bytes_out
            if outcome == CLIENT_ABORT:
                # In no request count, error rate or latency statistic.
                row.client_aborts += series.requests
                continue
            row.requests += series.requests
            if outcome == "5xx":
                row.errors_5xx += series.requests
            elif outcome == "4xx":
                row.errors_4xx += series.requests
            row.latency_sum += series.latency_sum
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
                "source": source,
                "version": version,
                "grp": group,
                "route": route[:200],
                **row.values(),
            }
            for (source, version, group, route), row in self._pending.items()
        ]
        minutes = self._minutes_with_pending(start)
        minute_rows = [
            {
                "minute": minute,
                "instance": self.instance,
                "source": source,
                "version": version,
                "grp": group,
                **row.values(),
                "histogram": encode_pairs(row.histogram),
            }
            for (minute, source, version, group), row in minutes.items()
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
                await repo.upsert_minutes(minute_rows)
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
        self._minutes.update(minutes)
        # Later buckets start at ``now`` or after: earlier minutes are complete.
        current = floor_minute(now)
        for key in [key for key in self._minutes if key[0] < current]:
            del self._minutes[key]
        self._period_start = now
        self.last_flush_ok = now
        self.consecutive_failures = 0
        if prune:
            self._last_prune = now
        return True

    def _minutes_with_pending(self, start: datetime) -> dict[_MinuteKey, _Row]:
        """The rollup rows this flush writes: the minute's running sums plus the pending
        rows, as new objects (kept only once the write succeeds, so a failed flush that is
        retried later is not counted twice)."""
        minute = floor_minute(start)
        out: dict[_MinuteKey, _Row] = {}
        for (source, version, group, _route), row in self._pending.items():
            if version not in VERSIONS:
                continue  # the control plane's own requests are not rolled up
            key = (minute, source, version, group)
            total = out.get(key)
            if total is None:
                total = out[key] = _Row()
                previous = self._minutes.get(key)
                if previous is not None:
                    total.add(previous)
            total.add(row)
        return out

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
