"""One ``bistro perf run``: checks, warm-up, the interleaved load, the cache phase, resources,
recommendations; returns the JSON-ready result."""

from __future__ import annotations

import asyncio
import math
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

from bistro.core.clock import Clock, SystemClock, utcnow
from bistro.perf.cachephase import measure_cache
from bistro.perf.loadgen import (
    SYNTHETIC_HEADER,
    SYNTHETIC_TOKEN_HEADER,
    SYNTHETIC_VALUE,
    LoadConfig,
    LoadGenerator,
    Recording,
    Sender,
    Sleep,
)
from bistro.perf.plan import Mix, PlanError, Slice, schedule
from bistro.perf.probe import ProbeError, ResourceMonitor, ServiceProbe
from bistro.perf.recommend import recommendations
from bistro.perf.results import (
    generator_summary,
    raw_latencies,
    slice_table,
    summarise,
    timeline,
)

FORMAT = "bistro-perf/1"
# Small runs keep every latency (the acceptance check of the reported percentiles needs them).
KEEP_RAW_UP_TO = 100_000
# The warm-up must hold this share of the asked rate, or the run would measure the generator.
# Not closer to 1: a loaded machine can deschedule the generator for a few hundred ms, and
# the open loop then catches up (those requests count as late, their latency includes it).
RATE_TOLERANCE = 0.75
# Open loop gives up when this far behind its schedule (warm-up, measured run).
WARMUP_GIVE_UP_S = 1.0
RUN_GIVE_UP_S = 10.0


class RateUnreachable(Exception):
    """The asked open-loop rate cannot be measured: the generator or the service falls behind."""

    def __init__(self, target: float, generator: dict[str, Any], why: str | None) -> None:
        if why == "outstanding":
            message = (
                f"{target:g} req/s cannot be reached: the service answered only "
                f"{generator['achieved_rps']:.0f} req/s and {generator['sent']} requests piled "
                "up unanswered; lower --rate or use --concurrency to find its capacity"
            )
        else:
            message = (
                f"the generator cannot hold {target:g} req/s: it reached "
                f"{generator['dispatched_rps'] or 0:.0f} req/s at {generator['cpu_percent']} % "
                "of a core; lower --rate, or run more generators"
            )
        super().__init__(message)


@dataclass
class RunOptions:
    base_url: str
    endpoints: tuple[str, ...]
    versions: tuple[str, ...] = ("v3", "v4")
    duration_s: float = 30.0
    warmup_s: float = 5.0
    slice_s: float = 2.0
    rate: float | None = None
    concurrency: int | None = None
    token: str | None = None
    connections: int = 256
    timeout_s: float = 10.0
    keep_raw: bool | None = None
    cache_phase: bool = True

    def check(self) -> None:
        if (self.rate is None) == (self.concurrency is None):
            raise PlanError("give exactly one of --rate (open loop) or --concurrency (closed loop)")
        if self.rate is not None and not (0 < self.rate <= 1_000_000):
            raise PlanError("--rate must be above 0 and at most 1000000")
        if self.concurrency is not None and not (0 < self.concurrency <= 10_000):
            raise PlanError("--concurrency must be between 1 and 10000")
        if "write" in self.endpoints and not self.token:
            raise PlanError("--endpoints write needs --token (a signed-in user's bearer token)")
        if not self.base_url.startswith(("http://", "https://")):
            raise PlanError(f"--base-url must start with http:// or https://: {self.base_url}")


@dataclass
class Hooks:
    """How a run talks to its caller: warnings before it starts, progress while it runs."""

    warn: Callable[[str], None] = lambda message: None
    phase: Callable[[str, int], None] = lambda name, total: None
    tick: Callable[[int], None] = lambda n: None


