"""L2: Redis, fail-open.

Every operation is bounded by the socket timeout and never retried; a failure counts as a
miss, logs a (rate-limited) warning and opens a circuit breaker so the following requests
skip Redis for a few seconds instead of each paying the timeout.

An entry is stored as ``[expires_at, valid_from, gen...]\\n<body>``: the expiry (wall clock,
so every instance agrees), for bodies that depend on the time of day the time they were
computed for (else 0), and the Redis generation of each tag when the body was loaded. A read fetches
the entry and the tags' current generations in one MGET; a generation that moved means a
write happened since, so the entry is stale (a miss).
"""

from __future__ import annotations

import asyncio
import math
from dataclasses import dataclass, field

import orjson
import structlog
from redis.asyncio import Redis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff

from bistro.core.cache.backend import UNAVAILABLE, L2Read
from bistro.core.cache.stats import CacheStats
from bistro.core.clock import Clock

log = structlog.get_logger("bistro.cache")


@dataclass
class RateLimitedWarning:
    """Log a warning at most once per ``interval`` seconds, saying how many were suppressed."""

    clock: Clock
    interval: float = 30.0
    _next: float = field(default=-math.inf, init=False)
    suppressed: int = field(default=0, init=False)

    def warn(self, event: str, **fields: object) -> None:
        now = self.clock.monotonic()
        if now < self._next:
            self.suppressed += 1
            return
        log.warning(event, suppressed=self.suppressed, **fields)
        self.suppressed = 0
        self._next = now + self.interval


class RedisStore:
    """L2 on Redis (implements backend.SharedBackend)."""

    def __init__(
        self,
        url: str,
        prefix: str,
        *,
        timeout: float,
        breaker_seconds: float,
        clock: Clock,
        stats: CacheStats,
    ) -> None:
        self.prefix = prefix
        self.channel = f"{prefix}:invalidate"
        self.timeout = timeout
        self.breaker_seconds = breaker_seconds
        self.clock = clock
        self.stats = stats
        self.warning = RateLimitedWarning(clock)
        self._open_until = -math.inf
        self.client = Redis.from_url(
            url,
            socket_timeout=timeout,
            socket_connect_timeout=timeout,
            retry=Retry(NoBackoff(), 0),
            health_check_interval=0,
        )

    def entry_key(self, key: str) -> str:
        return f"{self.prefix}:e:{key}"

    def gen_key(self, tag: str) -> str:
        return f"{self.prefix}:g:{tag}"

    @property
    def available(self) -> bool:
        """False while the circuit breaker is open after a failure."""
        return self.clock.monotonic() >= self._open_until

    def _failed(self, op: str, exc: BaseException) -> None:
        self.stats.l2_errors += 1
        self._open_until = self.clock.monotonic() + self.breaker_seconds
        self.warning.warn(
            "cache.redis_unavailable", op=op, error=repr(exc), skip_seconds=self.breaker_seconds
        )

    async def fetch(self, key: str, tags: tuple[str, ...]) -> L2Read:
        if not self.available:
            self.stats.l2_skipped += 1
            return UNAVAILABLE
        try:
            async with asyncio.timeout(self.timeout):
                values = await self.client.mget(
                    [self.entry_key(key), *[self.gen_key(t) for t in tags]]
                )
        except Exception as exc:  # any Redis failure is a miss, never an error
            self._failed("fetch", exc)
            return UNAVAILABLE
        gens = tuple(int(v) if v is not None else 0 for v in values[1:])
        raw = values[0]
        if not isinstance(raw, bytes):
            self.stats.l2_misses += 1
            return L2Read(None, gens)
        header, _, body = raw.partition(b"\n")
        try:
            meta = orjson.loads(header)
            expires_at, valid_from, stored = float(meta[0]), float(meta[1]), tuple(meta[2:])
        except (orjson.JSONDecodeError, TypeError, ValueError, IndexError):
            expires_at, valid_from, stored = 0.0, 0.0, ()
        now = self.clock.time()
        ttl_left = expires_at - now
        if stored != gens or ttl_left <= 0 or now < valid_from:
            self.stats.l2_stale += 1
            self.stats.l2_misses += 1
            return L2Read(None, gens)
        self.stats.l2_hits += 1
        return L2Read(body, gens, ttl_left, (valid_from, expires_at) if valid_from else None)

    async def store(
        self,
        key: str,
        body: bytes,
        gens: tuple[int, ...],
        ttl: float,
        wall: tuple[float, float] | None = None,
    ) -> None:
        if not self.available or ttl <= 0:
            return
        valid_from, expires_at = wall or (0.0, self.clock.time() + ttl)
        value = orjson.dumps([expires_at, valid_from, *gens]) + b"\n" + body
        try:
            async with asyncio.timeout(self.timeout):
                await self.client.set(self.entry_key(key), value, px=max(1, math.ceil(ttl * 1000)))
        except Exception as exc:
            self._failed("store", exc)

    async def bump(self, tags: tuple[str, ...], message: bytes) -> bool:
        """Move the tags' generations and tell every instance; False if Redis did not take it."""
        if not self.available:
            self.stats.l2_skipped += 1
            return False
        try:
            async with asyncio.timeout(self.timeout):
                pipe = self.client.pipeline(transaction=False)
                for tag in tags:
                    pipe.incr(self.gen_key(tag))
                pipe.publish(self.channel, message)
                await pipe.execute()
        except Exception as exc:
            self._failed("invalidate", exc)
            return False
        return True

    async def ping(self) -> bool:
        try:
            async with asyncio.timeout(self.timeout):
                return bool(await self.client.ping())
        except Exception:
            return False

    async def close(self) -> None:
        await self.client.aclose()
