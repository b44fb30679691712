"""Exactly one controller at a time: a lease row in the database.

The holder renews it every round; when the holder dies, the lease expires and the next
instance to try takes it (within ``ttl`` seconds) and resumes from the stored state. Losing
the lease mid-evaluation is harmless: every transition is a compare-and-set on the rollout's
version, so two controllers can never apply the same step twice.
"""

from __future__ import annotations

from datetime import timedelta

import structlog

from bistro.core.clock import Clock
from bistro.core.database import Database
from bistro.rollout.store import LeaseStore

log = structlog.get_logger("bistro.rollout")

LEASE_NAME = "controller"


class Lease:
    def __init__(self, db: Database, clock: Clock, holder: str, ttl: float) -> None:
        self.db = db
        self.clock = clock
        self.holder = holder
        self.ttl = ttl
        self.held = False
        self.acquisitions = 0

    async def refresh(self) -> bool:
        """Take or renew the lease; True while this instance holds it."""
        now = self.clock.now()
        try:
            async with self.db.unit_of_work() as session:
                store = LeaseStore(session)
                held = await store.acquire(
                    LEASE_NAME, self.holder, now, now + timedelta(seconds=self.ttl)
                )
                if held and not self.held:
                    await store.mark_acquired(LEASE_NAME, self.holder, now)
        except Exception as exc:  # the database is away: we cannot know we still hold it
            log.warning("rollout_lease_refresh_failed", error=type(exc).__name__)
            held = False
        if held and not self.held:
            self.acquisitions += 1
            log.info("rollout_lease_acquired", holder=self.holder)
        elif self.held and not held:
            log.warning("rollout_lease_lost", holder=self.holder)
        self.held = held
        return held

    async def release(self) -> None:
        if not self.held:
            return
        try:
            async with self.db.unit_of_work() as session:
                await LeaseStore(session).release(LEASE_NAME, self.holder, self.clock.now())
        except Exception as exc:
            log.warning("rollout_lease_release_failed", error=type(exc).__name__)
        self.held = False
        log.info("rollout_lease_released", holder=self.holder)
