"""Component health: database, cache, background services and the process itself.

Each component is ``healthy``, ``degraded`` or ``unhealthy`` with the measurement behind it.
Only an unhealthy component makes the whole service unhealthy (HTTP 503); Redis being down is
``degraded`` because v4 falls back to the database.
"""

from __future__ import annotations

import time
from datetime import datetime
from typing import Any

import psutil
from sqlalchemy import text

from bistro.core.database import Database

HEALTHY, DEGRADED, UNHEALTHY = "healthy", "degraded", "unhealthy"
_RANK = {HEALTHY: 0, DEGRADED: 1, UNHEALTHY: 2}

SLOW_DB_MS = 250.0
POOL_BUSY = 0.9
HIGH_PERCENT = 80.0


def worst(statuses: list[str]) -> str:
    return max(statuses, key=_RANK.__getitem__, default=HEALTHY)


async def database_health(db: Database) -> dict[str, Any]:
    pool = db.engine.pool
    usage: dict[str, Any] = {}
    for name in ("size", "checkedout", "overflow"):
        probe = getattr(pool, name, None)
        if callable(probe):
            usage[name] = probe()
    capacity = db.settings.pool_size + (0 if db.settings.is_sqlite else db.settings.max_overflow)
    if db.settings.is_sqlite:
        capacity = 1
    usage["capacity"] = capacity
    started = time.perf_counter()
    try:
        async with db.engine.connect() as conn:
            await conn.execute(text("SELECT 1"))
    except Exception as exc:
        return {
            "status": UNHEALTHY,
            "error": type(exc).__name__,
            "pool": usage,
            "dialect": db.dialect,
        }
    rtt = (time.perf_counter() - started) * 1000
    busy = usage.get("checkedout", 0) / capacity if capacity else 0.0
    status = DEGRADED if rtt > SLOW_DB_MS or busy >= POOL_BUSY else HEALTHY
    return {
        "status": status,
        "round_trip_ms": round(rtt, 3),
        "pool": usage,
        "pool_usage": round(busy, 3),
        "dialect": db.dialect,
    }


async def redis_health(redis: Any | None, hit_rate: float | None) -> dict[str, Any]:
    """``redis`` is the cache's L2 store (its ``ping()`` is bounded by the socket timeout
    and returns False on any failure)."""
    out: dict[str, Any] = {"hit_rate": hit_rate}
    if redis is None:
        return out | {"status": HEALTHY, "redis": "not configured (L1 only)"}
    started = time.perf_counter()
    if not await redis.ping():
        # v4 fails open to the database: slower, not broken.
        return out | {"status": DEGRADED, "redis": "unreachable"}
    rtt = (time.perf_counter() - started) * 1000
    return out | {"status": HEALTHY, "redis": "ok", "ping_ms": round(rtt, 3)}


def services_health(
    flush_interval: float,
    last_flush: datetime | None,
    now: datetime,
    flush_failures: int,
    webhook_queued: int,
) -> dict[str, Any]:
    lag = (now - last_flush).total_seconds() if last_flush else None
    status = HEALTHY
    if flush_failures or (lag is not None and lag > 3 * flush_interval):
        status = DEGRADED
    return {
        "status": status,
        "metrics_flusher": {
            "last_flush": last_flush,
            "seconds_since": lag,
            "consecutive_failures": flush_failures,
        },
        "alert_webhook": {"queued": webhook_queued},
    }


def process_health(process: psutil.Process) -> dict[str, Any]:
    with process.oneshot():
        cpu = process.cpu_percent(interval=None)
        rss = process.memory_info().rss
        mem_percent = process.memory_percent()
    host_mem = psutil.virtual_memory().percent
    # One event loop uses at most one core: 80 % of it is busy.
    status = DEGRADED if cpu > HIGH_PERCENT or host_mem > HIGH_PERCENT else HEALTHY
    return {
        "status": status,
        "cpu_percent": round(cpu, 1),
        "rss_bytes": rss,
        "memory_percent": round(mem_percent, 2),
        "host_memory_percent": host_mem,
        "pid": process.pid,
    }
