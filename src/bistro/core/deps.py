"""Every dependency alias in one module: routes declare what they need by type."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import timedelta
from functools import lru_cache
from typing import Annotated, Generic, TypeVar
from zoneinfo import ZoneInfo

from fastapi import Depends, Request
from sqlalchemy.ext.asyncio import AsyncSession

from bistro.core.auth import (
    Principal,
    bearer_token,
    invalid_token,
    require_admin,
    require_signed_in,
)
from bistro.core.cache import flush_invalidations
from bistro.core.context import context_of
from bistro.core.database import Executor
from bistro.core.state import AppState
from bistro.migration.runtime import FlagRuntime
from bistro.restaurants.repository import RestaurantRepository
from bistro.restaurants.service import RestaurantService
from bistro.reviews.repository import ReviewRepository
from bistro.reviews.service import ReviewService
from bistro.statistics.repository import StatisticsRepository
from bistro.statistics.service import StatisticsService
from bistro.users.repository import TokenRepository, UserRepository
from bistro.users.service import UserService

S = TypeVar("S")


# Dependencies are ``async def`` even when they do not await: FastAPI runs a plain ``def``
# dependency in a worker thread, a hop that costs more than the work on every request.
async def get_state(request: Request) -> AppState:
    state: AppState = request.app.state.bistro
    return state


StateDep = Annotated[AppState, Depends(get_state)]


def get_flag_runtime(state: StateDep) -> FlagRuntime:
    runtime: FlagRuntime = state.extras["flags"]
    return runtime


FlagRuntimeDep = Annotated[FlagRuntime, Depends(get_flag_runtime)]


async def get_session(request: Request) -> AsyncIterator[AsyncSession]:
    """The request's unit of work: commit when the route returns, roll back if it raised.

    ``scope="function"`` (below) ends it before the response is sent, so a client never
    reads a response whose write has not committed.
    """
    state: AppState = request.app.state.bistro
    async with state.db.unit_of_work() as session:
        yield session
    # Committed: now tell every instance's cache what the request wrote.
    await flush_invalidations(request)


SessionDep = Annotated[AsyncSession, Depends(get_session, scope="function")]


async def get_user_service(state: StateDep, session: SessionDep) -> UserService:
    return UserService(
        UserRepository(session),
        TokenRepository(session),
        state.hashing,
        timedelta(hours=state.settings.auth.token_ttl_hours),
        state.clock,
        reviews=ReviewRepository(session),
    )


UserServiceDep = Annotated[UserService, Depends(get_user_service)]


@lru_cache(maxsize=8)
def _zone(name: str) -> ZoneInfo:
    return ZoneInfo(name)


def build_restaurant_service(state: AppState, session: Executor) -> RestaurantService:
    return RestaurantService(
        RestaurantRepository(session), state.clock, _zone(state.settings.server.timezone)
    )


def build_review_service(state: AppState, session: Executor) -> ReviewService:
    return ReviewService(ReviewRepository(session), state.clock)


def build_statistics_service(state: AppState, session: Executor) -> StatisticsService:
    return StatisticsService(StatisticsRepository(session))


async def get_restaurant_service(state: StateDep, session: SessionDep) -> RestaurantService:
    return build_restaurant_service(state, session)


RestaurantServiceDep = Annotated[RestaurantService, Depends(get_restaurant_service)]


async def get_review_service(state: StateDep, session: SessionDep) -> ReviewService:
    return build_review_service(state, session)


ReviewServiceDep = Annotated[ReviewService, Depends(get_review_service)]


async def get_statistics_service(state: StateDep, session: SessionDep) -> StatisticsService:
    return build_statistics_service(state, session)


StatisticsServiceDep = Annotated[StatisticsService, Depends(get_statistics_service)]


async def optional_principal(request: Request, users: UserServiceDep) -> Principal | None:
    token = bearer_token(request.headers.get("authorization"))
    if token is None:
        return None
    context = context_of(request.scope)
    # The stable-path router may have looked this token up already (this request, fresh).
    principal = context.principal if context.principal_resolved else None
    if not context.principal_resolved:
        principal = await users.authenticate(token)
        context.principal, context.principal_resolved = principal, True
    if principal is None:
        raise invalid_token()
    return principal


OptionalUser = Annotated[Principal | None, Depends(optional_principal)]


async def current_principal(principal: OptionalUser) -> Principal:
    return require_signed_in(principal)


CurrentUser = Annotated[Principal, Depends(current_principal)]


async def admin_principal(principal: CurrentUser) -> Principal:
    return require_admin(principal)


AdminUser = Annotated[Principal, Depends(admin_principal)]


# The read openers take the request itself, not StateDep: the hottest routes resolve one
# dependency fewer (FastAPI's resolution costs several microseconds per dependency).
class ServiceOpener(Generic[S]):
    """Opens a service on its own read connection only when called (``async with opener() as s``).

    Cached reads take this instead of the request's session: a cache hit then never touches
    the pool at all, and a miss holds a connection (autocommit, no ORM session) only for the
    load itself. Only for reads: nothing done through it is committed.
    """

    def __init__(self, state: AppState, build: Callable[[AppState, Executor], S]) -> None:
        self.state = state
        self.build = build

    @asynccontextmanager
    async def __call__(self) -> AsyncIterator[S]:
        async with self.state.db.reader() as connection:
            yield self.build(self.state, connection)


def restaurant_reads_of(request: Request) -> ServiceOpener[RestaurantService]:
    """The opener itself, for the hottest route (one dependency fewer to resolve)."""
    return ServiceOpener(request.app.state.bistro, build_restaurant_service)


async def restaurant_reads(request: Request) -> ServiceOpener[RestaurantService]:
    return restaurant_reads_of(request)


RestaurantReadsDep = Annotated[ServiceOpener[RestaurantService], Depends(restaurant_reads)]


async def review_reads(request: Request) -> ServiceOpener[ReviewService]:
    return ServiceOpener(request.app.state.bistro, build_review_service)


ReviewReadsDep = Annotated[ServiceOpener[ReviewService], Depends(review_reads)]


async def statistics_reads(request: Request) -> ServiceOpener[StatisticsService]:
    return ServiceOpener(request.app.state.bistro, build_statistics_service)


StatisticsReadsDep = Annotated[ServiceOpener[StatisticsService], Depends(statistics_reads)]
