"""Monitoring routes: /metrics, health, the metrics+alerts status sections and /dashboard."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from starlette.responses import FileResponse, Response

from bistro.core.deps import OptionalUser, SessionDep
from bistro.core.errors import Forbidden, Unauthorized, error_responses
from bistro.core.responses import JSONBytes, dumps, success
from bistro.monitoring.runtime import STATE_KEY, Monitoring
from bistro.monitoring.sections import alerts_section
from bistro.monitoring.stats import parse_window

STATIC_DIR = Path(__file__).parent / "static"
# In the app state's extras: ``async (session) -> {"flags": ..., "rollout": ...}``, the
# dashboard's flag and rollout panels, composed by the app's wiring from other features.
DASHBOARD_PANELS_KEY = "dashboard_panels"

router = APIRouter(tags=["monitoring"])


def get_monitoring(request: Request) -> Monitoring:
    monitoring: Monitoring = request.app.state.bistro.extras[STATE_KEY]
    return monitoring


MonitoringDep = Annotated[Monitoring, Depends(get_monitoring)]


async def monitoring_viewer(request: Request, principal: OptionalUser) -> None:
    """Admins only, unless the service runs in demo mode (BISTRO_DEMO=true)."""
    if request.app.state.bistro.settings.server.demo:
        return
    if principal is None:
        raise Unauthorized("Sign in as an admin to see monitoring data", code="AUTH_REQUIRED")
    if not principal.is_admin:
        raise Forbidden("Admins only", code="ADMIN_REQUIRED")


Viewer = Depends(monitoring_viewer)
WindowQuery = Annotated[str, Query(max_length=16, description="e.g. 30s, 5m, 1h")]


@router.get(
    "/metrics",
    summary="Prometheus metrics (text exposition format)",
    response_class=Response,
    responses={200: {"content": {"text/plain": {}}}},
)
async def prometheus_metrics(monitoring: MonitoringDep) -> Response:
    body, content_type = monitoring.render_prometheus()
    return Response(body, media_type=content_type)


@router.get(
    "/api/v4/migration/health",
    summary="Health of database, cache, services, process",
    responses={503: {"description": "At least one component is unhealthy"}},
)
async def migration_health(monitoring: MonitoringDep) -> JSONBytes:
    report = await monitoring.health()
    status_code = 503 if report["status"] == "unhealthy" else 200
    return JSONBytes(
        dumps(
            {"success": status_code == 200, "message": report["status"], "data": report, "meta": {}}
        ),
        status_code=status_code,
    )


@router.get(
    "/api/v4/migration/monitoring",
    summary="Per-version metrics over a window, time series for charts, and alerts",
    dependencies=[Viewer],
    responses=error_responses(401, 403, 422),
)
async def migration_monitoring(
    request: Request,
    monitoring: MonitoringDep,
    session: SessionDep,
    window: WindowQuery = "5m",
    step: Annotated[int | None, Query(ge=1, le=86_400)] = None,
) -> JSONBytes:
    seconds = parse_window(window)
    if step is None:
        step = max(math.ceil(monitoring.settings.flush_interval), math.ceil(seconds / 60))
    step = min(step, seconds)
    data = await monitoring.pipeline.summary_and_series(seconds, step, session)
    data["alerts"] = await alerts_section(session)
    # The dashboard's flag and rollout panels (this route is viewable in demo mode too).
    panels = request.app.state.bistro.extras.get(DASHBOARD_PANELS_KEY)
    if panels is not None:
        data.update(await panels(session))
    data["instance"] = monitoring.instance
    return success(data)


@router.get(
    "/api/v4/migration/alerts",
    summary="Active alerts and alert history",
    dependencies=[Viewer],
    responses=error_responses(401, 403, 422),
)
async def migration_alerts(
    monitoring: MonitoringDep,
    session: SessionDep,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
) -> JSONBytes:
    return success(await alerts_section(session, limit))


@router.get("/dashboard", summary="Live migration dashboard (HTML)", response_class=FileResponse)
async def dashboard() -> FileResponse:
    # The page holds no data; its fetches carry the admin token (or run in demo mode).
    return FileResponse(STATIC_DIR / "dashboard.html", media_type="text/html")
