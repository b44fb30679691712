"""Window summaries over the shared store: per version and group, merged across instances.

They read client traffic only (sources ``stable`` and ``direct``; never ``shadow`` or
``synthetic``), so the dashboard and the alerts judge what clients saw."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from bistro.core.windows import MAX_WINDOW, parse_window
from bistro.monitoring.histogram import decode, merge, quantile

__all__ = ["MAX_WINDOW", "parse_window"]  # where the rest of monitoring imports them from


@dataclass
class Aggregate:
    requests: int = 0
    errors_4xx: int = 0
    errors_5xx: int = 0
    client_aborts: int = 0
    latency_sum: float = 0.0
    bytes_out: int = 0
    histogram: dict[int, int] = field(default_factory=dict)

    def add_row(self, row: Any) -> None:
        self.requests += row.requests
        self.errors_4xx += row.errors_4xx
        self.errors_5xx += row.errors_5xx
        self.client_aborts += row.client_aborts
        self.latency_sum += row.latency_sum
        self.bytes_out += row.bytes_out
        merge(self.histogram, decode(row.histogram))

    def p(self, q: float) -> float | None:
        value = quantile(self.histogram, q)
        return None if value is None else round(value * 1000, 3)

    def summary(self, seconds: float) -> dict[str, Any]:
        n = self.requests
        return {
            "requests": n,
            "rps": round(n / seconds, 3) if seconds > 0 else 0.0,
            "errors_5xx": self.errors_5xx,
            "errors_4xx": self.errors_4xx,
            "error_rate": round(self.errors_5xx / n, 6) if n else 0.0,
            "client_error_rate": round(self.errors_4xx / n, 6) if n else 0.0,
            # Clients that went away before their answer: not in requests, rates or latency.
            "client_aborts": self.client_aborts,
            "latency_ms": {
                "avg": round(self.latency_sum / n * 1000, 3) if n else None,
                "p50": self.p(0.50),
                "p95": self.p(0.95),
                "p99": self.p(0.99),
            },
            "bytes_out": self.bytes_out,
        }


def cache_summary(rows: Iterable[Any]) -> dict[str, Any]:
    """Hits and misses per level, and the share of lookups served by any level.

    A lookup that misses L1 and hits L2 is an L1 miss and an L2 hit, so every lookup passes
    the first level: "served from cache" is all hits over the first level's lookups."""
    levels: dict[str, list[int]] = {}
    for row in rows:
        counts = levels.setdefault(row.level, [0, 0])
        counts[0] += row.hits
        counts[1] += row.misses
    out: dict[str, Any] = {}
    for level in sorted(levels):
        hits, misses = levels[level]
        total = hits + misses
        out[level] = {
            "hits": hits,
            "misses": misses,
            "hit_rate": round(hits / total, 6) if total else None,
        }
    hits = sum(c[0] for c in levels.values())
    lookups = sum(levels[min(levels)]) if levels else 0
    return {
        "levels": out,
        "hit_rate": round(hits / lookups, 6) if lookups else None,
        "lookups": lookups,
    }


def window_summary(
    request_rows: Sequence[Any],
    cache_rows: Sequence[Any],
    seconds: float,
    since: datetime,
    until: datetime,
) -> dict[str, Any]:
    versions: dict[str, Aggregate] = {"v3": Aggregate(), "v4": Aggregate()}
    groups: dict[tuple[str, str], Aggregate] = {}
    for row in request_rows:
        versions.setdefault(row.version, Aggregate()).add_row(row)
        groups.setdefault((row.version, row.grp), Aggregate()).add_row(row)
    cache = cache_summary(cache_rows)
    out: dict[str, Any] = {}
    for version, aggregate in versions.items():
        entry = aggregate.summary(seconds)
        # Only v4 has a cache; v3 is the uncached baseline.
        entry["cache_hit_rate"] = cache["hit_rate"] if version == "v4" else None
        entry["groups"] = {
            grp: agg.summary(seconds)
            for (ver, grp), agg in sorted(groups.items())
            if ver == version
        }
        out[version] = entry
    return {
        "window_seconds": seconds,
        "from": since,
        "to": until,
        "versions": out,
        "cache": cache,
    }


def timeseries(
    request_rows: Sequence[Any],
    cache_rows: Sequence[Any],
    since: datetime,
    until: datetime,
    step: int,
) -> dict[str, Any]:
    """Points every ``step`` seconds per version, for the dashboard's charts."""
    n_steps = max(1, int((until - since).total_seconds() // step))
    start = until - timedelta(seconds=n_steps * step)

    def slot(at: datetime) -> int:
        return min(n_steps - 1, max(0, int((at - start).total_seconds() // step)))

    per_version: dict[str, list[Aggregate]] = {
        v: [Aggregate() for _ in range(n_steps)] for v in ("v3", "v4")
    }
    for row in request_rows:
        per_version.setdefault(row.version, [Aggregate() for _ in range(n_steps)])
        per_version[row.version][slot(row.bucket_start)].add_row(row)
    cache_slots: list[list[Any]] = [[] for _ in range(n_steps)]
    for row in cache_rows:
        cache_slots[slot(row.bucket_start)].append(row)
    times = [start + timedelta(seconds=(i + 1) * step) for i in range(n_steps)]
    series: dict[str, Any] = {}
    for version, slots in per_version.items():
        points = [agg.summary(step) for agg in slots]
        series[version] = {
            "requests": [p["requests"] for p in points],
            "rps": [p["rps"] for p in points],
            "error_rate": [p["error_rate"] if p["requests"] else None for p in points],
            "p50": [p["latency_ms"]["p50"] for p in points],
            "p95": [p["latency_ms"]["p95"] for p in points],
            "p99": [p["latency_ms"]["p99"] for p in points],
        }
    series["cache_hit_rate"] = [cache_summary(rows)["hit_rate"] for rows in cache_slots]
    return {"step_seconds": step, "times": times, "series": series}
