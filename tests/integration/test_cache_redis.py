"""The two-level cache against the real Redis (BISTRO_TEST_REDIS_URL), each test under its own
key prefix and channel: sharing across instances, invalidation, fail-open, reconnection."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator, Callable

import pytest
from redis.asyncio import Redis

from bistro.core.cache import Cache
from bistro.core.clock import FakeClock, SystemClock
from bistro.core.settings import CacheSettings
from tests.support import REDIS_URL

pytestmark = pytest.mark.redis

CacheMaker = Callable[..., Cache]


@pytest.fixture
async def make_cache() -> AsyncIterator[CacheMaker]:
    prefix = f"test-{uuid.uuid4().hex[:12]}"
    made: list[Cache] = []

    def make(url: str = REDIS_URL, clock: object | None = None, **settings: object) -> Cache:
        values = {"BISTRO_REDIS_URL": url, "key_prefix": prefix} | settings
        cache = Cache(CacheSettings(**values), clock or SystemClock(), sleep=_fast_sleep)  # type: ignore[arg-type]
        made.append(cache)
        return cache

    yield make
    for cache in made:
        await cache.close()
    redis = Redis.from_url(REDIS_URL)
    keys = [k async for k in redis.scan_iter(match=f"{prefix}:*")]
    if keys:
        await redis.delete(*keys)
    await redis.aclose()


async def _fast_sleep(_seconds: float) -> None:
    await asyncio.sleep(0.01)


class Loader:
    def __init__(self, body: bytes) -> None:
        self.body = body
        self.calls = 0

    async def __call__(self) -> bytes:
        self.calls += 1
        return self.body


async def test_second_instance_reads_the_first_ones_entry_from_redis(
    make_cache: CacheMaker,
) -> None:
    a, b = make_cache(), make_cache()
    await a.start()
    await b.start()
    loader = Loader(b'{"name":"Tasca"}')
    assert await a.get_or_load("r:1", loader, ttl=60, tags=["restaurant:1"]) == loader.body
    assert await b.get_or_load("r:1", loader, ttl=60, tags=["restaurant:1"]) == loader.body
    assert loader.calls == 1
    assert b.stats.l2_hits == 1 and b.stats.l1_misses == 1
    await b.get_or_load("r:1", loader, ttl=60, tags=["restaurant:1"])
    assert b.stats.l1_hits == 1


async def test_a_write_on_one_instance_is_seen_by_the_next_read_on_another(
    make_cache: CacheMaker,
) -> None:
    a, b = make_cache(), make_cache()
    await a.start()
    await b.start()
    old, new = Loader(b"old"), Loader(b"new")
    await b.get_or_load("r:1", old, ttl=60, tags=["restaurant:1"])
    await b.get_or_load("r:1", old, ttl=60, tags=["restaurant:1"])  # now in b's L1
    assert b.stats.l1_hits == 1

    await a.invalidate(["restaurant:1"])
    # No sleep: b applies the message already in its socket before trusting L1.
    assert await b.get_or_load("r:1", new, ttl=60, tags=["restaurant:1"]) == b"new"
    assert b.stats.remote_invalidations == 1
    assert await a.get_or_load("r:1", new, ttl=60, tags=["restaurant:1"]) == b"new"
    assert new.calls == 1  # a found b's fresh body in Redis


async def test_entries_of_other_tags_survive_an_invalidation(make_cache: CacheMaker) -> None:
    a, b = make_cache(), make_cache()
    await a.start()
    await b.start()
    loader = Loader(b"x")
    await b.get_or_load("r:2", loader, ttl=60, tags=["restaurant:2"])
    await a.invalidate(["restaurant:1"])
    await b.get_or_load("r:2", loader, ttl=60, tags=["restaurant:2"])
    await a.get_or_load("r:2", loader, ttl=60, tags=["restaurant:2"])
    assert loader.calls == 1


async def test_l2_entries_expire_on_the_injected_clock(make_cache: CacheMaker) -> None:
    clock = FakeClock()
    a, b = make_cache(clock=clock), make_cache(clock=clock)
    await a.start()
    await b.start()
    loader = Loader(b"x")
    await a.get_or_load("k", loader, ttl=30, tags=[])
    clock.advance(31)
    await b.get_or_load("k", loader, ttl=30, tags=[])
    assert loader.calls == 2 and b.stats.l2_stale == 1


async def test_concurrent_misses_on_one_key_make_one_load_with_redis(
    make_cache: CacheMaker,
) -> None:
    cache = make_cache()
    await cache.start()
    gate = asyncio.Event()
    calls = 0

    async def slow() -> bytes:
        nonlocal calls
        calls += 1
        await gate.wait()
        return b"body"

    tasks = [asyncio.create_task(cache.get_or_load("k", slow, ttl=60)) for _ in range(50)]
    await asyncio.sleep(0.05)
    gate.set()
    assert set(await asyncio.gather(*tasks)) == {b"body"}
    assert calls == 1


async def _closed_port() -> int:
    server = await asyncio.start_server(lambda r, w: None, "127.0.0.1", 0)
    port: int = server.sockets[0].getsockname()[1]
    server.close()
    await server.wait_closed()
    return port


async def test_redis_on_a_closed_port_fails_open_fast(make_cache: CacheMaker) -> None:
    cache = make_cache(f"redis://127.0.0.1:{await _closed_port()}/0")
    started = time.perf_counter()
    await cache.start()
    loader = Loader(b"db")
    for _ in range(20):
        assert await cache.get_or_load("k", loader, ttl=60, tags=["t"]) == b"db"
    await cache.invalidate(["t"])
    assert time.perf_counter() - started < 1.0
    assert loader.calls == 20  # no L1 without invalidations from Redis: every read loads
    assert cache.stats.l2_errors == 1  # then the breaker skipped Redis
    assert cache.stats.l2_skipped >= 19


async def test_redis_that_never_answers_costs_one_timeout_then_is_skipped(
    make_cache: CacheMaker,
) -> None:
    hung: list[asyncio.StreamWriter] = []

    async def accept_and_stay_silent(_r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
        hung.append(w)

    server = await asyncio.start_server(accept_and_stay_silent, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    clock = FakeClock()
    cache = make_cache(f"redis://127.0.0.1:{port}/0", clock=clock, redis_socket_timeout=0.2)
    try:
        started = time.perf_counter()
        await cache.start()  # the subscriber gives up after the timeout
        loader = Loader(b"db")
        assert await cache.get_or_load("k", loader, ttl=60) == b"db"
        first = time.perf_counter() - started
        assert first < 0.2 * 2 + 0.3
        started = time.perf_counter()
        for _ in range(10):
            assert await cache.get_or_load("k", loader, ttl=60) == b"db"
        assert time.perf_counter() - started < 0.1  # breaker open: Redis not even tried
        clock.advance(cache.settings.redis_breaker_seconds + 0.1)
        started = time.perf_counter()
        assert await cache.get_or_load("k", loader, ttl=60) == b"db"
        assert 0.15 < time.perf_counter() - started < 0.6  # tried again, one timeout
        assert cache.stats.l2_errors == 2
    finally:
        for w in hung:
            w.close()
        server.close()
        await server.wait_closed()


async def test_after_losing_the_subscription_l1_is_not_trusted_and_reconnect_flushes(
    make_cache: CacheMaker,
) -> None:
    a, b = make_cache(), make_cache()
    await a.start()
    await b.start()
    loader = Loader(b"x")
    await b.get_or_load("k", loader, ttl=60, tags=["t"])
    await a.get_or_load("k", loader, ttl=60, tags=["t"])
    await a.get_or_load("k", loader, ttl=60, tags=["t"])
    assert a.stats.l1_hits == 1 and loader.calls == 1

    # Kill a's subscriber connection only (matched by its local port).
    assert a.subscriber is not None and a.subscriber._sock is not None
    port = a.subscriber._sock.getsockname()[1]
    admin = Redis.from_url(REDIS_URL)
    try:
        clients = await admin.client_list(_type="pubsub")
        ids = [c["id"] for c in clients if c["addr"].endswith(f":{port}")]
        assert len(ids) == 1
        await admin.client_kill_filter(_id=ids[0])
    finally:
        await admin.aclose()

    await asyncio.sleep(0.005)
    await a.get_or_load("k", loader, ttl=60, tags=["t"])
    assert not a.subscriber.connected or a.stats.l1_hits == 1  # never an L1 hit while deaf
    for _ in range(100):
        if a.subscriber.connected:
            break
        await asyncio.sleep(0.01)
    assert a.subscriber.connected and a.subscriber.outages == 1
    # Reconnecting moved the global generation: every instance drops what it had.
    await b.get_or_load("k", loader, ttl=60, tags=["t"])
    assert loader.calls == 2
    assert b.stats.remote_invalidations == 1


async def test_invalidations_redis_missed_are_sent_when_it_answers_again(
    make_cache: CacheMaker,
) -> None:
    clock = FakeClock()
    a, b = make_cache(clock=clock), make_cache(clock=clock)
    await a.start()
    await b.start()
    loader = Loader(b"x")
    await b.get_or_load("k", loader, ttl=600, tags=["t"])
    assert a.l2 is not None
    a.l2._open_until = clock.monotonic() + 5  # as after a failure: the breaker is open
    await a.invalidate(["t"])
    assert "t" in a._pending
    clock.advance(6)
    await a.get_or_load("other", loader, ttl=60)  # a's next Redis use sends it
    assert not a._pending
    assert await b.get_or_load("k", Loader(b"y"), ttl=600, tags=["t"]) == b"y"
