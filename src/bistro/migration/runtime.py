"""The flags feature as one object the app owns: snapshot, poller, subject cache, counters.

Built in ``create_app`` (parsing the environment pins there, so a bad ``API_V4_*`` value stops
start-up), started and stopped in the app's lifespan.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager

import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from bistro.core.clock import Clock, SystemClock
from bistro.core.database import Database, after_commit
from bistro.core.settings import FlagSettings
from bistro.migration.env import EnvPins, load_env_pins
from bistro.migration.evaluation import Snapshot
from bistro.migration.service import FlagService
from bistro.migration.snapshot.propagation import SnapshotHolder, VersionPoller
from bistro.migration.store.repository import FlagRepository
from bistro.migration.subjects import TokenSubjects
from bistro.migration.traffic import ServedCounter

log = structlog.get_logger("bistro.flags")


class FlagRuntime:
    def __init__(
        self,
        settings: FlagSettings,
        environ: Mapping[str, str] | None = None,
        clock: Clock | None = None,
    ) -> None:
        self.settings = settings
        self.clock = clock or SystemClock()
        self.pins: EnvPins = load_env_pins(os.environ if environ is None else environ)
        self.holder = SnapshotHolder(self.pins, self.clock)
        self.tokens = TokenSubjects(settings.token_cache_ttl, settings.token_cache_size, self.clock)
        self.served = ServedCounter(settings.served_window_seconds, self.clock)
        self.db: Database | None = None
        self.poller: VersionPoller | None = None

    @property
    def snapshot(self) -> Snapshot:
        return self.holder.snapshot

    async def start(self, db: Database, *, poll: bool = True) -> None:
        self.db = db
        try:
            await self.holder.reload(db)
        except Exception as exc:  # database down at start: serve the defaults (all v3 routing)
            log.warning(
                "flags_initial_load_failed", error=type(exc).__name__, detail=str(exc)[:200]
            )
        self.poller = VersionPoller(self.holder, db, self.settings.poll_interval)
        if poll:
            self.poller.start()

    async def stop(self) -> None:
        if self.poller is not None:
            await self.poller.stop()

    def database(self) -> Database:
        if self.db is None:
            raise RuntimeError("the flag runtime has not been started")
        return self.db

    async def refresh(self) -> Snapshot:
        return await self.holder.reload(self.database())

    def service(self, session: AsyncSession) -> FlagService:
        return FlagService(FlagRepository(session), self.clock)

    @asynccontextmanager
    async def changing(self, session: AsyncSession | None = None) -> AsyncIterator[FlagService]:
        """One change as one transaction; this instance sees it as soon as it commits.

        With ``session`` (a request's unit of work) the change is part of the request's
        transaction, which commits at the request's edge; the snapshot reloads after that
        commit (on its own connection: on SQLite the pool has just one).
        """
        if session is not None:
            yield self.service(session)
            after_commit(session, self.refresh)
            return
        async with self.database().unit_of_work() as own:
            yield self.service(own)
        await self.refresh()

    @asynccontextmanager
    async def reading(self, session: AsyncSession | None = None) -> AsyncIterator[FlagService]:
        if session is not None:
            yield self.service(session)
            return
        async with self.database().sessionmaker() as own:
            yield self.service(own)
