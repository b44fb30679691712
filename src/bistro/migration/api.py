"""Admin-only HTTP API of the control plane, under ``/api/v4/migration``.

The same verbs as ``bistro migration ...`` and ``bistro flags ...`` (both call
:mod:`bistro.migration.operations`); each change is one transaction, audited with the admin as
the actor, and this instance reloads its snapshot as soon as it commits (others within a poll).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any, Literal

import httpx
from fastapi import APIRouter, Depends, Path, Query, Request
from sqlalchemy.ext.asyncio import AsyncSession

from bistro.core.auth import Principal
from bistro.core.clock import utcnow
from bistro.core.deps import AdminUser, SessionDep
from bistro.core.errors import ValidationFailed, error_responses
from bistro.core.responses import Envelope, JSONBytes, success
from bistro.core.state import INSTANCE_KEY
from bistro.core.windows import parse_window
from bistro.migration.deps import FlagRuntimeDep
from bistro.migration.flags import InvalidFlagValue, parse_stage, parse_version
from bistro.migration.operations import (
    audit_view,
    change_view,
    migration_step,
    one_flag,
    override_view,
)
from bistro.migration.runtime import FlagRuntime
from bistro.migration.schemas import FlagUpdateIn, MigrationStepIn, OverrideIn, RollbackIn
from bistro.migration.smoke import run_endpoint_checks
from bistro.migration.status import StatusContext, build_status, flag_view

router = APIRouter(prefix="/migration", tags=["migration control plane"])
ERRORS = error_responses(401, 403, 422)
FlagName = Annotated[str, Path(max_length=64, description="e.g. api_v4_restaurants")]
Subject = Annotated[str, Path(min_length=1, max_length=128)]


@dataclass
class Control:
    """What every control-plane route needs: the admin, the flag runtime, the request session."""

    admin: Principal
    runtime: FlagRuntime
    session: AsyncSession

    @property
    def actor(self) -> str:
        return f"admin:{self.admin.id}:{self.admin.email}"[:120]


def _control(admin: AdminUser, runtime: FlagRuntimeDep, session: SessionDep) -> Control:
    return Control(admin, runtime, session)


ControlDep = Annotated[Control, Depends(_control)]


def _changed(changes: list[Any], message: str) -> JSONBytes:
    views = [change_view(c) for c in changes]
    return success({"changed": views}, message if views else "Nothing to change")


@router.get("/status", response_model=Envelope[dict[str, Any]], responses=ERRORS)
async def status(
    request: Request,
    ctl: ControlDep,
    window: Annotated[str, Query(max_length=16, description="Metrics window: 30s, 5m, 1h")] = "5m",
) -> JSONBytes:
    parse_window(window)  # a bad window is a 422 here, not an error inside a section
    ctx = StatusContext(
        ctl.runtime,
        ctl.session,
        {"app_state": request.app.state.bistro, "query": dict(request.query_params)},
    )
    return success(await build_status(ctx))


@router.get("/flags", response_model=Envelope[list[dict[str, Any]]], responses=ERRORS)
async def list_flags(ctl: ControlDep) -> JSONBytes:
    async with ctl.runtime.reading(ctl.session) as flags:
        states = await flags.states()
    return success([flag_view(s, ctl.runtime.pins) for s in states.values()])


@router.put("/flags/{name}", response_model=Envelope[dict[str, Any]], responses=ERRORS)
async def set_flag(name: FlagName, body: FlagUpdateIn, ctl: ControlDep) -> JSONBytes:
    flag = one_flag(name)
    try:
        stage = parse_stage(body.stage) if body.stage is not None else None
    except InvalidFlagValue as exc:
        raise ValidationFailed(str(exc), code="INVALID_FLAG_VALUE") from None
    async with ctl.runtime.changing(ctl.session) as flags:
        changes = await flags.set_flags(
            [flag], stage=stage, percentage=body.percentage, actor=ctl.actor, reason=body.reason
        )
    return _changed(changes, f"{flag.value} updated")


@router.get(
    "/flags/{name}/overrides", response_model=Envelope[list[dict[str, Any]]], responses=ERRORS
)
async def list_overrides(name: FlagName, ctl: ControlDep) -> JSONBytes:
    flag = one_flag(name)
    async with ctl.runtime.reading(ctl.session) as flags:
        rows = await flags.overrides(flag)
    return success([override_view(r) for r in rows])


@router.put(
    "/flags/{name}/overrides/{subject}", response_model=Envelope[dict[str, Any]], responses=ERRORS
)
async def set_override(
    name: FlagName, subject: Subject, body: OverrideIn, ctl: ControlDep
) -> JSONBytes:
    flag = one_flag(name)
    try:
        version = parse_version(body.version)
    except InvalidFlagValue as exc:
        raise ValidationFailed(str(exc), code="INVALID_FLAG_VALUE") from None
    async with ctl.runtime.changing(ctl.session) as flags:
        change = await flags.set_override(flag, subject, version, ctl.actor, body.reason)
    return _changed([change] if change else [], f"{subject} pinned to {version.value}")


@router.delete(
    "/flags/{name}/overrides/{subject}",
    response_model=Envelope[dict[str, Any]],
    responses=error_responses(401, 403, 404, 422),
)
async def remove_override(
    name: FlagName,
    subject: Subject,
    ctl: ControlDep,
    reason: Annotated[str | None, Query(max_length=500)] = None,
) -> JSONBytes:
    flag = one_flag(name)
    async with ctl.runtime.changing(ctl.session) as flags:
        change = await flags.remove_override(flag, subject, ctl.actor, reason)
    return _changed([change], f"override of {subject} removed")


@router.get("/history", response_model=Envelope[list[dict[str, Any]]], responses=ERRORS)
async def history(
    ctl: ControlDep,
    flag: Annotated[str | None, Query(max_length=64)] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 50,
) -> JSONBytes:
    target = one_flag(flag) if flag else None
    async with ctl.runtime.reading(ctl.session) as flags:
        rows = await flags.history(target, limit)
    return success([audit_view(r) for r in rows])


async def _step(step: str, body: MigrationStepIn, ctl: Control) -> JSONBytes:
    async with ctl.runtime.changing(ctl.session) as flags:
        changes = await migration_step(
            flags,
            step,
            flag=body.flag,
            percentage=body.percentage,
            actor=ctl.actor,
            reason=body.reason,
            testers=body.testers,
        )
    return _changed(changes, f"migration {step} applied")


@router.post("/testing", response_model=Envelope[dict[str, Any]], responses=ERRORS)
async def testing(body: MigrationStepIn, ctl: ControlDep) -> JSONBytes:
    return await _step("testing", body, ctl)


@router.post("/partial", response_model=Envelope[dict[str, Any]], responses=ERRORS)
async def partial(body: MigrationStepIn, ctl: ControlDep) -> JSONBytes:
    return await _step("partial", body, ctl)


@router.post("/full", response_model=Envelope[dict[str, Any]], responses=ERRORS)
async def full(body: MigrationStepIn, ctl: ControlDep) -> JSONBytes:
    return await _step("full", body, ctl)


@router.post("/complete", response_model=Envelope[dict[str, Any]], responses=ERRORS)
async def complete(body: MigrationStepIn, ctl: ControlDep) -> JSONBytes:
    return await _step("complete", body, ctl)


@router.post("/rollback", response_model=Envelope[dict[str, Any]], responses=ERRORS)
async def rollback(body: RollbackIn, ctl: ControlDep) -> JSONBytes:
    async with ctl.runtime.changing(ctl.session) as flags:
        changes = await flags.rollback(ctl.actor, body.reason)
    return _changed(changes, "Every routing flag disabled: all stable-path traffic on v3")


@router.get("/report", response_model=Envelope[dict[str, Any]], responses=ERRORS)
async def report(request: Request, ctl: ControlDep) -> JSONBytes:
    ctx = StatusContext(ctl.runtime, ctl.session, {"app_state": request.app.state.bistro})
    async with ctl.runtime.reading(ctl.session) as flags:
        rows = await flags.history(None, 200)
    return success(
        {
            "generated_at": utcnow(),
            "status": await build_status(ctx),
            "history": [audit_view(r) for r in rows],
        }
    )


@router.post("/test", response_model=Envelope[dict[str, Any]], responses=ERRORS)
async def endpoint_test(request: Request, ctl: ControlDep) -> JSONBytes:
    """Run ``migration test`` against this instance, in process, with the caller's token."""
    # The checks are requests of their own: hand back this request's connection first
    # (SQLite's pool has exactly one).
    await ctl.session.close()
    token = (request.headers.get("authorization") or "").partition(" ")[2].strip()
    transport = httpx.ASGITransport(app=request.app)
    async with httpx.AsyncClient(transport=transport, base_url="http://bistro.local") as client:
        results = await run_endpoint_checks(client, admin_token=token)
    failed = [r for r in results if r.outcome == "fail"]
    return success(
        {"passed": not failed, "results": [r.as_dict() for r in results]},
        "All v4 endpoints pass" if not failed else f"{len(failed)} checks failed",
    )


