"""The application factory. Everything long-lived is created in ``lifespan``, never at import."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

from fastapi import APIRouter, FastAPI
from fastapi.routing import APIRoute
from fastapi.staticfiles import StaticFiles
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

import bistro
from bistro.core.cache import Cache
from bistro.core.cache.fastpath import CacheHitFastPath, FastPathIndex
from bistro.core.cache.web import FAST_PATH_INDEX
from bistro.core.clock import Clock, SystemClock
from bistro.core.database import Database
from bistro.core.handlers import install_error_handlers
from bistro.core.logging import configure_logging, json_lines
from bistro.core.middleware import BodySizeLimitMiddleware, RequestIdMiddleware
from bistro.core.responses import JSONBytes, success
from bistro.core.security import PasswordHashing
from bistro.core.settings import Settings, get_settings
from bistro.core.state import INSTANCE_KEY, AppState
from bistro.legacy.router import router as v3_router
from bistro.migration.api import router as migration_router
from bistro.migration.router import StableRouter
from bistro.migration.runtime import FlagRuntime
from bistro.migration.status import STATUS_SECTIONS, StatusContext, build_status
from bistro.monitoring.access_log import ACCESS_LOG_KEY, AccessLog
from bistro.monitoring.middleware import MetricsMiddleware
from bistro.monitoring.prom import PrometheusExporter
from bistro.monitoring.recorder import Recorder
from bistro.monitoring.router import DASHBOARD_PANELS_KEY, STATIC_DIR
from bistro.monitoring.router import router as monitoring_router
from bistro.monitoring.runtime import STATE_KEY as MONITORING_KEY
from bistro.monitoring.runtime import Monitoring
from bistro.monitoring.sections import STATUS_SECTIONS as MONITORING_SECTIONS
from bistro.parity.layer import shadow_layer
from bistro.parity.runtime import STATE_KEY as PARITY_KEY
from bistro.parity.runtime import ParityRuntime
from bistro.parity.sections import register_status_section as register_parity_section
from bistro.parity.settings import ParitySettings
from bistro.parity.window import parity_window
from bistro.perf.marking import SyntheticSourceMarker
from bistro.restaurants.router import router as restaurants_v4_router
from bistro.reviews.router import router as reviews_v4_router
from bistro.rollout.api import router as rollout_router
from bistro.rollout.drill import DrillBoard, FaultDrillMiddleware
from bistro.rollout.runtime import STATE_KEY as ROLLOUT_KEY
from bistro.rollout.runtime import RolloutRuntime
from bistro.rollout.status import rollout_status_section
from bistro.statistics.router import router as statistics_v4_router
from bistro.users.repository import principal_for_token
from bistro.users.router import router as users_v4_router

V3 = "/api/v3"
V4 = "/api/v4"


def _include_flat(app: FastAPI, router: APIRouter, prefix: str) -> None:
    """Add ``router``'s routes to the app's own table, as ``include_router`` did before
    FastAPI 0.16x. Included routers are now matched through a wrapper that costs ~30k
    instructions per route tried (measured with callgrind): for the busiest routes that
    was more than the route's own work on a cache hit. OpenAPI and behaviour are the same.
    """
    for route in router.routes:
        if not isinstance(route, APIRoute):
            raise TypeError(f"{route!r}: only API routes can be added flat")
        app.router.add_api_route(
            prefix + route.path,
            route.endpoint,
            response_model=route.response_model,
            status_code=route.status_code,
            tags=route.tags,
            dependencies=route.dependencies,
            summary=route.summary,
            description=route.description,
            response_description=route.response_description,
            responses=route.responses,
            deprecated=route.deprecated,
            methods=route.methods,
            operation_id=route.operation_id,
            include_in_schema=route.include_in_schema,
            name=route.name,
            callbacks=route.callbacks,
            openapi_extra=route.openapi_extra,
        )


def compose_status_sections() -> None:
    """The migration status: the migration feature's sections, then monitoring's, then the
    rollout controller's (once).

    Composed here, in the wiring, so no feature imports another to be shown."""
    names = {name for name, _ in STATUS_SECTIONS}
    for name, section in (*MONITORING_SECTIONS, ("rollout", rollout_status_section)):
        if name not in names:
            STATUS_SECTIONS.append((name, section))


def dashboard_panels(state: AppState) -> Callable[[AsyncSession], Awaitable[dict[str, Any]]]:
    """The dashboard's flag, rollout and parity panels: those sections of the status (the
    parity panel over the status's default window)."""

    async def panels(session: AsyncSession) -> dict[str, Any]:
        runtime = state.extras["flags"]
        ctx = StatusContext(runtime, session, {"app_state": state})
        shown = ("flags", "rollout", "parity")
        wanted = [(name, s) for name, s in STATUS_SECTIONS if name in shown]
        return await build_status(ctx, wanted)

    return panels


