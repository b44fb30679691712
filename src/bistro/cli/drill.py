"""``bistro drill``: inject v4 faults on purpose and time the controller's answer.

The drill is stored in the database; every instance started with
``BISTRO_ALLOW_FAULT_INJECTION=true`` applies it to every v4 response of the group (never v3)
until it expires. The command waits until it sees the rollout step back or roll back (or the
duration ends), ends the drill, and prints the time to detect and the time to roll back.
"""

from __future__ import annotations

import asyncio
import time
from datetime import timedelta
from typing import Annotated, Any

import typer

from bistro.cli.common import (
    EXIT_USAGE,
    DatabaseUrlOption,
    JsonOption,
    cli_errors,
    database_settings,
    emit,
    fail,
    run,
)
from bistro.cli.flagcommon import ActorOption, actor_name
from bistro.core.clock import SystemClock
from bistro.core.database import Database
from bistro.core.logging import configure_logging
from bistro.migration.flags import GROUP_FLAGS
from bistro.rollout.config import InvalidRolloutConfig, parse_duration
from bistro.rollout.drill import DRILL_GROUPS, DRILL_TRAFFIC
from bistro.rollout.models import DrillRow
from bistro.rollout.store import RolloutStore

ROLLBACK_ACTIONS = ("emergency_rollback", "step_back")


def drill(
    group: Annotated[str, typer.Option("--group", help=", ".join(DRILL_GROUPS))],
    error_rate: Annotated[
        float, typer.Option("--error-rate", min=0, max=1, help="Share of v4 responses to fail.")
    ] = 0.0,
    latency_ms: Annotated[
        float, typer.Option("--latency-ms", min=0, max=60_000, help="Added to each v4 response.")
    ] = 0.0,
    duration: Annotated[
        str, typer.Option("--duration", help="30s, 5m... (ends by itself).")
    ] = "60s",
    traffic: Annotated[
        str, typer.Option("--traffic", help="all, stable (the stable path) or direct (/api/v4).")
    ] = "all",
    wait: Annotated[
        bool, typer.Option("--wait/--no-wait", help="Wait for the rollback and time it.")
    ] = True,
    actor: ActorOption = None,
    database_url: DatabaseUrlOption = None,
    json_output: JsonOption = False,
) -> None:
    """Inject v4 errors and/or latency on one endpoint group and time the rollback."""
    with cli_errors(database_url):
        if group not in DRILL_GROUPS:
            fail(f"unknown group {group!r}; groups: {', '.join(DRILL_GROUPS)}", EXIT_USAGE)
        if traffic not in DRILL_TRAFFIC:
            fail(f"--traffic must be one of {', '.join(DRILL_TRAFFIC)}", EXIT_USAGE)
        if error_rate == 0 and latency_ms == 0:
            fail("a drill needs --error-rate and/or --latency-ms", EXIT_USAGE)
        try:
            seconds = parse_duration(duration, "duration")
        except InvalidRolloutConfig as exc:
            fail(str(exc), EXIT_USAGE)
        url = database_settings(database_url).url
        result = run(
            _drill(
                url,
                group,
                error_rate,
                latency_ms,
                seconds,
                traffic,
                wait,
                actor_name(actor),
                json_output,
            )
        )
    emit(result, json_output=json_output, human=_human(result))


async def _drill(
    url: str,
    group: str,
    error_rate: float,
    latency_ms: float,
    seconds: float,
    traffic: str,
    wait: bool,
    actor: str,
    quiet: bool,
) -> dict[str, Any]:
    configure_logging("auto", "error")
    clock = SystemClock()
    db = Database(database_settings(url))
    try:
        now = clock.now()
        async with db.unit_of_work() as session:
            store = RolloutStore(session)
            live = await store.instances_seen_since(now - timedelta(seconds=60))
            allowing = [i.instance for i in live if i.fault_injection]
            if not allowing:
                fail(
                    "refused: no running instance allows fault injection "
                    "(start them with BISTRO_ALLOW_FAULT_INJECTION=true)"
                )
            row = await store.add_drill(
                DrillRow(
                    grp=group,
                    error_rate=error_rate,
                    latency_ms=latency_ms,
                    traffic=traffic,
                    starts_at=now,
                    ends_at=now + timedelta(seconds=seconds),
                    created_by=actor[:120],
                )
            )
            drill_id, started = row.id, row.starts_at
        result: dict[str, Any] = {
            "drill": drill_id,
            "group": group,
            "error_rate": error_rate,
            "latency_ms": latency_ms,
            "traffic": traffic,
            "duration_seconds": seconds,
            "instances": allowing,
            "started_at": started,
            "rolled_back": False,
        }
        if not wait:
            return result
        flag = GROUP_FLAGS[group].value
        deadline = time.monotonic() + seconds
        found = None
        with _waiting(quiet, seconds) as tick:
            while time.monotonic() < deadline:
                async with db.sessionmaker() as session:
                    for d in await RolloutStore(session).decisions(flag=flag, limit=20):
                        if d.action in ROLLBACK_ACTIONS and d.at >= started:
                            found = d
                if found is not None and found.applied_at is not None:
                    break
                tick()
                await asyncio.sleep(0.25)
        async with db.unit_of_work() as session:
            await RolloutStore(session).end_drill(drill_id, clock.now())
        if found is not None:
            result.update(
                rolled_back=True,
                action=found.action,
                decision=found.id,
                reason=found.reason,
                time_to_detect_seconds=round((found.at - started).total_seconds(), 3),
                time_to_rollback_seconds=(
                    round((found.applied_at - started).total_seconds(), 3)
                    if found.applied_at
                    else None
                ),
                numbers=found.numbers,
            )
        return result
    finally:
        await db.dispose()


class _waiting:
    """A progress bar on stderr while the command waits (hidden with --json)."""

    def __init__(self, quiet: bool, seconds: float) -> None:
        from bistro.cli.common import progress

        self.bar = progress(enabled=not quiet)
        self.seconds = seconds
        self.started = time.monotonic()

    def __enter__(self) -> Any:
        self.bar.start()
        task = self.bar.add_task("drill", total=round(self.seconds))

        def tick() -> None:
            self.bar.update(task, completed=min(self.seconds, time.monotonic() - self.started))

        return tick

    def __exit__(self, *exc: object) -> None:
        self.bar.stop()


def _human(result: dict[str, Any]) -> str:
    head = (
        f"drill {result['drill']} on {result['group']}: {result['error_rate']:.0%} errors, "
        f"+{result['latency_ms']:g} ms, for {result['duration_seconds']:g} s "
        f"on {len(result['instances'])} instance(s)"
    )
    if "time_to_detect_seconds" not in result:
        if result.get("rolled_back") is False and "started_at" in result:
            return head + "\nno rollback seen before the drill ended"
        return head
    return (
        f"{head}\n{result['action']}: detected after {result['time_to_detect_seconds']} s, "
        f"flag changed after {result['time_to_rollback_seconds']} s\n{result['reason']}"
    )
