"""v4 routes for sign-up/sign-in, the signed-in user, and user administration."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Request

from bistro.core.auth import bearer_token
from bistro.core.cache import invalidate_after_commit, tags
from bistro.core.deps import AdminUser, CurrentUser
from bistro.core.errors import error_responses
from bistro.core.pagination import PageDep
from bistro.core.responses import Envelope, JSONBytes, success
from bistro.users.deps import UserServiceDep
from bistro.users.schemas import (
    LoginIn,
    ProfileUpdateIn,
    RegisterIn,
    RoleUpdateIn,
    TokenOut,
    UserOut,
)
from bistro.users.service import user_representation

router = APIRouter(tags=["auth & users"])
UserId = Annotated[int, Path(ge=1, le=2**31 - 1)]


@router.post(
    "/auth/register",
    status_code=201,
    response_model=Envelope[UserOut],
    responses=error_responses(409, 413, 422),
)
async def register(body: RegisterIn, request: Request, users: UserServiceDep) -> JSONBytes:
    user = await users.register(body.email, body.password, body.display_name)
    invalidate_after_commit(request, *tags.user_written())
    return success(
        user_representation(user, viewer=None) | {"email": user.email},
        "Registered",
        status_code=201,
    )


@router.post("/auth/login", response_model=Envelope[TokenOut], responses=error_responses(401, 422))
async def login(body: LoginIn, users: UserServiceDep) -> JSONBytes:
    token, expires_at, user = await users.login(body.email, body.password)
    data = {
        "token": token,
        "token_type": "bearer",
        "expires_at": expires_at,
        "user": user_representation(user, viewer=None) | {"email": user.email},
    }
    return success(data, "Signed in")


@router.post("/auth/logout", response_model=Envelope[None], responses=error_responses(401))
async def logout(request: Request, principal: CurrentUser, users: UserServiceDep) -> JSONBytes:
    token = bearer_token(request.headers.get("authorization"))
    assert token is not None  # CurrentUser guarantees a token
    await users.logout(token)
    return success(None, "Signed out")


@router.get("/users/me", response_model=Envelope[UserOut], responses=error_responses(401))
async def me(principal: CurrentUser, users: UserServiceDep) -> JSONBytes:
    user = await users.get(principal.id)
    return success(user_representation(user, viewer=principal))


@router.put("/users/me", response_model=Envelope[UserOut], responses=error_responses(401, 422))
async def update_me(
    body: ProfileUpdateIn, principal: CurrentUser, users: UserServiceDep
) -> JSONBytes:
    user = await users.update_profile(principal, body.display_name)
    return success(user_representation(user, viewer=principal), "Profile updated")


@router.get(
    "/admin/users", response_model=Envelope[list[UserOut]], responses=error_responses(401, 403, 422)
)
async def list_users(admin: AdminUser, users: UserServiceDep, page: PageDep) -> JSONBytes:
    rows, total = await users.list(page.limit, page.offset)
    data = [user_representation(u, viewer=admin) for u in rows]
    return success(data, meta=page.meta(total))


@router.get(
    "/admin/users/{user_id}",
    response_model=Envelope[UserOut],
    responses=error_responses(401, 403, 404, 422),
)
async def get_user(user_id: UserId, admin: AdminUser, users: UserServiceDep) -> JSONBytes:
    return success(user_representation(await users.get(user_id), viewer=admin))


@router.put(
    "/admin/users/{user_id}",
    response_model=Envelope[UserOut],
    responses=error_responses(401, 403, 404, 422),
)
async def change_role(
    user_id: UserId, body: RoleUpdateIn, admin: AdminUser, users: UserServiceDep
) -> JSONBytes:
    user = await users.change_role(admin, user_id, body.role)
    return success(user_representation(user, viewer=admin), "Role changed")


@router.delete(
    "/admin/users/{user_id}",
    response_model=Envelope[None],
    responses=error_responses(401, 403, 404, 422),
)
async def delete_user(
    user_id: UserId, request: Request, admin: AdminUser, users: UserServiceDep
) -> JSONBytes:
    await users.delete(admin, user_id)
    invalidate_after_commit(request, *tags.user_deleted())
    return success(None, "User deleted")
