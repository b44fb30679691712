"""The service under test and its baselines in one server process (same settings, same core).

``create_bench_app`` is the real ``bistro.app:create_app`` plus three routes the benchmark
compares against, under ``/bench``, the baselines matched before the service's own routes:

- ``/bench/asyncpg/restaurants/{id}``: the v4 detail's own SELECT (the repository's columns)
  through an asyncpg pool directly, rendered by the same representation function: what the
  data layer would cost with no SQLAlchemy session at all;
- ``/bench/hello``: a bare FastAPI hello-world route;
- ``/bench/cache-stats``: the cache counters, so the benchmark can prove a run was (un)cached.

Serve it with ``uvicorn benchmarks.bench_app:create_bench_app --factory``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any

import asyncpg
import orjson
from fastapi import FastAPI, Request
from starlette.responses import Response

from bistro.app import create_app
from bistro.core.responses import JSONBytes, success
from bistro.core.settings import get_settings
from bistro.restaurants.hours import is_open_at, week_minute
from bistro.restaurants.repository import COLUMNS
from bistro.restaurants.service import restaurant_representation

DETAIL_SQL = f"SELECT {', '.join(c.name for c in COLUMNS)} FROM restaurants WHERE id = $1"


def create_bench_app() -> FastAPI:
    settings = get_settings()
    app = create_app(settings)
    dsn = settings.database.url.replace("postgresql+asyncpg://", "postgresql://", 1)
    db = settings.database
    service_lifespan = app.router.lifespan_context

    @asynccontextmanager
    async def lifespan(application: FastAPI) -> AsyncIterator[Any]:
        async with service_lifespan(application) as state:
            # As many connections as the service's SQLAlchemy pool may hold, opened on demand
            # as SQLAlchemy opens them (the benchmark runs several servers on one PostgreSQL).
            pool = await asyncpg.create_pool(
                dsn, min_size=0, max_size=db.pool_size + db.max_overflow
            )
            application.state.bench_pool = pool
            try:
                yield state
            finally:
                await pool.close()

    app.router.lifespan_context = lifespan
    service_routes = list(app.router.routes)

    @app.get("/bench/hello", include_in_schema=False)
    async def hello() -> dict[str, str]:
        return {"message": "Hello World"}

    @app.get("/bench/asyncpg/restaurants/{restaurant_id}", include_in_schema=False)
    async def asyncpg_detail(restaurant_id: int, request: Request) -> Response:
        row = await request.app.state.bench_pool.fetchrow(DETAIL_SQL, restaurant_id)
        if row is None:
            return JSONBytes({"success": False}, status_code=404)
        values = dict(row)
        values["hours"] = orjson.loads(values["hours"])
        data = restaurant_representation(values)
        data["is_open_now"] = is_open_at(data["hours"], week_minute(datetime.now(UTC)))
        return success(data)

    @app.get("/bench/cache-stats", include_in_schema=False)
    async def cache_stats(request: Request) -> dict[str, Any]:
        cache = request.app.state.bistro.extras.get("cache")
        return cache.stats.snapshot() if cache is not None else {}

    # FastAPI tries routes in order and every route tried costs. The two baselines go in
    # front of the service's routes (each is among the first its request tries), the
    # counters behind them.
    baselines = [r for r in app.router.routes if r not in service_routes]
    counters = baselines.pop()  # /bench/cache-stats, the last one declared
    app.router.routes[:] = [*baselines, *service_routes, counters]
    return app
