"""The v4 cache over HTTP: what a write invalidates, across two app instances, single-flight
to the database, fail-open when Redis is gone or hangs, and the per-request bypass."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import event
from starlette.types import ASGIApp, Receive, Scope, Send

from bistro.app import create_app
from bistro.core.cache import Cache
from bistro.core.context import context_of
from bistro.core.settings import CacheSettings, Settings
from tests.support import (
    REDIS_URL,
    Factory,
    drop_cache_keys,
    make_settings,
    new_cache_prefix,
    running_app,
    truncate_all,
)

V4 = "/api/v4"


def cache_of(app: FastAPI) -> Cache:
    cache: Cache = app.state.bistro.extras["cache"]
    return cache


@asynccontextmanager
async def serve(settings: Settings) -> AsyncIterator[tuple[FastAPI, httpx.AsyncClient]]:
    app = create_app(settings)
    async with running_app(app):
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            yield app, client


class QueryCounter:
    """Counts the SQL statements an app's engine runs on the restaurants table (background
    tasks such as the flag-version poll share the engine and are not counted).

    Statements SQLAlchemy executes are seen by its cursor event; the by-id read that the
    repository sends straight through asyncpg is seen by asyncpg's own query logger.
    """

    def __init__(self, app: FastAPI) -> None:
        self.engine = app.state.bistro.db.engine.sync_engine
        self.statements: list[str] = []
        self._drivers: list[Any] = []
        event.listen(self.engine, "before_cursor_execute", self._count)
        event.listen(self.engine, "checkout", self._watch_driver)

    def _count(self, _conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if "FROM restaurants" in statement:
            self.statements.append(statement)

    def _log(self, logged: Any) -> None:
        if "FROM restaurants" in logged.query:
            self.statements.append(logged.query)

    def _watch_driver(self, dbapi_connection: Any, *_args: Any) -> None:
        driver = getattr(dbapi_connection, "driver_connection", None)
        watchable = driver is not None and hasattr(driver, "add_query_logger")
        if watchable and driver not in self._drivers:
            driver.add_query_logger(self._log)
            self._drivers.append(driver)

    def close(self) -> None:
        event.remove(self.engine, "before_cursor_execute", self._count)
        event.remove(self.engine, "checkout", self._watch_driver)
        for driver in self._drivers:
            driver.remove_query_logger(self._log)


async def post_review(
    client: httpx.AsyncClient, user: Any, restaurant_id: int, rating: int
) -> dict[str, Any]:
    r = await client.post(
        f"{V4}/reviews",
        json={"restaurant_id": restaurant_id, "rating": rating, "text": "Lovely"},
        headers=user.headers,
    )
    assert r.status_code == 201, r.text
    data: dict[str, Any] = r.json()["data"]
    return data


async def reads(client: httpx.AsyncClient, restaurant_id: int) -> dict[str, Any]:
    """The cached views a review write must invalidate."""
    detail = await client.get(f"{V4}/restaurants/{restaurant_id}")
    listing = await client.get(f"{V4}/restaurants", params={"sort": "rating"})
    search = await client.get(f"{V4}/restaurants/search", params={"q": "tasca"})
    stats = await client.get(f"{V4}/statistics")
    reviews = await client.get(f"{V4}/reviews", params={"restaurant_id": restaurant_id})
    for r in (detail, listing, search, stats, reviews):
        assert r.status_code == 200, r.text
    item = next(i for i in listing.json()["data"] if i["id"] == restaurant_id)
    found = next(i for i in search.json()["data"] if i["id"] == restaurant_id)
    return {
        "detail": detail.json()["data"]["review_count"],
        "list": item["review_count"],
        "search": found["review_count"],
        "stats": stats.json()["data"]["total_reviews"],
        "reviews": reviews.json()["meta"]["total"],
    }


async def test_review_writes_invalidate_detail_lists_search_reviews_and_statistics(
    client: httpx.AsyncClient, app: FastAPI, factory: Factory
) -> None:
    tasca = await factory.restaurant(name="Tasca do Chico")
    ana, bob = await factory.user(), await factory.user()
    assert await reads(client, tasca["id"]) == dict.fromkeys(
        ["detail", "list", "search", "stats", "reviews"], 0
    )
    stats = cache_of(app).stats
    hits = stats.l1_hits
    await reads(client, tasca["id"])
    assert stats.l1_hits == hits + 5  # all five were served from the cache

    review = await post_review(client, ana, tasca["id"], 5)
    assert await reads(client, tasca["id"]) == dict.fromkeys(
        ["detail", "list", "search", "stats", "reviews"], 1
    )
    await post_review(client, bob, tasca["id"], 3)
    assert set((await reads(client, tasca["id"])).values()) == {2}

    r = await client.get(f"{V4}/reviews/{review['id']}")
    assert r.json()["data"]["rating"] == 5
    r = await client.put(f"{V4}/reviews/{review['id']}", json={"rating": 1}, headers=ana.headers)
    assert r.status_code == 200
    assert (await client.get(f"{V4}/reviews/{review['id']}")).json()["data"]["rating"] == 1
    detail = (await client.get(f"{V4}/restaurants/{tasca['id']}")).json()["data"]
    assert detail["rating_avg"] == 2.0
    hist = (await client.get(f"{V4}/statistics")).json()["data"]["rating_histogram"]
    assert (hist["1"], hist["3"], hist["5"]) == (1, 1, 0)

    r = await client.delete(f"{V4}/reviews/{review['id']}", headers=ana.headers)
    assert r.status_code == 200
    assert set((await reads(client, tasca["id"])).values()) == {1}
    assert (await client.get(f"{V4}/reviews/{review['id']}")).status_code == 404


async def test_restaurant_writes_invalidate_their_entries(
    client: httpx.AsyncClient, factory: Factory
) -> None:
    admin = await factory.user("admin")
    tasca = await factory.restaurant(name="Tasca do Chico")
    assert (await client.get(f"{V4}/restaurants/{tasca['id']}")).json()["data"]["name"] == (
        "Tasca do Chico"
    )
    assert (await client.get(f"{V4}/statistics")).json()["data"]["total_restaurants"] == 1
    r = await client.put(
        f"{V4}/restaurants/{tasca['id']}", json={"name": "Tasca Nova"}, headers=admin.headers
    )
    assert r.status_code == 200
    assert (await client.get(f"{V4}/restaurants/{tasca['id']}")).json()["data"]["name"] == (
        "Tasca Nova"
    )
    search = await client.get(f"{V4}/restaurants/search", params={"q": "nova"})
    assert [i["id"] for i in search.json()["data"]] == [tasca["id"]]

    ana = await factory.user()
    review = await post_review(client, ana, tasca["id"], 4)
    assert (await client.get(f"{V4}/reviews/{review['id']}")).status_code == 200
    r = await client.delete(f"{V4}/restaurants/{tasca['id']}", headers=admin.headers)
    assert r.status_code == 200
    assert (await client.get(f"{V4}/restaurants/{tasca['id']}")).status_code == 404
    # Its reviews went with it, detail entries included.
    assert (await client.get(f"{V4}/reviews/{review['id']}")).status_code == 404
    assert (await client.get(f"{V4}/statistics")).json()["data"]["total_restaurants"] == 0


@pytest.mark.postgres
@pytest.mark.redis
async def test_a_write_through_one_instance_is_seen_by_the_next_read_through_another(
    postgres_url: str,
) -> None:
    await truncate_all(postgres_url)
    prefix = new_cache_prefix()
    try:
        async with (
            serve(make_settings(postgres_url, REDIS_URL, cache_prefix=prefix)) as (app_a, a),
            serve(make_settings(postgres_url, REDIS_URL, cache_prefix=prefix)) as (app_b, b),
        ):
            factory = Factory(app_a)
            tasca = await factory.restaurant(name="Tasca do Chico")
            ana = await factory.user()
            assert set((await reads(b, tasca["id"])).values()) == {0}
            await reads(b, tasca["id"])  # now in b's L1
            loads = cache_of(app_b).stats.loads
            await reads(a, tasca["id"])
            assert cache_of(app_a).stats.loads == 0  # a found b's entries in Redis

            review = await post_review(a, ana, tasca["id"], 4)
            # The very next read through b, with no pause: fresh everywhere.
            assert set((await reads(b, tasca["id"])).values()) == {1}
            assert cache_of(app_b).stats.loads > loads
            assert cache_of(app_b).stats.remote_invalidations >= 1

            r = await a.put(f"{V4}/reviews/{review['id']}", json={"rating": 2}, headers=ana.headers)
            assert r.status_code == 200
            detail = (await b.get(f"{V4}/restaurants/{tasca['id']}")).json()["data"]
            assert detail["rating_avg"] == 2.0
            assert (await b.get(f"{V4}/reviews/{review['id']}")).json()["data"]["rating"] == 2
    finally:
        await drop_cache_keys(prefix)


async def test_fifty_concurrent_requests_for_one_uncached_key_make_one_query(
    client: httpx.AsyncClient, app: FastAPI, factory: Factory
) -> None:
    tasca = await factory.restaurant(name="Tasca do Chico")
    counter = QueryCounter(app)
    try:
        responses = await asyncio.gather(
            *(client.get(f"{V4}/restaurants/{tasca['id']}") for _ in range(50))
        )
        assert {r.status_code for r in responses} == {200}
        assert len({r.content for r in responses}) == 1
        assert len(counter.statements) == 1, counter.statements
        assert cache_of(app).stats.loads == 1

        lists = await asyncio.gather(
            *(client.get(f"{V4}/restaurants", params={"cuisine": "thai"}) for _ in range(50))
        )
        assert {r.status_code for r in lists} == {200}
        # One load: the page and its total (two statements at most), not fifty.
        assert len(counter.statements) <= 3, counter.statements
    finally:
        counter.close()


async def _closed_port() -> int:
    server = await asyncio.start_server(lambda r, w: None, "127.0.0.1", 0)
    port: int = server.sockets[0].getsockname()[1]
    server.close()
    await server.wait_closed()
    return port


def with_cache(settings: Settings, **cache: Any) -> Settings:
    settings.cache = CacheSettings(**cache)
    return settings


async def test_redis_on_a_closed_port_serves_v4_from_the_database_fast(db_url: str) -> None:
    url = f"redis://127.0.0.1:{await _closed_port()}/0"
    settings = with_cache(make_settings(db_url), BISTRO_REDIS_URL=url, redis_socket_timeout=0.25)
    async with serve(settings) as (app, client):
        factory = Factory(app)
        tasca = await factory.restaurant(name="Tasca do Chico")
        ana = await factory.user()
        assert (await client.get("/readyz")).status_code == 200  # warm the app up
        slowest = 0.0
        for _ in range(3):
            started = time.perf_counter()
            assert set((await reads(client, tasca["id"])).values()) == {0}
            slowest = max(slowest, time.perf_counter() - started)
        await post_review(client, ana, tasca["id"], 5)
        assert set((await reads(client, tasca["id"])).values()) == {1}
    # Five reads each time: a refused connection costs nothing like a timeout, ever.
    assert slowest < 0.25 + 0.75
    assert cache_of(app).stats.l2_errors >= 1
    assert cache_of(app).stats.l2_hits == 0


async def test_redis_that_hangs_costs_at_most_one_socket_timeout(db_url: str) -> None:
    silent: list[asyncio.StreamWriter] = []

    async def accept(_r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
        silent.append(w)

    server = await asyncio.start_server(accept, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    settings = with_cache(
        make_settings(db_url),
        BISTRO_REDIS_URL=f"redis://127.0.0.1:{port}/0",
        redis_socket_timeout=0.2,
    )
    try:
        async with serve(settings) as (app, client):
            tasca = await Factory(app).restaurant()
            assert (await client.get("/readyz")).status_code == 200  # warm the app up
            started = time.perf_counter()
            r = await client.get(f"{V4}/restaurants/{tasca['id']}")
            assert r.status_code == 200
            assert time.perf_counter() - started < 0.2 + 0.3  # one timeout, then the database
            started = time.perf_counter()
            for _ in range(20):
                assert (await client.get(f"{V4}/restaurants/{tasca['id']}")).status_code == 200
            assert time.perf_counter() - started < 1.0  # the breaker skips Redis meanwhile
    finally:
        for w in silent:
            w.close()
        server.close()
        await server.wait_closed()


class BypassWhenAsked:
    """Stands in for the flags feature: sets the bypass for requests with X-No-Cache."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and (b"x-no-cache", b"1") in scope["headers"]:
            context_of(scope).cache_bypass = True
        await self.app(scope, receive, send)


async def test_the_per_request_bypass_reads_the_database(db_url: str) -> None:
    app = create_app(make_settings(db_url))
    app.add_middleware(BypassWhenAsked)
    async with running_app(app):
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            tasca = await Factory(app).restaurant()
            stats = cache_of(app).stats
            for _ in range(3):
                r = await client.get(f"{V4}/restaurants/{tasca['id']}", headers={"X-No-Cache": "1"})
                assert r.status_code == 200
            assert (stats.loads, stats.bypassed, stats.l1_hits) == (0, 3, 0)
            await client.get(f"{V4}/restaurants/{tasca['id']}")
            await client.get(f"{V4}/restaurants/{tasca['id']}")
            assert (stats.loads, stats.l1_hits) == (1, 1)
