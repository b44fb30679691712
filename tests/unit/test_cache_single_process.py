"""The cache facade in one process without Redis: single-flight, invalidation, TTLs, switches."""

from __future__ import annotations

import asyncio

import pytest

from bistro.core.cache import Cache, multiworker_problem
from bistro.core.clock import FakeClock
from bistro.core.errors import NotFound
from bistro.core.settings import CacheSettings


def make_cache(**settings: object) -> tuple[Cache, FakeClock]:
    clock = FakeClock()
    return Cache(CacheSettings(**settings), clock), clock  # type: ignore[arg-type]


class CountingLoader:
    def __init__(self, body: bytes = b'{"v":1}', gate: asyncio.Event | None = None) -> None:
        self.body = body
        self.calls = 0
        self.gate = gate

    async def __call__(self) -> bytes:
        self.calls += 1
        if self.gate is not None:
            await self.gate.wait()
        return self.body


async def test_fifty_concurrent_misses_make_one_load() -> None:
    cache, _ = make_cache()
    gate = asyncio.Event()
    loader = CountingLoader(gate=gate)
    tasks = [
        asyncio.create_task(cache.get_or_load("k", loader, ttl=60, tags=["t"])) for _ in range(50)
    ]
    await asyncio.sleep(0)
    gate.set()
    bodies = await asyncio.gather(*tasks)
    assert loader.calls == 1
    assert set(bodies) == {b'{"v":1}'}
    assert cache.stats.loads == 1 and cache.stats.coalesced == 49
    # ... and the next read is an L1 hit.
    assert await cache.get_or_load("k", loader, ttl=60, tags=["t"]) == b'{"v":1}'
    assert loader.calls == 1 and cache.stats.l1_hits == 1


async def test_a_failed_load_reaches_every_waiter_and_is_not_cached() -> None:
    cache, _ = make_cache()
    gate = asyncio.Event()
    calls = 0

    async def failing() -> bytes:
        nonlocal calls
        calls += 1
        await gate.wait()
        raise NotFound("no such restaurant")

    tasks = [asyncio.create_task(cache.get_or_load("k", failing, ttl=60)) for _ in range(5)]
    await asyncio.sleep(0)
    gate.set()
    results = await asyncio.gather(*tasks, return_exceptions=True)
    assert calls == 1
    assert all(isinstance(r, NotFound) for r in results)
    with pytest.raises(NotFound):
        await cache.get_or_load("k", failing, ttl=60)
    assert calls == 2


async def test_waiters_take_over_when_the_loading_request_is_cancelled() -> None:
    cache, _ = make_cache()
    gate = asyncio.Event()
    loader = CountingLoader(gate=gate)
    leader = asyncio.create_task(cache.get_or_load("k", loader, ttl=60))
    await asyncio.sleep(0)
    waiter = asyncio.create_task(cache.get_or_load("k", loader, ttl=60))
    await asyncio.sleep(0)
    leader.cancel()
    await asyncio.sleep(0)
    gate.set()
    assert await waiter == b'{"v":1}'
    assert leader.cancelled()
    assert loader.calls == 2


async def test_invalidation_makes_the_next_read_load_again() -> None:
    cache, _ = make_cache()
    loader = CountingLoader()
    await cache.get_or_load("detail", loader, ttl=60, tags=["restaurant:1"])
    await cache.get_or_load("other", loader, ttl=60, tags=["restaurant:2"])
    await cache.invalidate(["restaurant:1"])
    await cache.get_or_load("detail", loader, ttl=60, tags=["restaurant:1"])
    await cache.get_or_load("other", loader, ttl=60, tags=["restaurant:2"])
    assert loader.calls == 3
    await cache.invalidate_all()
    await cache.get_or_load("other", loader, ttl=60, tags=["restaurant:2"])
    assert loader.calls == 4


async def test_a_write_during_a_load_is_not_hidden_by_the_loaded_body() -> None:
    cache, _ = make_cache()
    gate = asyncio.Event()
    slow = CountingLoader(b"old", gate=gate)
    reading = asyncio.create_task(cache.get_or_load("k", slow, ttl=60, tags=["t"]))
    await asyncio.sleep(0)
    await cache.invalidate(["t"])  # committed while the read was loading the old row
    gate.set()
    assert await reading == b"old"
    fresh = CountingLoader(b"new")
    assert await cache.get_or_load("k", fresh, ttl=60, tags=["t"]) == b"new"


async def test_ttls_and_a_loader_shortened_ttl() -> None:
    cache, clock = make_cache()
    assert (cache.ttl("restaurants"), cache.ttl("reviews")) == (1800, 900)
    assert (cache.ttl("users"), cache.ttl("statistics")) == (3600, 300)
    calls = 0

    async def until_next_minute() -> tuple[bytes, float]:
        nonlocal calls
        calls += 1
        return b"open", 30.0

    await cache.get_or_load("k", until_next_minute, ttl=1800)
    clock.advance(29)
    await cache.get_or_load("k", until_next_minute, ttl=1800)
    assert calls == 1
    clock.advance(2)
    await cache.get_or_load("k", until_next_minute, ttl=1800)
    assert calls == 2
    # A body made for this moment is not served after the wall clock is set back.
    clock.advance(-3600)
    await cache.get_or_load("k", until_next_minute, ttl=1800)
    assert calls == 3


async def test_disabled_cache_and_per_request_bypass_always_load() -> None:
    cache, _ = make_cache(enabled=False)
    loader = CountingLoader()
    for _ in range(3):
        await cache.get_or_load("k", loader, ttl=60)
    assert loader.calls == 3 and cache.stats.l1_hits == 0

    cache, _ = make_cache()
    await cache.get_or_load("k", loader, ttl=60)
    await cache.get_or_load("k", loader, ttl=60, bypass=True)
    assert loader.calls == 5 and cache.stats.bypassed == 1
    await cache.get_or_load("k", loader, ttl=60)
    assert loader.calls == 5  # the bypassed read did not disturb the cached entry


def test_several_workers_need_redis() -> None:
    no_redis = CacheSettings()
    problem = multiworker_problem(no_redis, 4)
    assert problem is not None and "BISTRO_REDIS_URL" in problem
    assert multiworker_problem(no_redis, 1) is None
    assert multiworker_problem(CacheSettings(enabled=False), 4) is None
    with_redis = CacheSettings(BISTRO_REDIS_URL="redis://127.0.0.1:6379/0")  # type: ignore[call-arg]
    assert multiworker_problem(with_redis, 4) is None
