"""Rules over a run's results: each recommendation names the figure that triggered it."""

from __future__ import annotations

import statistics
from typing import Any

REGRESSION_RATIO = 1.10  # v4 p50 10 % above v3's, over the run and in the median round
LOW_HIT_RATE = 0.5
QUEUEING_RATIO = 10.0  # p99 / p50
QUEUEING_MIN_REQUESTS = 200
ERROR_BURST_SHARE = 0.05
# Below these a figure is too noisy to act on.
MIN_REQUESTS = 50
MIN_LOOKUPS = 100
MEMORY_GROWTH_SHARE = 0.10
MEMORY_GROWTH_BYTES = 20 * 1024 * 1024


def _rec(rule: str, severity: str, message: str, **figure: Any) -> dict[str, Any]:
    return {"rule": rule, "severity": severity, "message": message, "figure": figure}


def recommendations(result: dict[str, Any]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    generator = result.get("generator", {})
    if generator.get("saturated"):
        out.append(
            _rec(
                "saturated_generator",
                "critical",
                f"The generator was the bottleneck (CPU {generator.get('cpu_percent')} % of a "
                f"core, {generator.get('late_share', 0):.1%} of requests sent late): these "
                "latencies measure the generator, not the server. Lower the rate or run the "
                "generator on another machine or core.",
                cpu_percent=generator.get("cpu_percent"),
                late_share=generator.get("late_share"),
            )
        )
    elif generator.get("descheduled"):
        out.append(
            _rec(
                "busy_machine",
                "warning",
                f"{generator.get('late_share', 0):.1%} of requests left late while the generator "
                f"used only {generator.get('cpu_percent')} % of a core: other processes held the "
                "CPU. Pin the generator and the server to different cores (taskset) or use a "
                "quieter machine; the open-loop latencies include that delay.",
                cpu_percent=generator.get("cpu_percent"),
                late_share=generator.get("late_share"),
            )
        )
    for endpoint, entry in result.get("endpoints", {}).items():
        out += _endpoint_rules(endpoint, entry)
    out += _burst_rules(result.get("slices", []))
    out += _cache_rules(result.get("cache", {}))
    out += _memory_rules(result.get("resources", {}).get("instances", {}))
    return out


def _endpoint_rules(endpoint: str, entry: dict[str, Any]) -> list[dict[str, Any]]:
    out = []
    rounds = entry.get("slice_ratios_p50") or []
    ratio = entry.get("v4_over_v3_p50")
    counts = [v.get("count", 0) for v in entry.get("versions", {}).values()]
    if (
        ratio is not None
        and rounds
        and min(counts, default=0) >= MIN_REQUESTS
        and ratio > REGRESSION_RATIO
        and statistics.median(rounds) > REGRESSION_RATIO
    ):
        v3 = entry["versions"]["v3"]["p50_ms"]
        v4 = entry["versions"]["v4"]["p50_ms"]
        out.append(
            _rec(
                "v4_regression",
                "warning",
                f"v4 is slower than v3 on {endpoint}: p50 {v4:.2f} ms against {v3:.2f} ms "
                f"(x{ratio:.2f}, median round x{statistics.median(rounds):.2f}). Profile the v4 "
                "path (query plan, cache TTL, serialisation) before moving this group.",
                endpoint=endpoint,
                ratio=ratio,
                median_round_ratio=statistics.median(rounds),
            )
        )
    for version, summary in entry.get("versions", {}).items():
        p50, p99 = summary.get("p50_ms"), summary.get("p99_ms")
        if (
            p50
            and p99
            and summary.get("count", 0) >= QUEUEING_MIN_REQUESTS
            and p99 / p50 > QUEUEING_RATIO
        ):
            out.append(
                _rec(
                    "queueing",
                    "warning",
                    f"{endpoint} {version}: p99 is {p99 / p50:.0f}x p50 ({p99:.1f} ms "
                    f"against {p50:.2f} ms): requests queue (worker or pool saturation, "
                    "a stall, or garbage collection). Add workers or lower the load.",
                    endpoint=endpoint,
                    version=version,
                    p99_over_p50=round(p99 / p50, 2),
                )
            )
        rate = summary.get("error_rate") or 0.0
        if rate > ERROR_BURST_SHARE:
            out.append(
                _rec(
                    "error_burst",
                    "critical",
                    f"{endpoint} {version}: {rate:.1%} of requests failed "
                    f"({summary.get('statuses')}); see the server log for those statuses.",
                    endpoint=endpoint,
                    version=version,
                    error_rate=rate,
                )
            )
        if summary.get("rate_limited"):
            out.append(
                _rec(
                    "rate_limited",
                    "info",
                    f"{endpoint} {version}: {summary['rate_limited']} answers were 429 (rate "
                    "limiting, not failures): raise the limit for this client or lower the rate.",
                    endpoint=endpoint,
                    version=version,
                    rate_limited=summary["rate_limited"],
                )
            )
    return out


def _burst_rules(slices: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Errors concentrated in a few slices: a burst the run-wide error rate may dilute."""
    burst = []
    for row in slices:
        for endpoint, cell in row.get("endpoints", {}).items():
            if cell.get("count") and cell.get("errors", 0) / cell["count"] > ERROR_BURST_SHARE:
                burst.append((row["index"], row["version"], endpoint, cell["errors"]))
    if not burst or len(burst) == sum(len(r.get("endpoints", {})) for r in slices):
        return []  # none, or errors everywhere (reported per endpoint instead)
    where = ", ".join(f"slice {i} {v} {e} ({n} errors)" for i, v, e, n in burst[:5])
    return [
        _rec(
            "error_burst",
            "warning",
            f"Errors came in bursts: {where}. Look at the server log and the health of the "
            "database and Redis at those moments.",
            slices=[i for i, *_ in burst],
        )
    ]


def _cache_rules(cache: dict[str, Any]) -> list[dict[str, Any]]:
    during = cache.get("during_run") or {}
    hit_rate = during.get("hit_rate")
    deltas = during.get("deltas") or {}
    lookups = deltas.get("l1_hits", 0) + deltas.get("l1_misses", 0)
    if hit_rate is None or hit_rate >= LOW_HIT_RATE or lookups < MIN_LOOKUPS:
        return []
    ttls = during.get("ttl_seconds") or {}
    return [
        _rec(
            "low_hit_rate",
            "warning",
            f"The v4 cache answered only {hit_rate:.0%} of lookups during the run (TTLs: "
            + ", ".join(f"{k} {v} s" for k, v in ttls.items())
            + "). A longer TTL or a larger L1 (BISTRO_CACHE_L1_MAX_ENTRIES) keeps more hot rows.",
            hit_rate=hit_rate,
            ttl_seconds=ttls,
        )
    ]


def _memory_rules(instances: dict[str, Any]) -> list[dict[str, Any]]:
    out = []
    for instance, figures in instances.items():
        before, after = figures.get("rss_before_bytes"), figures.get("rss_after_bytes")
        if not before or not after:
            continue
        growth = after - before
        if growth > MEMORY_GROWTH_BYTES and growth / before > MEMORY_GROWTH_SHARE:
            out.append(
                _rec(
                    "memory_growth",
                    "warning",
                    f"Instance {instance} grew from {before / 2**20:.0f} MiB to "
                    f"{after / 2**20:.0f} MiB during the run: run longer to tell a warming cache "
                    "from a leak.",
                    instance=instance,
                    rss_before_bytes=before,
                    rss_after_bytes=after,
                )
            )
    return out
