"""Shadow mode: the version that did not answer a sampled stable-path GET runs it afterwards,
off the request path; the two answers are compared and counted per endpoint group."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from bistro.legacy.statistics_sql import StatisticsSQL
from bistro.migration.evaluation import rollout_bucket
from bistro.migration.flags import Flag, Stage
from bistro.migration.runtime import FlagRuntime
from bistro.parity.redact import REDACTED
from bistro.parity.repository import ParityRepository
from bistro.parity.runtime import ParityRuntime
from bistro.parity.sections import parity_section
from bistro.parity.window import parity_window
from bistro.restaurants import service as restaurant_service
from bistro.restaurants.service import RestaurantService
from bistro.statistics.service import StatisticsService
from bistro.users import router as users_router
from tests.support import REDIS_URL, Factory, app_client

Shadowed = tuple[FastAPI, httpx.AsyncClient, ParityRuntime]


async def set_flag(app: FastAPI, flag: Flag, stage: Stage, percentage: float | None = None) -> None:
    runtime: FlagRuntime = app.state.bistro.extras["flags"]
    async with runtime.changing() as flags:
        await flags.set_flags([flag], stage=stage, percentage=percentage, actor="test")


def parity_of(app: FastAPI) -> ParityRuntime:
    runtime: ParityRuntime = app.state.bistro.extras["parity"]
    return runtime


async def settle(parity: ParityRuntime) -> None:
    assert parity.runner is not None
    await asyncio.wait_for(parity.runner.idle(), 10)


def totals(parity: ParityRuntime, group: str) -> dict[str, int]:
    return parity.stats.total.get(group, {})


@pytest.fixture
async def shadowed(
    backend: str, db_url: str, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[Shadowed]:
    monkeypatch.setenv("BISTRO_PARITY_SHADOW_TIMEOUT", "5")
    redis_url = REDIS_URL if backend == "postgres" else None
    async with app_client(db_url, redis_url) as (app, client):
        factory = Factory(app)
        for n in range(6):
            restaurant = await factory.restaurant(name=f"Casa {n}", cuisine="thai")
            user = await factory.user()
            await factory.review(user, restaurant, rating=n % 5 + 1)
        await set_flag(app, Flag.SHADOW, Stage.FULL)
        yield app, client, parity_of(app)


async def test_v4_runs_behind_v3_and_both_agree(shadowed: Shadowed) -> None:
    app, client, parity = shadowed
    paths = [
        "/api/restaurants",
        "/api/restaurants?sort=name&limit=3",
        "/api/restaurants/1",
        "/api/restaurants/search?q=casa",
        "/api/reviews?sort=rating",
        "/api/statistics",
        "/api/restaurants?limit=99",  # bad input: compared as both refused
    ]
    for path in paths:
        r = await client.get(path, headers={"X-Client-ID": "phone-1"})
        assert r.headers["x-api-version"] == "v3"
    await settle(parity)
    restaurants = totals(parity, "restaurants")
    assert (restaurants["compared"], restaurants["matched"], restaurants["mismatched"]) == (5, 5, 0)
    # The shadow runs are shadow traffic to the metrics: in no version's client figures.
    series = app.state.bistro.extras["monitoring"].pipeline.recorder.drain()
    counted = {(source, version): 0 for source, version, *_ in series}
    for (source, version, *_), one in series.items():
        counted[source, version] += one.requests
    assert counted == {("stable", "v3"): 7, ("shadow", "v4"): 7}
    assert totals(parity, "reviews")["matched"] == 1
    assert totals(parity, "statistics")["matched"] == 1
    metrics, _ = app.state.bistro.extras["monitoring"].render_prometheus()
    assert b'bistro_parity_shadow_total{group="restaurants",outcome="matched"} 5.0' in metrics
    # Counted in the shared store, read as the rollout controller reads them.
    assert await parity.flush()
    async with app.state.bistro.db.unit_of_work() as session:
        now = app.state.bistro.clock.now()
        window = (now - timedelta(minutes=5), now + timedelta(seconds=1))
        assert await parity_window(session, *window, "restaurants") == (5, 0)
        assert await parity_window(session, *window, None) == (7, 0)
        assert await parity_window(session, *window, "users") == (0, 0)

    # v4 serving: v3 runs behind it (comparisons go on until 'complete').
    await set_flag(app, Flag.RESTAURANTS, Stage.FULL)
    r = await client.get("/api/restaurants/2")
    assert r.headers["x-api-version"] == "v4"
    await settle(parity)
    assert totals(parity, "restaurants")["matched"] == 6


async def test_a_mismatch_is_counted_with_a_redacted_example(
    shadowed: Shadowed, monkeypatch: pytest.MonkeyPatch
) -> None:
    app, client, parity = shadowed
    original = restaurant_service.restaurant_representation

    def renamed(row: Any) -> dict[str, Any]:
        data = original(row)
        data["reviews_count"] = data.pop("review_count")
        return data

    monkeypatch.setattr(restaurant_service, "restaurant_representation", renamed)
    await client.get("/api/restaurants/3")
    # v4 shows a user's name differently: the example keeps the path, not the names.
    user = await Factory(app).user()
    shown = users_router.user_representation

    def other_name(*args: Any, **kwargs: Any) -> dict[str, Any]:
        return {**shown(*args, **kwargs), "display_name": "Somebody Else"}

    monkeypatch.setattr(users_router, "user_representation", other_name)
    await client.get("/api/users/me?q=ana@example.com", headers=user.headers)
    await settle(parity)
    assert totals(parity, "restaurants")["mismatched"] == 1
    assert await parity.flush()
    async with app.state.bistro.db.unit_of_work() as session:
        section = await parity_section(session, app.state.bistro.clock, 300)
    assert section["groups"]["restaurants"]["mismatch_rate"] == 1.0
    by_endpoint = {e["endpoint"]: e for e in section["examples"]}
    example = by_endpoint["GET /restaurants/{id}"]
    assert (example["path"], example["served"]) == ("/api/restaurants/3", "v3")
    assert [(d["path"], d["kind"]) for d in example["differences"]] == [
        ("$.data.review_count", "missing")
    ]
    me = by_endpoint["GET /users/me"]
    (diff,) = me["differences"]
    assert (diff["path"], diff["v3"], diff["v4"]) == ("$.data.display_name", REDACTED, REDACTED)
    assert me["query"] == "q=%3Credacted%3E"


async def test_a_v4_exception_or_delay_never_reaches_the_client(
    shadowed: Shadowed, monkeypatch: pytest.MonkeyPatch
) -> None:
    app, client, parity = shadowed
    await set_flag(app, Flag.SHADOW, Stage.DISABLED)
    baseline = await client.get("/api/restaurants/4")
    started = time.perf_counter()
    for _ in range(5):
        await client.get("/api/restaurants/4")
    unshadowed = (time.perf_counter() - started) / 5
    await set_flag(app, Flag.SHADOW, Stage.FULL)

    async def broken(self: RestaurantService, restaurant_id: int) -> Any:
        raise RuntimeError("v4 is broken")

    monkeypatch.setattr(RestaurantService, "get", broken)
    r = await client.get("/api/restaurants/4")
    assert (r.status_code, r.content) == (200, baseline.content)
    assert r.headers["x-api-version"] == "v3"
    await settle(parity)
    assert totals(parity, "restaurants")["errors"] == 1

    original_list = RestaurantService.list

    async def slow(self: RestaurantService, *args: Any) -> Any:
        await asyncio.sleep(2)
        return await original_list(self, *args)

    monkeypatch.setattr(RestaurantService, "list", slow)
    listed = (await client.get("/api/restaurants?limit=2")).content
    started = time.perf_counter()
    r = await client.get("/api/restaurants?limit=2")
    latency = time.perf_counter() - started
    # The client's latency is its own request's; the shadow run takes the 2 s afterwards.
    assert latency < unshadowed + 0.5 < 2, (latency, unshadowed)
    assert (r.status_code, r.content) == (200, listed)
    waited = time.perf_counter()
    await settle(parity)
    assert time.perf_counter() - waited > 1.0  # the shadow runs were really that slow
    assert totals(parity, "restaurants")["matched"] == 2


async def test_writes_are_never_shadowed_and_skip_comparisons_in_flight(
    shadowed: Shadowed, monkeypatch: pytest.MonkeyPatch
) -> None:
    app, client, parity = shadowed
    admin = await Factory(app).user("admin")
    original = RestaurantService.get

    async def slow(self: RestaurantService, restaurant_id: int) -> Any:
        await asyncio.sleep(0.3)
        return await original(self, restaurant_id)

    monkeypatch.setattr(RestaurantService, "get", slow)
    await client.get("/api/restaurants/5")  # its v4 shadow run sleeps...
    r = await client.put("/api/restaurants/5", json={"name": "Renamed"}, headers=admin.headers)
    assert r.status_code == 200  # ...while a write lands: the comparison is skipped
    body = {"restaurant_id": 1, "rating": 5, "text": "Great"}
    r = await client.post("/api/reviews", json=body, headers=admin.headers)
    assert r.status_code == 201
    assert parity.runner is not None and parity.runner.queue.qsize() == 0
    await settle(parity)
    assert totals(parity, "restaurants") == {
        "compared": 0,
        "matched": 0,
        "mismatched": 0,
        "noise": 0,
        "errors": 0,
        "skipped": 1,
        "dropped": 0,
    }
    assert "reviews" not in parity.stats.total  # the POST was not shadowed


async def test_a_full_queue_drops_work_and_counts_it(
    backend: str, db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("BISTRO_PARITY_SHADOW_QUEUE", "1")
    monkeypatch.setenv("BISTRO_PARITY_SHADOW_CONCURRENCY", "1")
    original = RestaurantService.list

    async def slow(self: RestaurantService, *args: Any) -> Any:
        await asyncio.sleep(0.5)
        return await original(self, *args)

    async with app_client(db_url) as (app, client):
        await set_flag(app, Flag.SHADOW, Stage.FULL)
        monkeypatch.setattr(RestaurantService, "list", slow)
        parity = parity_of(app)
        for _ in range(5):
            assert (await client.get("/api/restaurants")).status_code == 200
        # One running, one waiting, three dropped.
        assert totals(parity, "restaurants")["dropped"] == 3
        await settle(parity)
        assert totals(parity, "restaurants")["compared"] == 2


async def test_the_sample_is_sticky_and_rollback_leaves_it_alone(backend: str, db_url: str) -> None:
    async with app_client(db_url) as (app, client):
        await set_flag(app, Flag.SHADOW, Stage.PARTIAL, 50)
        await set_flag(app, Flag.RESTAURANTS, Stage.PARTIAL, 30)
        parity = parity_of(app)
        clients = [f"client-{n}" for n in range(40)]
        for _ in range(2):
            for cid in clients:
                await client.get("/api/statistics", headers={"X-Client-ID": cid})
        await settle(parity)
        expected = sum(rollout_bucket("api_v4_shadow", cid) <= 50 for cid in clients)
        assert 0 < expected < 40
        assert totals(parity, "statistics")["compared"] == 2 * expected
        r = await client.post("/api/v4/migration/rollback", json={"reason": "drill"})
        if r.status_code in (401, 403):  # the operator API wants an admin
            admin = await Factory(app).user("admin")
            r = await client.post(
                "/api/v4/migration/rollback", json={"reason": "drill"}, headers=admin.headers
            )
        assert r.status_code == 200, r.text
        runtime: FlagRuntime = app.state.bistro.extras["flags"]
        states = runtime.snapshot.states
        assert states[Flag.RESTAURANTS].stage == Stage.DISABLED
        assert (states[Flag.SHADOW].stage, states[Flag.SHADOW].percentage) == (
            Stage.PARTIAL,
            50,
        )


async def test_shadow_uses_the_noise_the_last_replay_saved(
    shadowed: Shadowed, monkeypatch: pytest.MonkeyPatch
) -> None:
    app, client, parity = shadowed
    v3_stats, v4_stats = StatisticsSQL.statistics, StatisticsService.summary

    def stamped(original: Any) -> Any:
        async def with_now(self: Any) -> dict[str, Any]:
            return {**await original(self), "generated_at": time.time_ns()}

        return with_now

    monkeypatch.setattr(StatisticsSQL, "statistics", stamped(v3_stats))
    monkeypatch.setattr(StatisticsService, "summary", stamped(v4_stats))
    await client.get("/api/statistics")
    await settle(parity)
    assert totals(parity, "statistics")["mismatched"] == 1  # nothing learned yet
    async with app.state.bistro.db.unit_of_work() as session:
        repo = ParityRepository(session)
        await repo.replace_noise({"GET /statistics": ["$.data.generated_at"]}, datetime.now(UTC))
    await parity.reload_noise()
    await client.get("/api/statistics")
    await settle(parity)
    assert (totals(parity, "statistics")["noise"], totals(parity, "statistics")["compared"]) == (
        1,
        2,
    )
