"""v3's dependencies: the request's connection and manager, the signed-in user, JSON bodies."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated, Any

import orjson
from fastapi import Depends, Request

from bistro.core.auth import (
    Principal,
    bearer_token,
    invalid_token,
    require_admin,
    require_signed_in,
)
from bistro.core.cache import flush_invalidations
from bistro.core.context import context_of
from bistro.core.deps import StateDep
from bistro.core.errors import BadRequest
from bistro.core.security import token_digest
from bistro.legacy.manager import DatabaseManagerV3


async def get_manager(request: Request) -> AsyncIterator[DatabaseManagerV3]:
    """One connection and transaction per request: committed when the route returns.

    v3 has no cache of its own, but it writes the tables v4 caches: after the commit, the
    tags its writes touched are invalidated in v4's cache, on every instance.
    """
    engine = request.app.state.bistro.db.engine
    async with engine.connect() as conn:
        try:
            yield DatabaseManagerV3(conn)
        except BaseException:
            await conn.rollback()
            raise
        await conn.commit()
    await flush_invalidations(request)


ManagerDep = Annotated[DatabaseManagerV3, Depends(get_manager, scope="function")]


async def v3_optional_user(request: Request, db: ManagerDep, state: StateDep) -> Principal | None:
    token = bearer_token(request.headers.get("authorization"))
    if token is None:
        return None
    context = context_of(request.scope)
    # The stable-path router may have looked this token up already (this request, fresh).
    principal = context.principal if context.principal_resolved else None
    if not context.principal_resolved:
        row = await db.principal(token_digest(token), state.clock.now())
        if row is not None:
            principal = Principal(row["id"], row["role"], row["email"], row["display_name"])
        context.principal, context.principal_resolved = principal, True
    if principal is None:
        raise invalid_token()
    return principal


V3OptionalUser = Annotated[Principal | None, Depends(v3_optional_user)]


async def v3_current_user(principal: V3OptionalUser) -> Principal:
    return require_signed_in(principal)


V3User = Annotated[Principal, Depends(v3_current_user)]


async def v3_admin(principal: V3User) -> Principal:
    return require_admin(principal)


V3Admin = Annotated[Principal, Depends(v3_admin)]


async def json_object(request: Request) -> dict[str, Any]:
    """The request body as a JSON object, or a 400 saying why not."""
    raw = await request.body()
    try:
        body = orjson.loads(raw) if raw else None
    except orjson.JSONDecodeError as exc:
        raise BadRequest("Request body is not valid JSON") from exc
    if not isinstance(body, dict):
        raise BadRequest("Request body must be a JSON object")
    return body


JSONBody = Annotated[dict[str, Any], Depends(json_object)]


def json_body_doc(properties: dict[str, str], *required: str) -> dict[str, Any]:
    """OpenAPI for a body v3 reads by hand (so bad input is its own 400, not a 422)."""
    schema = {
        "type": "object",
        "properties": {name: {"type": kind} for name, kind in properties.items()},
        "required": list(required),
    }
    return {"requestBody": {"required": True, "content": {"application/json": {"schema": schema}}}}
