"""The users feature's dependencies."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated

from fastapi import Depends

from bistro.core.deps import SessionDep, StateDep
from bistro.reviews.repository import ReviewRepository
from bistro.users.repository import TokenRepository, UserRepository
from bistro.users.service import UserService


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
