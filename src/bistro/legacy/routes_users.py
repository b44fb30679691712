"""v3 routes for sign-up/sign-in, the signed-in user and user administration."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Query, Request

from bistro.core.auth import bearer_token
from bistro.core.cache import invalidate_after_commit, tags
from bistro.core.deps import StateDep
from bistro.core.errors import Forbidden, NotFound, Unauthorized
from bistro.core.responses import Envelope, JSONBytes, success
from bistro.core.security import new_token, token_digest
from bistro.legacy import params as p
from bistro.legacy.deps import JSONBody, ManagerDep, V3Admin, V3User, json_body_doc
from bistro.legacy.schemas import V3Token, V3UserOut, v3_errors
from bistro.legacy.sql import user_out

router = APIRouter(tags=["v3 (legacy)"])
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


def _user_not_found(user_id: int) -> NotFound:
    return NotFound(f"User {user_id} not found", code="USER_NOT_FOUND")


@router.post(
    "/auth/register",
    response_model=Envelope[V3UserOut],
    status_code=201,
    openapi_extra=json_body_doc(
        {"email": "string", "password": "string", "display_name": "string"},
        "email",
        "password",
        "display_name",
    ),
    responses=v3_errors(400, 409, 413),
)
async def register(request: Request, body: JSONBody, db: ManagerDep, state: StateDep) -> JSONBytes:
    email = p.as_text("email", body.get("email"), 3, 254).lower()
    if not _EMAIL.match(email):
        raise p.bad("email", "is not an email address")
    password = p.as_text("password", body.get("password"), 8, 128, strip=False)
    display_name = p.as_text("display_name", body.get("display_name"), 1, 80)
    password_hash = await state.hashing.hash(password)
    user = await db.create_user(email, password_hash, display_name, state.clock.now())
    invalidate_after_commit(request, *tags.user_written())
    return success(user_out(user, with_email=True), "Registered", status_code=201)


@router.post(
    "/auth/login",
    response_model=Envelope[V3Token],
    openapi_extra=json_body_doc({"email": "string", "password": "string"}, "email", "password"),
    responses=v3_errors(400, 401),
)
async def login(body: JSONBody, db: ManagerDep, state: StateDep) -> JSONBytes:
    email = p.as_text("email", body.get("email"), 1, 254).lower()
    password = p.as_text("password", body.get("password"), 1, 128, strip=False)
    user = await db.user_by_email(email)
    ok = await state.hashing.verify(user["password_hash"] if user else None, password)
    if user is None or not ok:
        raise Unauthorized("Wrong email or password", code="INVALID_CREDENTIALS")
    token = new_token()
    now = state.clock.now()
    expires_at = now + timedelta(hours=state.settings.auth.token_ttl_hours)
    await db.add_token(user["id"], token_digest(token), now, expires_at)
    data = {
        "token": token,
        "token_type": "bearer",
        "expires_at": expires_at,
        "user": user_out(user, with_email=True),
    }
    return success(data, "Signed in")


@router.post("/auth/logout", response_model=Envelope[None], responses=v3_errors(401))
async def logout(request: Request, user: V3User, db: ManagerDep, state: StateDep) -> JSONBytes:
    token = bearer_token(request.headers.get("authorization"))
    assert token is not None  # V3User guarantees a token
    await db.revoke_token(token_digest(token), state.clock.now())
    return success(None, "Signed out")


@router.get("/users/me", response_model=Envelope[V3UserOut], responses=v3_errors(401))
async def me(user: V3User, db: ManagerDep) -> JSONBytes:
    row = await db.get_user(user.id)
    if row is None:
        raise _user_not_found(user.id)
    return success(user_out(row, with_email=True))


@router.put(
    "/users/me",
    response_model=Envelope[V3UserOut],
    openapi_extra=json_body_doc({"display_name": "string"}, "display_name"),
    responses=v3_errors(400, 401, 413),
)
async def update_me(body: JSONBody, user: V3User, db: ManagerDep, state: StateDep) -> JSONBytes:
    display_name = p.as_text("display_name", body.get("display_name"), 1, 80)
    row = await db.update_user(user.id, {"display_name": display_name}, state.clock.now())
    if row is None:
        raise _user_not_found(user.id)
    return success(user_out(row, with_email=True), "Profile updated")


@router.get(
    "/admin/users", response_model=Envelope[list[V3UserOut]], responses=v3_errors(400, 401, 403)
)
async def list_users(
    admin: V3Admin,
    db: ManagerDep,
    limit: Annotated[str | None, Query()] = None,
    offset: Annotated[str | None, Query()] = None,
) -> JSONBytes:
    page_limit, page_offset = p.page(limit, offset)
    rows, total = await db.list_users(page_limit, page_offset)
    data = [user_out(row, with_email=True) for row in rows]
    return success(data, meta={"total": total, "limit": page_limit, "offset": page_offset})


@router.get(
    "/admin/users/{user_id}",
    response_model=Envelope[V3UserOut],
    responses=v3_errors(400, 401, 403, 404),
)
async def get_user(user_id: str, admin: V3Admin, db: ManagerDep) -> JSONBytes:
    uid = p.as_id("user_id", user_id)
    row = await db.get_user(uid)
    if row is None:
        raise _user_not_found(uid)
    return success(user_out(row, with_email=True))


@router.put(
    "/admin/users/{user_id}",
    response_model=Envelope[V3UserOut],
    openapi_extra=json_body_doc({"role": "string"}, "role"),
    responses=v3_errors(400, 401, 403, 404, 413),
)
async def change_role(
    user_id: str, body: JSONBody, admin: V3Admin, db: ManagerDep, state: StateDep
) -> JSONBytes:
    uid = p.as_id("user_id", user_id)
    role = body.get("role")
    if role not in ("user", "admin"):
        raise p.bad("role", "must be 'user' or 'admin'")
    row = await db.get_user(uid)
    if row is None:
        raise _user_not_found(uid)
    if uid == admin.id and role != "admin":
        raise Forbidden("Admins cannot demote themselves", code="SELF_DEMOTION")
    if row["role"] != role:
        now = state.clock.now()
        row = await db.update_user(uid, {"role": role}, now)
        # A role change takes effect at once: every token of the user stops working.
        await db.revoke_all_tokens(uid, now)
    assert row is not None
    return success(user_out(row, with_email=True), "Role changed")


@router.delete(
    "/admin/users/{user_id}", response_model=Envelope[None], responses=v3_errors(400, 401, 403, 404)
)
async def delete_user(
    request: Request, user_id: str, admin: V3Admin, db: ManagerDep, state: StateDep
) -> JSONBytes:
    uid = p.as_id("user_id", user_id)
    if await db.get_user(uid) is None:
        raise _user_not_found(uid)
    if uid == admin.id:
        raise Forbidden("Admins cannot delete themselves", code="SELF_DELETION")
    await db.delete_user(uid, state.clock.now())
    invalidate_after_commit(request, *tags.user_deleted())
    return success(None, "User deleted")