def _cache_view(request: Request) -> dict[str, Any]:
    """This instance's cache: its counters since start, TTLs and whether Redis backs it."""
    state = request.app.state.bistro
    cache = state.extras.get("cache")
    view: dict[str, Any] = {"instance": state.extras.get(INSTANCE_KEY)}
    if cache is None or not cache.enabled:
        return view | {"enabled": False}
    return view | {
        "enabled": True,
        "l2": cache.l2 is not None,
        "ttl_seconds": dict(cache.ttls),
        "counters": cache.stats.snapshot(),
    }


@router.get("/cache", response_model=Envelope[dict[str, Any]], responses=ERRORS)
async def cache_counters(request: Request, admin: AdminUser) -> JSONBytes:
    """The answering instance's cache counters (cumulative: a client takes deltas)."""
    return success(_cache_view(request))


@router.post("/cache/flush", response_model=Envelope[dict[str, Any]], responses=ERRORS)
async def cache_flush(
    request: Request,
    admin: AdminUser,
    scope: Annotated[
        Literal["all", "local"],
        Query(description="all: every entry on every instance; local: this instance's L1"),
    ] = "all",
) -> JSONBytes:
    """Empty the v4 cache, for cold-cache measurements (``bistro perf``)."""
    cache = request.app.state.bistro.extras.get("cache")
    if cache is not None and cache.enabled:
        if scope == "local":
            cache.l1.clear()
        else:
            await cache.invalidate_all()
    return success(_cache_view(request) | {"flushed": scope}, f"Cache flushed ({scope})")
