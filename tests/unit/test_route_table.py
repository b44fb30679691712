"""The route table: busiest routes first and flat, documented exactly as if included."""

from __future__ import annotations

import pytest
from fastapi import APIRouter, FastAPI
from fastapi.routing import APIRoute

from bistro.app import _include_flat, create_app
from bistro.core.responses import JSONBytes
from bistro.core.settings import DatabaseSettings, Settings
from bistro.restaurants.router import router as restaurants_router
from bistro.reviews.router import router as reviews_router


def test_flat_routes_are_documented_as_included_ones() -> None:
    flat = FastAPI(default_response_class=JSONBytes)
    included = FastAPI(default_response_class=JSONBytes)
    for router in (restaurants_router, reviews_router):
        _include_flat(flat, router, "/api/v4")
        included.include_router(router, prefix="/api/v4")
    assert flat.openapi()["paths"] == included.openapi()["paths"]
    assert flat.openapi()["components"] == included.openapi()["components"]


def test_nested_routers_are_refused_not_dropped() -> None:
    outer, inner = APIRouter(), APIRouter()

    @inner.get("/x")
    async def x() -> dict[str, str]:
        return {}

    outer.include_router(inner)
    with pytest.raises(TypeError, match="only API routes"):
        _include_flat(FastAPI(), outer, "/p")


def test_restaurant_detail_is_the_first_api_route() -> None:
    app = create_app(Settings(database=DatabaseSettings(url="sqlite:///:memory:")))
    api = [r for r in app.router.routes if isinstance(r, APIRoute)]
    assert (api[0].path, api[0].methods) == ("/api/v4/restaurants/{restaurant_id:int}", {"GET"})
