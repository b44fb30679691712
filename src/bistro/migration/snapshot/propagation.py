"""Keeping every instance's in-memory snapshot current.

Each change (from any instance, or the CLI) bumps a one-row counter in the same transaction.
Every instance polls that counter (one primary-key SELECT, every ``poll_interval`` seconds,
0.25 s by default) and reloads the flags when it moved. Polling works the same on SQLite and
PostgreSQL, needs no extra connection per instance, and bounds propagation to the interval plus
one reload (measured in tests/e2e/test_flag_propagation.py: well under a second).
The instance that made a change reloads at once. A failed poll keeps the last good snapshot.
"""

from __future__ import annotations

import asyncio
import contextlib

import structlog

from bistro.core.clock import Clock, SystemClock
from bistro.core.database import Database
from bistro.migration.env import EnvPins
from bistro.migration.evaluation import Snapshot
from bistro.migration.service import FlagService
from bistro.migration.store.repository import FlagRepository, read_version

log = structlog.get_logger("bistro.flags")


class SnapshotHolder:
    """The current snapshot; swapped atomically (one attribute assignment) on every reload."""

    def __init__(self, pins: EnvPins, clock: Clock | None = None) -> None:
        self.pins = pins
        self.clock = clock or SystemClock()
        self.snapshot = Snapshot({}, pins, version=-1)
        self.loaded_at: float | None = None
        self._lock = asyncio.Lock()

    async def reload(self, db: Database) -> Snapshot:
        async with self._lock, db.sessionmaker() as session:
            version = await read_version(session)
            states = await FlagService(FlagRepository(session), self.clock).states()
        self.snapshot = Snapshot(states, self.pins, version)
        self.loaded_at = self.clock.monotonic()
        return self.snapshot


class VersionPoller:
    """Background task: reload the snapshot whenever the change counter moves."""

    def __init__(self, holder: SnapshotHolder, db: Database, interval: float) -> None:
        self.holder = holder
        self.db = db
        self.interval = interval
        self.polls = 0
        self.failures = 0
        self._task: asyncio.Task[None] | None = None

    async def poll_once(self) -> bool:
        """One poll; True when it reloaded."""
        self.polls += 1
        async with self.db.engine.connect() as conn:
            version = await read_version(conn)
        if version != self.holder.snapshot.version:
            await self.holder.reload(self.db)
            return True
        return False

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self.interval)
            try:
                await self.poll_once()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # keep serving the last good snapshot
                self.failures += 1
                log.warning("flag_poll_failed", error=type(exc).__name__, detail=str(exc)[:200])

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="bistro-flag-poller")

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
