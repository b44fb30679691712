"""Cold against warm cache, and L1 hit against L2 (Redis) hit against miss.

One pass over the same restaurant details after each step, one request at a time (so each
latency is the path alone, not queueing):
1. flush every instance's cache -> every read is a miss (database);
2. the same reads again -> L1 hits (this process's memory);
3. flush only the answering instance's L1 -> L2 hits (Redis), when Redis backs the cache.
Which level answered is read from the instance's cache counters before and after each pass.
Behind a load balancer the passes may land on several instances, and other traffic shares the
counters: the figures say which instance they come from.
"""

from __future__ import annotations

from typing import Any

from bistro.core.clock import Clock, SystemClock
from bistro.perf.histogram import LatencyHistogram
from bistro.perf.loadgen import Sender
from bistro.perf.plan import Request
from bistro.perf.probe import ServiceProbe

PASS_SIZE = 50


async def _pass(sender: Sender, ids: list[int], clock: Clock) -> dict[str, Any]:
    hist = LatencyHistogram()
    failures = 0
    for rid in ids:
        started = clock.monotonic()
        status = await sender.send(Request("detail", "v4", "GET", f"/api/v4/restaurants/{rid}"))
        hist.record(clock.monotonic() - started)
        failures += status != 200
    return hist.summary() | {"failures": failures}


def _levels(before: dict[str, Any] | None, after: dict[str, Any] | None) -> dict[str, Any]:
    if not before or not after or before.get("instance") != after.get("instance"):
        return {"note": "the counters came from different instances (or none): not compared"}
    b, a = before.get("counters") or {}, after.get("counters") or {}
    d = {k: a.get(k, 0) - b.get(k, 0) for k in ("l1_hits", "l2_hits", "l1_misses", "loads")}
    return {"l1_hits": d["l1_hits"], "l2_hits": d["l2_hits"], "misses": d["loads"]}


async def measure_cache(
    probe: ServiceProbe, sender: Sender, restaurant_ids: list[int], clock: Clock | None = None
) -> dict[str, Any]:
    clock = clock or SystemClock()
    ids = restaurant_ids[:PASS_SIZE]
    flushed = await probe.cache(flush="all")
    if flushed is None:
        return {"skipped": "the cache endpoints refused this token (an admin's is needed)"}
    if not flushed.get("enabled"):
        return {"skipped": "the v4 cache is disabled on this service"}
    steps: dict[str, Any] = {}
    before = flushed
    cold = await _pass(sender, ids, clock)
    mid = await probe.cache()
    steps["cold"] = cold | {"levels": _levels(before, mid)}
    warm = await _pass(sender, ids, clock)
    after_warm = await probe.cache()
    steps["warm_l1"] = warm | {"levels": _levels(mid, after_warm)}
    if flushed.get("l2"):
        local = await probe.cache(flush="local")
        l2 = await _pass(sender, ids, clock)
        after_l2 = await probe.cache()
        steps["l2"] = l2 | {"levels": _levels(local, after_l2)}
    return {
        "instance": flushed.get("instance"),
        "ttl_seconds": flushed.get("ttl_seconds"),
        "redis": bool(flushed.get("l2")),
        "requests_per_pass": len(ids),
        "passes": steps,
    }
