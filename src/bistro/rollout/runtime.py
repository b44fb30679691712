"""The rollout feature as one object a process owns: heartbeat, lease, the controller loop,
Prometheus metrics and the status file.

Every ``bistro serve`` instance reports in (its environment pins, whether it allows fault
drills) and competes for the lease; the holder evaluates the due rollouts. ``bistro rollout
run`` runs the same loop on its own. Tests call :meth:`RolloutRuntime.tick` with a fake clock
instead of waiting for the loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import tempfile
from pathlib import Path
from typing import Any

import orjson
import structlog
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from bistro.core.clock import Clock
from bistro.core.database import Database
from bistro.core.settings import RolloutSettings
from bistro.migration.runtime import FlagRuntime
from bistro.rollout.controller import Applied, Notify, ParityReader, RolloutController
from bistro.rollout.lease import Lease
from bistro.rollout.machine import Action
from bistro.rollout.service import published_pins, status_payload
from bistro.rollout.store import RolloutStore

log = structlog.get_logger("bistro.rollout")

STATE_KEY = "rollout"


class RolloutMetrics:
    """Percentage per flag, decisions by action, and the controller's own time to roll back."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.percentage = Gauge(
            "bistro_rollout_percentage",
            "Share of stable-path traffic the rollout sends to v4, per flag.",
            ["flag"],
            registry=registry,
            multiprocess_mode="mostrecent",
        )
        self.decisions = Counter(
            "bistro_rollout_decisions",
            "Rollout decisions, by flag and action (hold, increment, step_back, ...).",
            ["flag", "action"],
            registry=registry,
        )
        self.time_to_rollback = Histogram(
            "bistro_rollout_time_to_rollback_seconds",
            "From the first failed v4 request in the window to the flag change that "
            "stepped back or rolled back.",
            ["action"],
            buckets=(1, 2, 5, 10, 20, 30, 60, 120, 300, 600, 1800, 3600),
            registry=registry,
        )
        self.lease_held = Gauge(
            "bistro_rollout_controller_lease_held",
            "1 while this process holds the rollout controller lease.",
            registry=registry,
            multiprocess_mode="livemax",
        )

    def observe(self, applied: list[Applied]) -> None:
        for a in applied:
            self.decisions.labels(a.flag, a.decision.action.value).inc()
            self.percentage.labels(a.flag).set(a.decision.progress.percentage)
            seconds = a.numbers.get("time_to_rollback_seconds")
            if seconds is not None and a.decision.action in (
                Action.EMERGENCY_ROLLBACK,
                Action.STEP_BACK,
            ):
                self.time_to_rollback.labels(a.decision.action.value).observe(seconds)


def write_status_file(path: str, payload: dict[str, Any]) -> None:
    """Atomically: a reader never sees half a file."""
    target = Path(path)
    data = orjson.dumps(payload, option=orjson.OPT_INDENT_2 | orjson.OPT_NON_STR_KEYS)
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.")
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(data)
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


class RolloutRuntime:
    def __init__(
        self,
        settings: RolloutSettings,
        db: Database,
        clock: Clock,
        instance: str,
        *,
        flags: FlagRuntime | None = None,
        registry: CollectorRegistry | None = None,
        notify: Notify | None = None,
        parity: ParityReader | None = None,
    ) -> None:
        self.settings = settings
        self.db = db
        self.clock = clock
        self.instance = instance
        self.flags = flags
        self.metrics = RolloutMetrics(registry) if registry is not None else None
        self.controller = RolloutController(
            db, clock, flags, notify=notify, parity=parity, on_change=self._changed
        )
        self.lease = Lease(db, clock, instance, settings.lease_seconds)
        self._task: asyncio.Task[None] | None = None
        self._last_heartbeat: float | None = None

    async def start(self, *, background: bool = True) -> None:
        await self.heartbeat()
        if background and self.settings.controller:
            self._task = asyncio.create_task(self._loop(), name="bistro-rollout")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        await self.lease.release()  # the next instance takes over at once, not at expiry
        if self.metrics is not None:
            self.metrics.lease_held.set(0)
        with contextlib.suppress(Exception):
            async with self.db.unit_of_work() as session:
                await RolloutStore(session).forget_instance(self.instance)

    async def heartbeat(self) -> None:
        pins = published_pins(self.flags.pins) if self.flags is not None else {}
        try:
            async with self.db.unit_of_work() as session:
                await RolloutStore(session).heartbeat(
                    self.instance, pins, self.settings.allow_fault_injection, self.clock.now()
                )
        except Exception as exc:
            log.warning("rollout_heartbeat_failed", error=type(exc).__name__)
        self._last_heartbeat = self.clock.monotonic()

    async def tick(self) -> list[Applied]:
        """One round: report in when due, hold the lease, evaluate what is due."""
        due = self._last_heartbeat is None or (
            self.clock.monotonic() - self._last_heartbeat >= self.settings.heartbeat_seconds
        )
        if due:
            await self.heartbeat()
        held = await self.lease.refresh()
        if self.metrics is not None:
            self.metrics.lease_held.set(1 if held else 0)
        if not held:
            return []
        return await self.controller.evaluate_due()

    async def _loop(self) -> None:
        # Renew well inside the lease time, so a slow round never lets it lapse.
        pause = min(self.settings.tick_seconds, self.settings.lease_seconds / 3)
        while True:
            try:
                await self.tick()
            except Exception:  # keep the controller alive whatever one round does
                log.exception("rollout_round_failed")
            await asyncio.sleep(pause)

    async def _changed(self, applied: list[Applied]) -> None:
        if self.metrics is not None:
            self.metrics.observe(applied)
        if self.settings.status_file:
            await self.write_status()

    async def write_status(self) -> None:
        assert self.settings.status_file is not None
        try:
            async with self.db.sessionmaker() as session:
                payload = await status_payload(session, self.clock.now())
            await asyncio.to_thread(write_status_file, self.settings.status_file, payload)
        except Exception as exc:  # a status file problem must never stop the controller
            log.warning("rollout_status_file_failed", error=type(exc).__name__)