@dataclass
class PerfRun:
    options: RunOptions
    hooks: Hooks = field(default_factory=Hooks)
    clock: Clock = field(default_factory=SystemClock)
    sleep: Sleep = asyncio.sleep

    def _headers(self) -> dict[str, str]:
        headers = {SYNTHETIC_HEADER: SYNTHETIC_VALUE, "X-Client-ID": "bistro-perf"}
        if self.options.token:
            headers[SYNTHETIC_TOKEN_HEADER] = self.options.token
        return headers

    def _expected(self, seconds: float) -> float:
        opts = self.options
        if opts.rate is not None:
            return opts.rate * seconds
        return math.inf

    async def execute(self) -> dict[str, Any]:
        opts = self.options
        opts.check()
        probe = ServiceProbe(opts.base_url, opts.token, timeout_s=opts.timeout_s)
        try:
            return await self._execute(probe)
        finally:
            await probe.close()

    async def _execute(self, probe: ServiceProbe) -> dict[str, Any]:
        opts = self.options
        await probe.identify()
        warnings: list[str] = []
        for name in await probe.running_rollouts():
            warnings.append(
                f"rollout of {name} is running: this load adds latency to the traffic it judges "
                "(the load itself is marked synthetic, out of the controller's figures)"
            )
        for message in warnings:
            self.hooks.warn(message)
        corpus = await probe.corpus()
        write_ids = list(corpus.restaurant_ids) if "write" in opts.endpoints else None
        mix = Mix(opts.endpoints, corpus)
        slices = schedule(opts.versions, opts.duration_s, opts.slice_s)
        keep_raw = opts.keep_raw
        if keep_raw is None:
            keep_raw = self._expected(sum(s.seconds for s in slices)) <= KEEP_RAW_UP_TO
        monitor = ResourceMonitor(probe, clock=self.clock, sleep=self.sleep)
        started_at = utcnow()
        async with Sender(
            opts.base_url,
            headers=self._headers(),
            connections=opts.connections,
            timeout_s=opts.timeout_s,
            write_restaurants=write_ids,
            write_token=opts.token,
        ) as sender:
            cache_before = await probe.cache() if opts.token else None
            await monitor.start()
            try:
                if opts.warmup_s > 0:
                    await self._warm_up(sender, mix)
                rec = await self._load(sender, mix, slices, keep_raw)
            finally:
                await monitor.stop()
            cache_after = await probe.cache() if opts.token else None
            generator = generator_summary(rec, opts.rate)
            if opts.warmup_s <= 0 or rec.gave_up:
                self._check_rate(generator, rec.gave_up)
            cache: dict[str, Any] = {"skipped": "needs an admin --token"}
            if opts.cache_phase and opts.token and "v4" in opts.versions:
                self.hooks.phase("cache", 0)
                cache = await measure_cache(probe, sender, corpus.restaurant_ids)
            cache["during_run"] = _counter_deltas(cache_before, cache_after)
        result: dict[str, Any] = {
            "format": FORMAT,
            "started_at": started_at.isoformat(),
            "finished_at": utcnow().isoformat(),
            "base_url": opts.base_url,
            "options": {k: v for k, v in asdict(opts).items() if k != "token"},
            "mode": "open" if opts.rate is not None else "closed",
            "warnings": warnings,
            "generator": generator,
            "endpoints": summarise(rec, slices, opts.endpoints),
            "slices": slice_table(rec, slices, opts.endpoints),
            "timeline": timeline(rec),
            "cache": cache,
            "resources": {
                "instances": monitor.summary(),
                "refused": monitor.refused,
            },
        }
        if monitor.refused and not monitor.samples:
            result["resources"]["note"] = (
                "the detailed health refused this token: pass an admin or scrape token"
            )
        raw = raw_latencies(rec, slices)
        if raw is not None:
            result["raw_latencies_us"] = raw
        result["recommendations"] = recommendations(result)
        return result

    async def _warm_up(self, sender: Sender, mix: Mix) -> None:
        opts = self.options
        per_version = max(opts.warmup_s / len(opts.versions), 0.001)
        slices = [Slice(i, v, per_version) for i, v in enumerate(opts.versions)]
        self.hooks.phase("warm-up", _total(self._expected(opts.warmup_s)))
        warm = Recording()
        gen = LoadGenerator(sender, mix, warm, clock=self.clock, sleep=self.sleep)
        await gen.run(
            LoadConfig(
                slices,
                rate=opts.rate,
                concurrency=opts.concurrency,
                give_up_lag_s=WARMUP_GIVE_UP_S,
                give_up_when_full=True,
            )
        )
        self._check_rate(generator_summary(warm, opts.rate), warm.gave_up)

    def _check_rate(self, generator: dict[str, Any], gave_up: str | None) -> None:
        """Refuse a rate that cannot be measured: the generator dispatched clearly fewer
        requests per second than asked, or requests piled up unanswered."""
        target = self.options.rate
        if target is None:
            return
        reached = generator["dispatched_rps"] or 0.0
        if gave_up is not None or reached < RATE_TOLERANCE * target:
            raise RateUnreachable(target, generator, gave_up)

    async def _load(
        self, sender: Sender, mix: Mix, slices: list[Slice], keep_raw: bool
    ) -> Recording:
        opts = self.options
        self.hooks.phase("load", _total(self._expected(sum(s.seconds for s in slices))))
        rec = Recording(keep_raw=keep_raw)
        gen = LoadGenerator(
            sender, mix, rec, clock=self.clock, sleep=self.sleep, on_tick=self.hooks.tick
        )
        config = LoadConfig(
            slices, rate=opts.rate, concurrency=opts.concurrency, give_up_lag_s=RUN_GIVE_UP_S
        )
        return await gen.run(config)


def _total(expected: float) -> int:
    return 0 if math.isinf(expected) else round(expected)


def _counter_deltas(
    before: dict[str, Any] | None, after: dict[str, Any] | None
) -> dict[str, Any] | None:
    """Cache counter deltas over the load (the same instance answered both reads, or the
    figures would mix two processes' counters: then None)."""
    if not before or not after or before.get("instance") != after.get("instance"):
        return None
    b, a = before.get("counters") or {}, after.get("counters") or {}
    delta = {k: a.get(k, 0) - b.get(k, 0) for k in a}
    lookups = delta.get("l1_hits", 0) + delta.get("l1_misses", 0)
    hits = delta.get("l1_hits", 0) + delta.get("l2_hits", 0)
    return {
        "instance": after.get("instance"),
        "deltas": delta,
        "hit_rate": round(hits / lookups, 4) if lookups else None,
        "ttl_seconds": after.get("ttl_seconds"),
        "note": "cumulative counters of one instance: other traffic may share them",
    }


__all__ = ["FORMAT", "Hooks", "PerfRun", "ProbeError", "RateUnreachable", "RunOptions"]
