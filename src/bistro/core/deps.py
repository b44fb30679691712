"""The dependencies every feature shares: app state, the request's unit of work, the principal.

Each feature declares its own services' dependencies (``<feature>/deps.py``); this module
knows no feature. The principal is found with the lookup the app wires into ``AppState``
(the users feature's live-token query), so ``core`` needs nothing of the users feature.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Annotated, Generic, TypeVar

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
from bistro.core.security import token_digest
from bistro.core.state import AppState

S = TypeVar("S")


# Dependencies are ``async def`` even when they do not await: FastAPI runs a plain ``def``
# dependency in a worker thread, a hop that costs more than the work on every request.
async def get_state(request: Request) -> AppState:
    state: AppState = request.app.state.bistro
    return state


StateDep = Annotated[AppState, Depends(get_state)]


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


async def optional_principal(
    request: Request, state: StateDep, session: SessionDep
) -> Principal | None:
    token = bearer_token(request.headers.get("authorization"))
    if token is None:
        return None
    context = context_of(request.scope)
    # The stable-path router may have looked this token up already (this request, fresh).
    principal = context.principal if context.principal_resolved else None
    if not context.principal_resolved:
        lookup = state.principals
        if lookup is None:
            raise RuntimeError("no principal lookup is wired into the app state")
        principal = await lookup(session, token_digest(token), state.clock.now())
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
