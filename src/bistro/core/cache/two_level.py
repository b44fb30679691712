"""The v4 cache: L1 (per-process LRU) in front of L2 (Redis, when configured), with
single-flight loading and tag invalidation that reaches every instance.

Reading: L1 (trusted only while this process hears invalidations) -> L2 -> the loader, whose
result (already-serialised JSON bytes) fills both levels. Concurrent misses on one key share
one loader call. Writing: after the database commit, :meth:`Cache.invalidate` bumps the
written tags' generations locally and in Redis, and publishes them to the other instances.

Without Redis the cache is correct within one process only, so ``bistro serve`` refuses
``--workers`` > 1 without Redis (see :func:`multiworker_problem`).
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable, Iterable

import orjson
import structlog

from bistro.core.cache.backend import SharedBackend
from bistro.core.cache.keys import ALL, normal_tags
from bistro.core.cache.memory import Generations, MemoryCache
from bistro.core.cache.redis_store import RedisStore
from bistro.core.cache.stats import CacheStats
from bistro.core.cache.subscriber import InvalidationSubscriber, Sleep
from bistro.core.clock import Clock
from bistro.core.settings import CacheSettings

log = structlog.get_logger("bistro.cache")

# A loader returns the body, or the body and a TTL shorter than the entity's (for bodies that
# depend on the time of day, such as ``is_open_now``).
Loaded = bytes | tuple[bytes, float]
Loader = Callable[[], Awaitable[Loaded]]


class Cache:
    def __init__(
        self, settings: CacheSettings, clock: Clock, *, sleep: Sleep = asyncio.sleep
    ) -> None:
        self.settings = settings
        self.enabled = settings.enabled
        self.clock = clock
        self.stats = CacheStats()
        self.generations = Generations()
        self.l1 = MemoryCache(settings.l1_max_entries, clock, self.stats, self.generations)
        self.instance_id = uuid.uuid4().hex[:16]
        self.ttls = {
            "restaurants": settings.ttl_restaurants,
            "reviews": settings.ttl_reviews,
            "users": settings.ttl_users,
            "statistics": settings.ttl_statistics,
        }
        self._flights: dict[str, asyncio.Future[bytes]] = {}
        # Tags whose invalidation Redis has not acknowledged yet (sent again when it answers).
        self._pending: set[str] = set()
        self.l2: SharedBackend | None = None
        self.subscriber: InvalidationSubscriber | None = None
        if self.enabled and settings.redis_url:
            redis = RedisStore(
                settings.redis_url,
                settings.key_prefix,
                timeout=settings.redis_socket_timeout,
                breaker_seconds=settings.redis_breaker_seconds,
                clock=clock,
                stats=self.stats,
            )
            self.l2 = redis
            self.subscriber = InvalidationSubscriber(
                settings.redis_url,
                redis.channel,
                self._on_message,
                self._on_subscribed,
                timeout=settings.redis_socket_timeout,
                sleep=sleep,
                # Retried every second while Redis is down: warn at most every 30 s.
                warn=redis.warning.warn,
            )

    # -- lifecycle -----------------------------------------------------------------------

    async def start(self) -> None:
        if self.subscriber is not None:
            await self.subscriber.start()

    async def close(self) -> None:
        if self.subscriber is not None:
            await self.subscriber.close()
        if self.l2 is not None:
            await self.l2.close()

    def ttl(self, entity: str) -> int:
        return self.ttls[entity]

    @property
    def l1_trusted(self) -> bool:
        """L1 may answer only while every other instance's invalidations reach this one."""
        sub = self.subscriber
        if self.l2 is None or sub is None:
            return self.enabled
        sub.poll()
        return sub.connected

    # -- reading -------------------------------------------------------------------------

    def peek(self, key: str) -> bytes | None:
        """The body :meth:`get_or_load` would answer from L1 right now, or None (then nothing
        is counted: the caller goes the usual way). For the cache-hit fast path."""
        if not self.enabled or not self.l1_trusted:
            return None
        return self.l1.peek(key)

    async def get_or_load(
        self,
        key: str,
        loader: Loader,
        *,
        ttl: float,
        tags: Iterable[str] = (),
        bypass: bool = False,
    ) -> bytes:
        if not self.enabled or bypass:
            if bypass:
                self.stats.bypassed += 1
            return _body(await loader())
        trusted = self.l1_trusted
        if trusted:
            body = self.l1.get(key)
            if body is not None:
                return body
        tags_t = normal_tags(tags)
        while True:
            flight = self._flights.get(key)
            if flight is None:
                break
            self.stats.coalesced += 1
            try:
                return await asyncio.shield(flight)
            except asyncio.CancelledError:
                task = asyncio.current_task()
                if flight.cancelled() and task is not None and not task.cancelling():
                    continue  # the loading request went away: load it ourselves
                raise
        flight = asyncio.get_running_loop().create_future()
        self._flights[key] = flight
        try:
            body = await self._fill(key, loader, ttl, tags_t, trusted)
        except asyncio.CancelledError:
            flight.cancel()
            raise
        except BaseException as exc:
            flight.set_exception(exc)
            flight.exception()  # mark retrieved: the waiters (if any) re-raise it themselves
            raise
        else:
            flight.set_result(body)
            return body
        finally:
            if self._flights.get(key) is flight:
                del self._flights[key]

    async def _fill(
        self, key: str, loader: Loader, ttl: float, tags: tuple[str, ...], trusted: bool
    ) -> bytes:
        # Generations are read *before* loading: a write that lands during the load moves
        # them, and the body loaded before it is then never served.
        local_gens = self.generations.snapshot(tags)
        redis_gens: tuple[int, ...] | None = None
        if self.l2 is not None:
            if self._pending and self.l2.available:
                await self._send_pending()
            read = await self.l2.fetch(key, tags)
            redis_gens = read.gens
            if read.body is not None:
                if trusted:
                    ttl_left = min(ttl, read.ttl_left)
                    self.l1.set(key, read.body, ttl_left, tags, local_gens, read.wall)
                return read.body
        self.stats.loads += 1
        # A loader that returns its own TTL made a body for this moment (is_open_now):
        # it is right from now until then on the wall clock, and at no other time.
        wall: tuple[float, float] | None = None
        started = self.clock.time()
        loaded = await loader()
        if isinstance(loaded, tuple):
            body, ttl = loaded[0], min(ttl, loaded[1])
            wall = (started, started + ttl)
        else:
            body = loaded
        if trusted:
            self.l1.set(key, body, ttl, tags, local_gens, wall)
        if self.l2 is not None and redis_gens is not None:
            await self.l2.store(key, body, redis_gens, ttl, wall)
        return body

    # -- invalidation --------------------------------------------------------------------

    async def invalidate(self, tags: Iterable[str]) -> None:
        """Call after the write committed: every cached body with one of these tags is stale."""
        if not self.enabled:
            return
        tag_set = set(tags)
        if not tag_set:
            return
        self.stats.invalidations += 1
        self._apply(tag_set)
        if self.l2 is not None:
            self._pending |= tag_set
            await self._send_pending()

    async def invalidate_all(self) -> None:
        await self.invalidate([ALL])

    async def _send_pending(self) -> None:
        assert self.l2 is not None
        tags = tuple(sorted(self._pending))
        message = orjson.dumps({"o": self.instance_id, "t": tags})
        if await self.l2.bump(tags, message):
            self._pending.difference_update(tags)

    def _apply(self, tags: Iterable[str]) -> None:
        tags = tuple(tags)
        self.generations.bump(tags)
        if ALL in tags:
            self.l1.clear()

    def _on_message(self, payload: bytes) -> None:
        message = orjson.loads(payload)
        if message.get("o") == self.instance_id:
            return  # our own write: applied locally already
        tags = [t for t in message.get("t", ()) if isinstance(t, str)]
        self.stats.remote_invalidations += 1
        self._apply(tags)

    async def _on_subscribed(self) -> None:
        # L1 was not trusted while disconnected and may hold bodies older than writes we
        # did not hear about: drop it. After an outage, writes on other instances may not
        # have reached Redis either, so move the global generation (every entry is stale).
        self.l1.clear()
        assert self.subscriber is not None and self.l2 is not None
        if self.subscriber.outages:
            self._pending.add(ALL)
            self._apply([ALL])
            await self._send_pending()


def _body(loaded: Loaded) -> bytes:
    return loaded[0] if isinstance(loaded, tuple) else loaded


def multiworker_problem(settings: CacheSettings, workers: int) -> str | None:
    """Why ``workers`` processes cannot run with these settings, or None if they can."""
    if workers > 1 and settings.enabled and not settings.redis_url:
        return (
            f"--workers {workers} needs BISTRO_REDIS_URL: without Redis the v4 cache cannot "
            "tell other workers about writes (or set BISTRO_CACHE_ENABLED=false)"
        )
    return None
