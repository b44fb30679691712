"""A signed-in stable-path request looks its token up once: the router shares it with the route."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import httpx
from fastapi import FastAPI
from sqlalchemy import event

from bistro.migration.flags import Flag, Stage, Version
from tests.e2e.test_stable_path import set_flag
from tests.support import Factory


@contextmanager
def token_queries(app: FastAPI) -> Iterator[list[str]]:
    """Every statement that reads auth_tokens, while the block runs."""
    seen: list[str] = []
    engine = app.state.bistro.db.engine.sync_engine

    def note(conn: object, cursor: object, statement: str, *args: object) -> None:
        if "auth_tokens" in statement and statement.lstrip().upper().startswith("SELECT"):
            seen.append(statement)

    event.listen(engine, "before_cursor_execute", note)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", note)


async def test_the_route_takes_the_principal_the_router_looked_up(
    app: FastAPI, client: httpx.AsyncClient, factory: Factory
) -> None:
    user = await factory.user()
    tokens = app.state.bistro.extras["flags"].tokens
    runtime = app.state.bistro.extras["flags"]
    # testing, with the user pinned: routing depends on who signed in.
    await set_flag(app, Flag.ENABLED, Stage.FULL)
    await set_flag(app, Flag.USERS, Stage.TESTING)
    for version in (Version.V3, Version.V4):
        async with runtime.changing() as flags:
            await flags.set_override(Flag.USERS, str(user.id), version, actor="test")
        tokens.forget(user.token)
        lookups = tokens.lookups
        with token_queries(app) as seen:
            r = await client.get("/api/users/me", headers=user.headers)
        assert (r.status_code, r.headers["x-api-version"]) == (200, version.value)
        assert r.json()["data"]["id"] == user.id
        assert tokens.lookups == lookups + 1  # the router looked the token up...
        assert len(seen) == 1, seen  # ...and the route did not ask again
        # Next time the router's cache answers: the route looks the token up itself, once.
        with token_queries(app) as seen:
            r = await client.get("/api/users/me", headers=user.headers)
        assert r.status_code == 200 and len(seen) == 1, seen


async def test_a_dead_token_the_router_looked_up_is_refused_by_the_route(
    app: FastAPI, client: httpx.AsyncClient, factory: Factory
) -> None:
    await set_flag(app, Flag.ENABLED, Stage.FULL)
    await set_flag(app, Flag.USERS, Stage.PARTIAL, 50)
    headers = {"Authorization": "Bearer not-a-live-token"}
    for _ in range(2):  # looked up by the router, then its cache's negative answer
        with token_queries(app) as seen:
            r = await client.get("/api/users/me", headers=headers)
        assert r.status_code == 401  # whichever version served it
        assert len(seen) == 1, seen
    # On a route without sign-in, the token does not matter: the list answers.
    r = await client.get("/api/reviews", headers=headers)
    assert r.status_code == 200