def create_app(settings: Settings | None = None, *, clock: Clock | None = None) -> FastAPI:
    settings = settings or get_settings()
    configure_logging(settings.server.log_format, settings.server.log_level)
    # The metrics recorder lives as long as the app: the middleware writes into it from the
    # first request; the monitoring service that flushes it starts in the lifespan.
    recorder = Recorder()
    exporter = PrometheusExporter()
    # Parses the API_V4_* pins now: a bad value stops start-up with a message naming it.
    flags = FlagRuntime(settings.flags, clock=clock)
    # Parity's shadow runner and counters (BISTRO_PARITY_*, validated here).
    parity = ParityRuntime(ParitySettings(), clock or SystemClock(), exporter.registry)
    fast_path = FastPathIndex()
    # The access log's writer: lines queued by the metrics middleware, written in batches.
    access_log = AccessLog(json_lines=json_lines(settings.server.log_format))
    # The router resolves signed-in subjects with the users feature's live-token query.
    flags.tokens.lookup = principal_for_token
    # Fault drills exist only where an operator allowed them: no layer at all otherwise.
    drills = (
        DrillBoard(clock or SystemClock(), settings.rollout.drill_poll_seconds)
        if settings.rollout.allow_fault_injection
        else None
    )

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        db = Database(settings.database)
        state = AppState(
            settings=settings,
            db=db,
            hashing=PasswordHashing(settings.auth),
            clock=clock or SystemClock(),
            principals=principal_for_token,
        )
        cache = Cache(settings.cache, state.clock)
        await cache.start()
        state.extras["cache"] = cache
        fast_path.cache = cache
        state.extras[FAST_PATH_INDEX] = fast_path
        state.extras[ACCESS_LOG_KEY] = access_log
        access_log.start()
        app.state.bistro = state
        monitoring = Monitoring(settings, db, state.clock, recorder, exporter, cache=cache)
        state.extras[MONITORING_KEY] = monitoring
        state.extras[INSTANCE_KEY] = monitoring.instance
        await monitoring.start()
        state.extras["flags"] = flags
        state.extras[DASHBOARD_PANELS_KEY] = dashboard_panels(state)
        await flags.start(db)
        state.extras[PARITY_KEY] = parity
        parity.instance = monitoring.instance
        await parity.start(db, cache, background=settings.monitoring.enabled)
        # Every instance reports in and competes for the controller lease; the holder
        # evaluates the rollouts (parity's comparisons feed max_parity_mismatch_rate).
        rollout = RolloutRuntime(
            settings.rollout,
            db,
            state.clock,
            monitoring.instance,
            flags=flags,
            registry=exporter.registry,
            notify=monitoring.notifier.notify,
            parity=parity_window,
        )
        state.extras[ROLLOUT_KEY] = rollout
        await rollout.start()
        if drills is not None:
            await drills.start(db)
        try:
            if settings.server.demo:
                from bistro.seed.demo import bootstrap_demo

                await bootstrap_demo(state)
            yield
        finally:
            # The lease first: another instance takes over the controller at once.
            await rollout.stop()
            if drills is not None:
                await drills.stop()
            await parity.stop()
            await monitoring.stop()
            await access_log.stop()
            await cache.close()
            await flags.stop()
            await db.dispose()

    app = FastAPI(
        title="Bistro",
        version=bistro.__version__,
        description="Restaurant reviews, served by the legacy v3 API and the new v4 API, "
        "with the control plane that migrates traffic between them.",
        lifespan=lifespan,
        docs_url="/docs",
        openapi_url="/openapi.json",
        redoc_url=None,
        default_response_class=JSONBytes,
        # Bistro has its own metrics, access log and alerts (bistro.monitoring); FastAPI's
        # OpenTelemetry hooks would look for providers on every request and find none.
        telemetry={"tracing": False, "metrics": False, "logs": False, "operation_spans": False},
    )
    install_error_handlers(app)
    # FastAPI tries routes in this order and each one tried costs (measured with callgrind:
    # ~10-30k instructions per route, against ~450k for a whole cached detail request), so
    # the busiest routers come first, flat: the v4 reads, then v3 (most stable-path traffic
    # early in a migration), then accounts and the operator endpoints.
    for busy in (restaurants_v4_router, reviews_v4_router, statistics_v4_router):
        _include_flat(app, busy, V4)
    app.include_router(v3_router, prefix=V3)  # made of sub-routers: included as they are
    app.include_router(users_v4_router, prefix=V4)
    app.include_router(monitoring_router)
    compose_status_sections()
    register_parity_section()
    app.mount("/dashboard/static", StaticFiles(directory=STATIC_DIR), name="dashboard-static")
    app.include_router(migration_router, prefix=V4)
    app.include_router(rollout_router, prefix=V4)

    @app.get("/healthz", tags=["operations"], summary="The process is alive")
    async def healthz() -> JSONBytes:
        return success({"status": "ok"})

    @app.get(
        "/readyz",
        tags=["operations"],
        summary="The database answers",
        responses={503: {"description": "Database unreachable"}},
    )
    async def readyz() -> JSONBytes:
        state: AppState = app.state.bistro
        try:
            async with state.db.engine.connect() as conn:
                await conn.execute(text("SELECT 1"))
        except Exception as exc:  # any failure means "not ready", reported, not raised
            body = {
                "success": False,
                "error": "Database unreachable",
                "status_code": 503,
                "code": "NOT_READY",
                "details": {"reason": type(exc).__name__},
            }
            return JSONBytes(body, status_code=503)
        return success({"status": "ready", "database": state.db.dialect})

    # The layers every request passes, in the order it meets them (outermost first):
    # 1. the request id (and the one ``send`` wrapper that notes what goes out);
    # 2. the stable-path router: version, group, flag decisions into the request context;
    # 3. parity's shadow layer (it reads the version the router chose; its shadow runs go
    #    through the layers below, marked as shadow traffic);
    # 4. metrics and the access log (they see the rewritten path and the chosen version);
    # 5. an admin's X-Bistro-Source: synthetic (bistro perf) marked as synthetic traffic;
    # 6. the body-size limit (its 413s are counted);
    # 7. fault drills, only where allowed (v4 responses of a group fail or slow down; inside
    #    the metrics, so the controller sees them, and in front of every answer, hits too);
    # 8. the cache-hit fast path, last: a hit it answers has been through all of the above.
    layers: list[tuple[Any, dict[str, Any]]] = [
        (RequestIdMiddleware, {}),
        (StableRouter, {"runtime": flags}),
        (shadow_layer, {"runtime": parity, "flags": flags}),
    ]
    if settings.monitoring.request_metrics:
        metrics_options = {
            "recorder": recorder,
            "access_log": settings.monitoring.access_log,
            "writer": access_log,
        }
        layers.append((MetricsMiddleware, metrics_options))
    layers.append((SyntheticSourceMarker, {"lookup": principal_for_token}))
    layers.append((BodySizeLimitMiddleware, {"max_bytes": settings.server.max_body_bytes}))
    if drills is not None:
        layers.append((FaultDrillMiddleware, {"board": drills}))
    layers.append((CacheHitFastPath, {"index": fast_path}))
    for layer, options in reversed(layers):  # add_middleware puts each outside the last
        app.add_middleware(layer, **options)
    return app
