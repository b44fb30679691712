"""The restaurants feature's dependencies: its service on the request's session, or on a
read connection opened only on a cache miss."""

from __future__ import annotations

from functools import lru_cache
from typing import Annotated
from zoneinfo import ZoneInfo

from fastapi import Depends, Request

from bistro.core.database import Executor
from bistro.core.deps import ServiceOpener, SessionDep, StateDep
from bistro.core.state import AppState
from bistro.restaurants.repository import RestaurantRepository
from bistro.restaurants.service import RestaurantService


@lru_cache(maxsize=8)
def _zone(name: str) -> ZoneInfo:
    return ZoneInfo(name)


def build_restaurant_service(state: AppState, session: Executor) -> RestaurantService:
    return RestaurantService(
        RestaurantRepository(session), state.clock, _zone(state.settings.server.timezone)
    )


async def get_restaurant_service(state: StateDep, session: SessionDep) -> RestaurantService:
    return build_restaurant_service(state, session)


RestaurantServiceDep = Annotated[RestaurantService, Depends(get_restaurant_service)]


# The read openers take the request itself, not StateDep: the hottest routes resolve one
# dependency fewer (FastAPI's resolution costs several microseconds per dependency).
def restaurant_reads_of(request: Request) -> ServiceOpener[RestaurantService]:
    """The opener itself, for the hottest route (one dependency fewer to resolve)."""
    return ServiceOpener(request.app.state.bistro, build_restaurant_service)


async def restaurant_reads(request: Request) -> ServiceOpener[RestaurantService]:
    return restaurant_reads_of(request)


RestaurantReadsDep = Annotated[ServiceOpener[RestaurantService], Depends(restaurant_reads)]
