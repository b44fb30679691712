"""The monitoring service of one process: created in the app's lifespan, one background task.

The task flushes metrics every ``flush_interval`` and evaluates alerts every
``alert_interval``. Tests drive ``flush()`` and ``alerts.evaluate()`` directly with a fake
clock instead of waiting for the loop.
"""

from __future__ import annotations

import asyncio
import contextlib
from datetime import timedelta
from typing import Any

import psutil
import structlog

from bistro.core.cache.two_level import Cache
from bistro.core.clock import Clock
from bistro.core.database import Database
from bistro.core.settings import Settings
from bistro.monitoring import health
from bistro.monitoring.alerts import AlertManager, ProcessSampler, sample_host
from bistro.monitoring.notifier import Sleep, WebhookNotifier
from bistro.monitoring.pipeline import CacheCounts, MetricsPipeline
from bistro.monitoring.prom import PrometheusExporter
from bistro.monitoring.recorder import Recorder

log = structlog.get_logger("bistro.monitoring")

STATE_KEY = "monitoring"


def cache_level_counts(cache: Cache) -> CacheCounts:
    """Cumulative (hits, misses) per level from the cache's own counters. An L2 error or a
    lookup skipped by the open breaker did not hit, so it counts as an L2 miss."""
    stats = cache.stats

    def counts() -> dict[str, tuple[int, int]]:
        out = {"l1": (stats.l1_hits, stats.l1_misses)}
        if cache.l2 is not None:
            out["l2"] = (stats.l2_hits, stats.l2_misses + stats.l2_errors + stats.l2_skipped)
        return out

    return counts


class Monitoring:
    def __init__(
        self,
        settings: Settings,
        db: Database,
        clock: Clock,
        recorder: Recorder,
        exporter: PrometheusExporter,
        *,
        cache: Cache | None = None,
        cache_counts: CacheCounts | None = None,
        sampler: ProcessSampler = sample_host,
        sleep: Sleep = asyncio.sleep,
        instance: str | None = None,
    ) -> None:
        self.settings = settings.monitoring
        self.cache = cache
        if cache_counts is None and cache is not None:
            cache_counts = cache_level_counts(cache)
        self.db = db
        self.clock = clock
        self.exporter = exporter
        self.pipeline = MetricsPipeline(
            db,
            clock,
            recorder,
            exporter,
            retention=timedelta(hours=self.settings.retention_hours),
            cache_counts=cache_counts,
            instance=instance,
        )
        self.notifier = WebhookNotifier(
            self.settings.alert_webhook_url,
            retries=self.settings.alert_webhook_retries,
            timeout=self.settings.alert_webhook_timeout,
            sleep=sleep,
        )
        self.alerts = AlertManager(self.settings, db, clock, self.pipeline, self.notifier, sampler)
        self._process = psutil.Process()
        self._process.cpu_percent(interval=None)  # prime: the next call measures from here
        self._task: asyncio.Task[None] | None = None

    @property
    def instance(self) -> str:
        return self.pipeline.instance

    async def start(self, *, background: bool = True) -> None:
        self.notifier.start()
        if background and self.settings.enabled:
            self._task = asyncio.create_task(self._loop(), name="bistro-monitoring")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        with contextlib.suppress(Exception):
            await self.pipeline.flush()  # what this process saw since the last flush
        await self.notifier.stop()

    async def flush(self) -> bool:
        return await self.pipeline.flush()

    async def _loop(self) -> None:
        interval = self.settings.flush_interval
        every = max(1, round(self.settings.alert_interval / interval))
        ticks = 0
        while True:
            await asyncio.sleep(interval)
            ticks += 1
            try:
                await self.pipeline.flush()
                if ticks % every == 0:
                    await self.alerts.evaluate()
            except Exception:  # keep the loop alive whatever one round does
                log.exception("monitoring_round_failed")

    async def health(self) -> dict[str, Any]:
        cache_hit_rate = None
        try:
            summary = await self.pipeline.summary(self.settings.alert_window_seconds)
            cache_hit_rate = summary["cache"]["hit_rate"]
        except Exception as exc:
            log.warning("health_window_query_failed", error=type(exc).__name__)
        components = {
            "database": await health.database_health(self.db),
            "cache": await health.redis_health(
                self.cache.l2 if self.cache is not None else None, cache_hit_rate
            ),
            "services": health.services_health(
                self.settings.flush_interval,
                self.pipeline.last_flush_ok,
                self.clock.now(),
                self.pipeline.consecutive_failures,
                self.notifier.queued,
            ),
            "process": health.process_health(self._process),
        }
        self.exporter.database_up.set(
            0 if components["database"]["status"] == health.UNHEALTHY else 1
        )
        overall = health.worst([c["status"] for c in components.values()])
        return {
            "status": overall,
            "instance": self.instance,
            "checked_at": self.clock.now(),
            "components": components,
        }

    def render_prometheus(self) -> tuple[bytes, str]:
        self.pipeline.collect()
        return self.exporter.render()
