"""The cache-hit fast path answers exactly as FastAPI's route does: same status, headers
(all but X-Request-ID and Date) and body bytes, same metrics series, through /api/v4 and the
stable path; and it steps aside whenever the route would not answer from L1."""

from __future__ import annotations

from typing import Any

import httpx
from fastapi import FastAPI

from bistro.core.cache.fastpath import FastPathIndex
from bistro.core.cache.web import FAST_PATH_INDEX
from bistro.migration.flags import Flag, Stage, Version
from bistro.monitoring.runtime import STATE_KEY
from tests.e2e.test_stable_path import set_flag
from tests.support import Factory

_VARYING = {b"x-request-id", b"date"}


def index_of(app: FastAPI) -> FastPathIndex:
    index: FastPathIndex = app.state.bistro.extras[FAST_PATH_INDEX]
    return index


def answer(r: httpx.Response) -> tuple[int, list[tuple[bytes, bytes]], bytes]:
    headers = [(k.lower(), v) for k, v in r.headers.raw if k.lower() not in _VARYING]
    return r.status_code, headers, r.content


def series(app: FastAPI) -> dict[Any, int]:
    drained = app.state.bistro.extras[STATE_KEY].pipeline.recorder.drain()
    return {key: s.requests for key, s in drained.items()}


async def slow_then_fast(
    app: FastAPI, client: httpx.AsyncClient, path: str, headers: dict[str, str]
) -> None:
    index = index_of(app)
    await client.get(path, headers=headers)  # fills L1 (a miss) and the index
    index._entries.clear()  # the next answer is FastAPI's route, from L1
    series(app)
    answered = index.answered
    slow = await client.get(path, headers=headers)
    slow_series = series(app)
    assert index.answered == answered, path
    fast = await client.get(path, headers=headers)
    fast_series = series(app)
    assert index.answered == answered + 1, path  # this one did not reach FastAPI
    assert slow.status_code == 200, (path, slow.text)
    assert answer(fast) == answer(slow), path
    assert fast_series == slow_series, path  # same version, group, route label, status


async def test_fast_answers_are_the_routes_answers_byte_for_byte(
    app: FastAPI, client: httpx.AsyncClient, factory: Factory
) -> None:
    tasca = await factory.restaurant(name="Tasca", cuisine="portuguese", city="lisbon")
    await factory.restaurant(name="Sushi Go", cuisine="japanese", city="lisbon")
    ana = await factory.user()
    review = await factory.review(ana, tasca, rating=5, text="Bom")
    await set_flag(app, Flag.ENABLED, Stage.FULL)
    for flag in (Flag.RESTAURANTS, Flag.REVIEWS, Flag.STATISTICS):
        await set_flag(app, flag, Stage.FULL)
    paths = [
        f"/restaurants/{tasca['id']}",
        "/restaurants",
        "/restaurants?cuisine=portuguese,japanese&city=Lisbon&sort=name&limit=5",
        "/restaurants?open_now=true",
        "/restaurants/search?q=sushi",
        "/statistics",
        f"/reviews?restaurant_id={tasca['id']}",
        f"/reviews/{review['id']}",
    ]
    for path in paths:
        await slow_then_fast(app, client, "/api/v4" + path, {})
        # The stable path: X-API-Version from the router, the same metrics series.
        await slow_then_fast(app, client, "/api" + path, {"X-Client-ID": "phone-1"})
    # A first visit through the stable path: the client-id cookie is set on both.
    index = index_of(app)
    await client.get(f"/api/v4/restaurants/{tasca['id']}")  # noted again (the index was cleared)
    answered = index.answered
    first = await client.get(f"/api/restaurants/{tasca['id']}")
    assert index.answered == answered + 1
    assert first.headers["x-api-version"] == "v4"
    assert first.headers["set-cookie"].startswith("bistro_client_id=")


async def test_the_fast_path_steps_aside_when_the_route_would_not_answer_from_l1(
    app: FastAPI, client: httpx.AsyncClient, factory: Factory
) -> None:
    tasca = await factory.restaurant()
    index = index_of(app)
    path = f"/api/v4/restaurants/{tasca['id']}"
    assert (await client.get(path)).status_code == 200
    answered = index.answered
    # HEAD is FastAPI's 405, as before.
    assert (await client.head(path)).status_code == 405
    # A write invalidates: the next read is the route's (a miss), then fast again.
    admin = await factory.user(role="admin")
    r = await client.put(path, json={"name": "Tasca Nova"}, headers=admin.headers)
    assert r.status_code == 200
    assert (await client.get(path)).json()["data"]["name"] == "Tasca Nova"
    assert index.answered == answered
    assert (await client.get(path)).json()["data"]["name"] == "Tasca Nova"
    assert index.answered == answered + 1
    # The cache switched off for one subject: that subject's reads go to the route.
    await set_flag(app, Flag.ENABLED, Stage.FULL)
    await set_flag(app, Flag.RESTAURANTS, Stage.FULL)
    runtime = app.state.bistro.extras["flags"]
    async with runtime.changing() as flags:
        await flags.set_override(Flag.CACHE, "no-cache-phone", Version.V3, actor="test")
    stable = f"/api/restaurants/{tasca['id']}"
    stats = app.state.bistro.extras["cache"].stats
    bypassed = stats.bypassed
    for _ in range(2):
        r = await client.get(stable, headers={"X-Client-ID": "no-cache-phone"})
        assert r.status_code == 200 and r.headers["x-api-version"] == "v4"
    assert stats.bypassed == bypassed + 2
    assert index.answered == answered + 1
    r = await client.get(stable, headers={"X-Client-ID": "cached-phone"})
    assert index.answered == answered + 2
