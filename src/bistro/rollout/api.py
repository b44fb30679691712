"""Admin API of the rollout controller, under ``/api/v4/migration/rollout``.

The same verbs as ``bistro rollout ...``: start, status, report, pause, resume, promote, stop,
force. Each action is one transaction, logged with the admin as the actor.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, Field

from bistro.core.deps import AdminUser, SessionDep
from bistro.core.errors import Conflict, NotFound, ValidationFailed, error_responses
from bistro.core.responses import Envelope, JSONBytes, success
from bistro.rollout.config import InvalidRolloutConfig, build_config
from bistro.rollout.controller import Applied, RolloutController
from bistro.rollout.machine import InvalidTransition
from bistro.rollout.service import (
    report_markdown,
    report_payload,
    routing_flags,
    start_rollouts,
    status_payload,
)
from bistro.rollout.store import RolloutStore

router = APIRouter(prefix="/migration/rollout", tags=["rollout controller"])
ERRORS = error_responses(401, 403, 404, 409, 422)
FlagQuery = Annotated[str | None, Query(max_length=64, description="e.g. api_v4_restaurants")]


class StartIn(BaseModel):
    flags: list[str] = Field(default_factory=list, max_length=4, description="Default: all four")
    config: dict[str, Any] = Field(default_factory=dict, description="RolloutConfig fields")


class ActionIn(BaseModel):
    flag: str | None = Field(None, max_length=64, description="Default: every active rollout")
    reason: str = Field("", max_length=500)


class ForceIn(BaseModel):
    flag: str | None = Field(None, max_length=64)
    percentage: float = Field(ge=0, le=100)
    reason: str = Field("", max_length=500)


def _actor(admin: Any) -> str:
    return f"admin:{admin.id}:{admin.email}"[:120]


def _controller(request: Request) -> RolloutController:
    runtime = request.app.state.bistro.extras["rollout"]
    controller: RolloutController = runtime.controller
    return controller


def _applied_view(applied: list[Applied]) -> list[dict[str, Any]]:
    return [
        {
            "flag": a.flag,
            "action": a.decision.action.value,
            "state": a.decision.progress.state.value,
            "from_percentage": a.before.percentage,
            "to_percentage": a.decision.progress.percentage,
            "reason": a.decision.reason,
            "flag_changed": a.flag_changed,
        }
        for a in applied
    ]


@router.get("", response_model=Envelope[dict[str, Any]], responses=ERRORS)
async def rollout_status(
    request: Request, admin: AdminUser, session: SessionDep, flag: FlagQuery = None
) -> JSONBytes:
    now = request.app.state.bistro.clock.now()
    return success(await status_payload(session, now, flag=flag))


@router.get("/report", response_model=Envelope[dict[str, Any]], responses=ERRORS)
async def rollout_report(
    request: Request,
    admin: AdminUser,
    session: SessionDep,
    flag: Annotated[str, Query(max_length=64)],
    format: Annotated[Literal["json", "md"], Query()] = "json",
) -> JSONBytes:
    now = request.app.state.bistro.clock.now()
    try:
        report = await report_payload(session, flag, now)
    except InvalidTransition as exc:
        raise NotFound(str(exc), code="ROLLOUT_NOT_FOUND") from None
    if format == "md":
        return success({"markdown": report_markdown(report)})
    return success(report)


@router.post("/start", response_model=Envelope[dict[str, Any]], responses=ERRORS)
async def rollout_start(
    request: Request, admin: AdminUser, session: SessionDep, body: StartIn
) -> JSONBytes:
    # SQLite has one pooled connection: hand it back before the controller takes its own.
    await session.commit()
    try:
        config = build_config(body.config)
        flags = routing_flags(body.flags)
    except (InvalidRolloutConfig, InvalidTransition) as exc:
        raise ValidationFailed(str(exc), code="INVALID_ROLLOUT_CONFIG") from None
    controller = _controller(request)
    pins = request.app.state.bistro.extras["flags"].pins
    try:
        applied = await start_rollouts(controller, flags, config, _actor(admin), local_pins=pins)
    except InvalidTransition as exc:
        raise Conflict(str(exc), code="ROLLOUT_REFUSED") from None
    return success({"started": _applied_view(applied)}, "Rollout started")


async def _act(
    request: Request,
    admin: Any,
    session: Any,
    verb: str,
    flag: str | None,
    reason: str,
    percentage: float | None = None,
) -> JSONBytes:
    if flag is not None:
        try:
            names = [f.value for f in routing_flags([flag])]
        except InvalidTransition as exc:
            raise ValidationFailed(str(exc), code="INVALID_FLAG_VALUE") from None
    else:
        names = [r.flag for r in await RolloutStore(session).active()]
        if not names:
            raise Conflict("No active rollout", code="ROLLOUT_REFUSED")
    await session.commit()
    controller = _controller(request)
    applied: list[Applied] = []
    try:
        for name in names:
            applied.append(
                await controller.operate(
                    name, verb, _actor(admin), reason=reason, percentage=percentage
                )
            )
    except InvalidTransition as exc:
        raise Conflict(str(exc), code="ROLLOUT_REFUSED") from None
    return success({"applied": _applied_view(applied)}, f"Rollout {verb}")


def _steering_route(verb: str, summary: str) -> None:
    """``POST /migration/rollout/<verb>``: the same body for every steering verb."""

    async def steer(
        request: Request, admin: AdminUser, session: SessionDep, body: ActionIn
    ) -> JSONBytes:
        return await _act(request, admin, session, verb, body.flag, body.reason)

    router.add_api_route(
        f"/{verb}",
        steer,
        methods=["POST"],
        name=f"rollout_{verb}",
        summary=summary,
        response_model=Envelope[dict[str, Any]],
        responses=ERRORS,
    )


for _verb, _summary in (
    ("pause", "Hold the rollout where it is"),
    ("resume", "Run the rollout again from its current step"),
    ("promote", "Move to the next step now"),
    ("stop", "End the rollout; the flag stays where it is"),
):
    _steering_route(_verb, _summary)


@router.post("/force", response_model=Envelope[dict[str, Any]], responses=ERRORS)
async def rollout_force(
    request: Request, admin: AdminUser, session: SessionDep, body: ForceIn
) -> JSONBytes:
    return await _act(request, admin, session, "force", body.flag, body.reason, body.percentage)
