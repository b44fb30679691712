"""The migration status payload, composed of named sections.

``GET /api/v4/migration/status``, ``bistro migration status`` and the report all call
:func:`build_status`. Another feature adds its part by appending ``(name, section)`` to
``STATUS_SECTIONS`` (a section is ``async (StatusContext) -> JSON-able value``); a section that
fails is reported as ``{"error": ...}`` in its slot instead of failing the whole status.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from bistro.migration.env import EnvPins
from bistro.migration.evaluation import FlagState
from bistro.migration.flags import DESCRIPTIONS, ROUTING_FLAGS, Flag
from bistro.migration.runtime import FlagRuntime

log = structlog.get_logger("bistro.status")


@dataclass
class StatusContext:
    runtime: FlagRuntime
    # The caller's session when it has one (a request's): sections read through it.
    session: AsyncSession | None = None
    # Anything a section needs from the caller (the app state, a ``window`` query value...).
    extras: dict[str, Any] = field(default_factory=dict)


Section = Callable[[StatusContext], Awaitable[Any]]


def flag_view(state: FlagState, env: EnvPins) -> dict[str, Any]:
    """One flag as status shows it: effective values and which source decided each."""
    pins = env.for_flag(state.flag)
    overrides = len(state.overrides)
    db_source = "database" if state.from_database else "default"
    stage, percentage = state.stage.value, state.percentage
    stage_source = percentage_source = db_source
    if pins.rollout is not None:
        stage, percentage = "partial", pins.rollout
        stage_source = percentage_source = f"env:{state.flag.env_name}_ROLLOUT"
    if pins.enabled is not None:
        stage, percentage = ("full", 100.0) if pins.enabled else ("disabled", 0.0)
        stage_source = percentage_source = f"env:{state.flag.env_name}"
    return {
        "name": state.flag.value,
        "description": state.description or DESCRIPTIONS[state.flag],
        "routing": state.flag in ROUTING_FLAGS,
        "stage": stage,
        "percentage": percentage,
        "source": {"stage": stage_source, "percentage": percentage_source},
        "database": {"stage": state.stage.value, "percentage": state.percentage},
        "overrides": overrides,
        "env_user_pins": len(pins.users),
        "env_variables": list(pins.variables),
        "updated_at": state.updated_at,
        "updated_by": state.updated_by,
    }


async def flags_section(ctx: StatusContext) -> list[dict[str, Any]]:
    async with ctx.runtime.reading(ctx.session) as flags:
        states = await flags.states()
    return [flag_view(states[flag], ctx.runtime.pins) for flag in Flag]


async def snapshot_section(ctx: StatusContext) -> dict[str, Any]:
    runtime = ctx.runtime
    loaded = runtime.holder.loaded_at
    poller = runtime.poller
    return {
        "version": runtime.snapshot.version,
        "seconds_since_reload": (
            round(runtime.clock.monotonic() - loaded, 3) if loaded is not None else None
        ),
        "poll_interval_seconds": runtime.settings.poll_interval,
        "polls": poller.polls if poller else 0,
        "poll_failures": poller.failures if poller else 0,
    }


async def traffic_section(ctx: StatusContext) -> dict[str, Any]:
    return ctx.runtime.served.summary()


STATUS_SECTIONS: list[tuple[str, Section]] = [
    ("flags", flags_section),
    ("snapshot", snapshot_section),
    ("stable_path_traffic", traffic_section),
]


async def build_status(
    ctx: StatusContext, sections: list[tuple[str, Section]] | None = None
) -> dict[str, Any]:
    payload: dict[str, Any] = {}
    for name, section in sections if sections is not None else STATUS_SECTIONS:
        try:
            payload[name] = await section(ctx)
        except Exception as exc:  # one broken section must not hide the others
            log.warning("status_section_failed", section=name, error=type(exc).__name__)
            payload[name] = {"error": f"{type(exc).__name__}: {str(exc)[:200]}"}
    return payload
