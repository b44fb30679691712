"""Fault drills: prove the controller rolls back, on the real service, on purpose.

``bistro drill`` stores a drill (group, error rate, added latency, duration) in the database.
Every instance started with ``BISTRO_ALLOW_FAULT_INJECTION=true`` polls for active drills and
applies them to **every v4 response of that group** (stable path and direct, cache hits
included: the layer sits in front of the whole app), never to v3. A drill ends by itself at
its end time. Instances without the setting (the default) install no layer at all.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime

import orjson
import structlog
from starlette.types import ASGIApp, Receive, Scope, Send

from bistro.core.clock import Clock
from bistro.core.context import CONTEXT_KEY, RequestContext
from bistro.core.database import Database
from bistro.monitoring.recorder import classify
from bistro.rollout.store import RolloutStore

log = structlog.get_logger("bistro.rollout")

DRILL_GROUPS = ("restaurants", "reviews", "users", "statistics")
# Which v4 responses a drill hits: all of them, or only those of stable-path requests, or only
# direct /api/v4 calls (to show that direct traffic never moves a rollout).
DRILL_TRAFFIC = ("all", "stable", "direct")


@dataclass(frozen=True, slots=True)
class ActiveDrill:
    id: int
    group: str
    error_rate: float
    latency_ms: float
    ends_at: datetime
    traffic: str = "all"

    def applies(self, stable: bool) -> bool:
        return self.traffic == "all" or (self.traffic == "stable") == stable


class DrillBoard:
    """This instance's view of the active drills, refreshed from the database."""

    def __init__(self, clock: Clock, poll_seconds: float) -> None:
        self.db: Database | None = None
        self.clock = clock
        self.poll_seconds = poll_seconds
        self._by_group: dict[str, ActiveDrill] = {}
        self._task: asyncio.Task[None] | None = None
        self.injected_errors = 0
        self.delayed = 0

    def for_group(self, group: str) -> ActiveDrill | None:
        drill = self._by_group.get(group)
        if drill is not None and drill.ends_at <= self.clock.now():
            return None  # expired since the last poll: it ends on time, not a poll later
        return drill

    async def refresh(self) -> None:
        if self.db is None:
            raise RuntimeError("the drill board has not been started")
        async with self.db.sessionmaker() as session:
            rows = await RolloutStore(session).drills_active(self.clock.now())
        self._by_group = {
            r.grp: ActiveDrill(r.id, r.grp, r.error_rate, r.latency_ms, r.ends_at, r.traffic)
            for r in rows
        }

    async def start(self, db: Database) -> None:
        self.db = db
        self._task = asyncio.create_task(self._loop(), name="bistro-drills")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _loop(self) -> None:
        while True:
            try:
                await self.refresh()
            except Exception as exc:  # no database: keep the last view until it answers
                log.warning("drill_poll_failed", error=type(exc).__name__)
            await asyncio.sleep(self.poll_seconds)


class FaultDrillMiddleware:
    """Injects the active drill's errors and latency into v4 responses of its group.

    Inside the stable-path router (it sees the version the router chose in the path) and
    inside the metrics middleware (the injected failures are counted like real ones: that
    is what the controller must catch)."""

    def __init__(
        self,
        app: ASGIApp,
        board: DrillBoard,
        *,
        chance: Callable[[], float] = random.random,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.app = app
        self.board = board
        self.chance = chance
        self.sleep = sleep

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not scope["path"].startswith("/api/v4/"):
            await self.app(scope, receive, send)
            return
        context: RequestContext | None = scope.get(CONTEXT_KEY)
        if context is not None and context.version is not None and context.group is not None:
            version, group = context.version, context.group
            stable = context.stable_path is not None
        else:  # mounted without the router (its tests): classify the path itself
            version, group, _ = classify(scope["path"])
            stable = False
        drill = self.board.for_group(group) if version == "v4" else None
        if drill is None or not drill.applies(stable):
            await self.app(scope, receive, send)
            return
        if drill.latency_ms > 0:
            self.board.delayed += 1
            await self.sleep(drill.latency_ms / 1000)
        if drill.error_rate > 0 and self.chance() < drill.error_rate:
            self.board.injected_errors += 1
            await _injected_error(send, drill)
            return
        await self.app(scope, receive, send)


async def _injected_error(send: Send, drill: ActiveDrill) -> None:
    body = orjson.dumps(
        {
            "success": False,
            "error": f"Injected fault (drill {drill.id})",
            "status_code": 500,
            "code": "FAULT_DRILL",
            "details": {"drill": drill.id, "group": drill.group},
        }
    )
    await send(
        {
            "type": "http.response.start",
            "status": 500,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
