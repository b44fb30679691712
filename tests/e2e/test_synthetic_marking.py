"""``X-Bistro-Source: synthetic`` (bistro perf's load) is recorded as synthetic traffic, out of
the stable and direct series the alerts and the rollout controller read, but only when an
admin's token vouches for it."""

from __future__ import annotations

from typing import Any

import httpx
from fastapi import FastAPI
from sqlalchemy import event

from bistro.monitoring.recorder import Recorder
from bistro.monitoring.runtime import STATE_KEY
from tests.support import Factory

MARK = {"X-Bistro-Source": "synthetic"}


def recorder_of(app: FastAPI) -> Recorder:
    recorder: Recorder = app.state.bistro.extras[STATE_KEY].pipeline.recorder
    return recorder


async def sources(
    app: FastAPI, client: httpx.AsyncClient, path: str, headers: dict[str, str]
) -> set[str]:
    """The traffic sources the request at ``path`` was recorded under."""
    recorder_of(app).drain()
    response = await client.get(path, headers=headers)
    assert response.status_code == 200, response.text
    return {key[0] for key in recorder_of(app).drain()}


async def test_only_an_admin_can_mark_traffic_synthetic(
    app: FastAPI, client: httpx.AsyncClient, factory: Factory
) -> None:
    admin = await factory.user(role="admin")
    user = await factory.user()
    restaurant = await factory.restaurant()
    rid = restaurant["id"]
    admin_mark = {**MARK, "X-Bistro-Source-Token": admin.token}

    for prefix in ("/api/v3", "/api/v4"):
        path = f"{prefix}/restaurants/{rid}"
        assert await sources(app, client, path, admin_mark) == {"synthetic"}
        assert await sources(app, client, path, {**MARK, **admin.headers}) == {"synthetic"}
        # Anyone else's marker is ignored: their traffic stays client traffic.
        assert await sources(app, client, path, MARK) == {"direct"}
        user_mark = {**MARK, "X-Bistro-Source-Token": user.token}
        assert await sources(app, client, path, user_mark) == {"direct"}
        assert await sources(app, client, path, {**MARK, "X-Bistro-Source-Token": "nope"}) == {
            "direct"
        }
        assert await sources(app, client, path, {}) == {"direct"}
    # The stable path: synthetic with an admin's mark, stable without.
    stable = f"/api/restaurants/{rid}"
    assert await sources(app, client, stable, {**MARK, **admin.headers}) == {"synthetic"}
    assert await sources(app, client, stable, admin_mark) == {"synthetic"}
    assert await sources(app, client, stable, MARK) == {"stable"}


async def test_a_load_of_marked_requests_looks_the_token_up_once(
    app: FastAPI, client: httpx.AsyncClient, factory: Factory
) -> None:
    admin = await factory.user(role="admin")
    restaurant = await factory.restaurant()
    engine = app.state.bistro.db.engine.sync_engine
    token_queries: list[str] = []

    def note(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if "auth_tokens" in statement:
            token_queries.append(statement)

    recorder_of(app).drain()
    headers = {**MARK, "X-Bistro-Source-Token": admin.token}
    path = f"/api/v4/restaurants/{restaurant['id']}"
    event.listen(engine, "before_cursor_execute", note)
    try:
        for _ in range(20):
            assert (await client.get(path, headers=headers)).status_code == 200
    finally:
        event.remove(engine, "before_cursor_execute", note)
    assert len(token_queries) == 1  # the admin check, cached for the rest of the load
    batch = recorder_of(app).drain()
    assert {key[0] for key in batch} == {"synthetic"}
    assert sum(series.requests for series in batch.values()) == 20
