"""Parity in a running process: the shadow runner, its counters, their flush, and noise.

Created in ``create_app``; the shadow layer attaches the app it wraps (the shadow runs go
through the same inner layers as the client's request); started and stopped in the lifespan.
Every ``flush_interval`` the process writes its counters per endpoint group into
``parity_buckets`` and its (redacted) mismatch examples into ``parity_examples``; a failed
flush keeps them for the next one. Every ``noise_refresh`` it reloads the noise the last
``bistro parity run --save-noise`` stored, and adds the settings' ignore list to it.
"""

from __future__ import annotations

import asyncio
import contextlib
from datetime import datetime, timedelta

import structlog
from prometheus_client import CollectorRegistry, Counter
from starlette.types import ASGIApp

from bistro.core.cache import Cache
from bistro.core.clock import Clock
from bistro.core.database import Database
from bistro.parity.models import COUNTERS
from bistro.parity.noise import NoiseModel
from bistro.parity.repository import ParityRepository
from bistro.parity.settings import ParitySettings
from bistro.parity.shadow import ShadowRunner, ShadowStats

log = structlog.get_logger("bistro.parity")

STATE_KEY = "parity"
OUTCOMES = tuple(name for name in COUNTERS if name != "compared")  # compared = the first 3


class ParityRuntime:
    def __init__(
        self,
        settings: ParitySettings,
        clock: Clock,
        registry: CollectorRegistry | None = None,
        instance: str = "",
    ) -> None:
        self.settings = settings
        self.clock = clock
        self.instance = instance[:64]
        self.counter: Counter | None = None
        if registry is not None:
            self.counter = Counter(
                "bistro_parity_shadow",
                "Shadow comparisons of v3 and v4 by endpoint group and outcome (matched, "
                "mismatched, noise; errors, skipped and dropped runs are not comparisons).",
                ["group", "outcome"],
                registry=registry,
            )
        self.stats = ShadowStats(on_count=self._count)
        self.noise = NoiseModel(everywhere=frozenset(settings.ignore))
        self.inner_app: ASGIApp | None = None
        self.runner: ShadowRunner | None = None
        self.db: Database | None = None
        self.last_flush_ok: datetime | None = None
        self._task: asyncio.Task[None] | None = None
        self._started = False
        self._cache: Cache | None = None

    def _count(self, group: str, counter: str, n: int) -> None:
        if self.counter is not None and counter != "compared":
            self.counter.labels(group, counter).inc(n)

    def attach(self, app: ASGIApp) -> None:
        """Called by the shadow layer: shadow runs go to the app it wraps."""
        self.inner_app = app

    def current_runner(self) -> ShadowRunner | None:
        """The runner, made on first use: the middleware stack (and so the layer that
        attaches the inner app) may be built after the lifespan started this runtime."""
        if self.runner is None and self.inner_app is not None and self._started:
            generations = self._cache.generations.snapshot if self._cache is not None else None
            self.runner = ShadowRunner(
                self.inner_app,
                self.settings,
                self.clock,
                self.stats,
                lambda: self.noise,
                generations,
            )
            self.runner.start()
        return self.runner

    async def start(
        self,
        db: Database,
        cache: Cache | None,
        *,
        background: bool = True,
    ) -> None:
        self.db = db
        self._cache = cache
        self._started = True
        with contextlib.suppress(Exception):  # no table yet or no database: noise from settings
            await self.reload_noise()
        self.current_runner()
        if background:
            self._task = asyncio.create_task(self._loop(), name="bistro-parity")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        self._started = False
        if self.runner is not None:
            await self.runner.stop()
            self.runner = None
        with contextlib.suppress(Exception):
            await self.flush()

    async def _loop(self) -> None:
        since_noise = 0.0
        while True:
            await asyncio.sleep(self.settings.flush_interval)
            since_noise += self.settings.flush_interval
            try:
                await self.flush()
                if since_noise >= self.settings.noise_refresh:
                    since_noise = 0.0
                    await self.reload_noise()
            except Exception:  # keep the loop alive whatever one round does
                log.exception("parity_round_failed")

    async def reload_noise(self) -> None:
        assert self.db is not None
        async with self.db.unit_of_work() as session:
            learned = await ParityRepository(session).noise()
        self.noise = NoiseModel.from_mapping(learned, self.settings.ignore)

    async def flush(self) -> bool:
        """Write the interval's counters and examples; True on success (or nothing to do)."""
        if self.db is None:
            return False
        pending, examples = self.stats.drain()
        if not pending and not examples:
            return True
        now = self.clock.now()
        rows = [
            {"bucket_start": now, "instance": self.instance, "grp": group, **counts}
            for group, counts in pending.items()
        ]
        try:
            async with self.db.unit_of_work() as session:
                repo = ParityRepository(session)
                await repo.add_buckets(rows)
                await repo.add_examples(examples, self.settings.examples_kept)
                await repo.prune(now - timedelta(hours=self.settings.retention_hours))
        except Exception as exc:  # the store is down: keep them for the next flush
            self.stats.restore(pending, examples)
            log.warning("parity_flush_failed", error=type(exc).__name__)
            return False
        self.last_flush_ok = now
        return True
