"""The baselines bench_service compares Bistro with: each its own minimal app, served in its
own process by the same server program and settings as Bistro (one worker, access log off,
pinned to the same core).

- ``fastapi_hello``: FastAPI, one ``async def`` route returning ``{"message": "Hello World"}``;
- ``starlette_hello``: Starlette, the same with ``JSONResponse``;
- ``starlette_asyncpg``: Starlette running the v4 detail's SELECT (the repository's columns)
  through an asyncpg pool and answering the row as JSON: what an uncached detail read costs
  with nothing but the driver and the smallest framework.

Serve one with ``uvicorn benchmarks.baseline_apps:fastapi_hello --factory`` (the database URL
of ``starlette_asyncpg`` comes from ``BISTRO_DATABASE_URL``).
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import asyncpg
import orjson
from fastapi import FastAPI
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from bistro.restaurants.repository import COLUMNS

DETAIL_SQL = f"SELECT {', '.join(c.name for c in COLUMNS)} FROM restaurants WHERE id = $1"


def fastapi_hello() -> FastAPI:
    app = FastAPI()

    @app.get("/")
    async def hello() -> dict[str, str]:
        return {"message": "Hello World"}

    return app


def starlette_hello() -> Starlette:
    async def hello(request: Request) -> JSONResponse:
        return JSONResponse({"message": "Hello World"})

    return Starlette(routes=[Route("/", hello)])


def starlette_asyncpg() -> Starlette:
    dsn = os.environ["BISTRO_DATABASE_URL"].replace("postgresql+asyncpg://", "postgresql://", 1)
    pool_size = int(os.environ.get("BISTRO_DATABASE_POOL_SIZE", "20"))

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        app.state.pool = await asyncpg.create_pool(dsn, min_size=0, max_size=pool_size)
        try:
            yield
        finally:
            await app.state.pool.close()

    async def hello(request: Request) -> JSONResponse:
        return JSONResponse({"message": "Hello World"})

    async def detail(request: Request) -> Response:
        restaurant_id = int(request.path_params["restaurant_id"])
        row = await request.app.state.pool.fetchrow(DETAIL_SQL, restaurant_id)
        if row is None:
            return JSONResponse({"success": False}, status_code=404)
        data: dict[str, Any] = dict(row)
        data["hours"] = orjson.loads(data["hours"])
        body = orjson.dumps({"success": True, "data": data})
        return Response(body, media_type="application/json")

    routes = [Route("/", hello), Route("/restaurants/{restaurant_id:int}", detail)]
    return Starlette(routes=routes, lifespan=lifespan)
