"""From a recording to the figures a run reports: per endpoint and version, per slice, over time.

Statuses: 2xx/3xx are successes, 429 is rate limiting (the service protecting itself, not
failing), any other 4xx/5xx and transport errors are errors.
"""

from __future__ import annotations

import collections
import math
import statistics
from typing import Any

from bistro.perf.histogram import LatencyHistogram
from bistro.perf.loadgen import NOT_SENT, TRANSPORT_ERROR, UNREADABLE_ANSWER, Recording
from bistro.perf.plan import Slice

SATURATED_CPU = 0.85
SATURATED_LATE = 0.05
CONTENDED_CPU = 0.5


def is_error(status: int) -> bool:
    return status != 429 and (status >= 400 or status <= TRANSPORT_ERROR)


def status_label(status: int) -> str:
    if status == TRANSPORT_ERROR:
        return "transport"
    if status == NOT_SENT:
        return "not_sent"
    if status == UNREADABLE_ANSWER:
        return "unreadable_answer"
    return str(status)


def _ratio(a: float, b: float) -> float | None:
    if not (a > 0 and b > 0) or math.isnan(a) or math.isnan(b):
        return None
    return round(a / b, 4)


def version_summary(
    histogram: LatencyHistogram, statuses: collections.Counter[int], active_s: float
) -> dict[str, Any]:
    total = sum(statuses.values())
    errors = sum(n for s, n in statuses.items() if is_error(s))
    limited = statuses.get(429, 0)
    out = histogram.summary()
    out.update(
        {
            "requests": total,
            "rps": round(total / active_s, 2) if active_s > 0 else None,
            "errors": errors,
            "error_rate": round(errors / total, 5) if total else None,
            "rate_limited": limited,
            "statuses": {status_label(s): n for s, n in sorted(statuses.items())},
            "curve": histogram.curve(),
            "histogram": histogram.encode(),
        }
    )
    return out


def summarise(rec: Recording, slices: list[Slice], endpoints: tuple[str, ...]) -> dict[str, Any]:
    versions = tuple(dict.fromkeys(s.version for s in slices))
    active: dict[str, float] = collections.defaultdict(float)
    for sl in slices:
        active[sl.version] += rec.slice_wall.get(sl.index, sl.seconds)
    by_endpoint: dict[str, Any] = {}
    for endpoint in endpoints:
        per_version: dict[str, Any] = {}
        for version in versions:
            cells = [
                rec.cells[(sl.index, endpoint)]
                for sl in slices
                if sl.version == version and (sl.index, endpoint) in rec.cells
            ]
            hist = LatencyHistogram.merged(c.histogram for c in cells)
            statuses = sum((c.statuses for c in cells), collections.Counter[int]())
            per_version[version] = version_summary(hist, statuses, active[version])
        entry: dict[str, Any] = {"versions": per_version}
        if "v3" in per_version and "v4" in per_version:
            v3, v4 = per_version["v3"], per_version["v4"]
            for key in ("p50_ms", "p99_ms"):
                entry[f"v4_over_v3_{key[:-3]}"] = _ratio(
                    v4.get(key, math.nan), v3.get(key, math.nan)
                )
            entry["slice_ratios_p50"] = slice_ratios(rec, slices, endpoint)
        by_endpoint[endpoint] = entry
    return by_endpoint


def slice_ratios(rec: Recording, slices: list[Slice], endpoint: str) -> list[float]:
    """v4 p50 / v3 p50 for each round (a v3 slice and its neighbouring v4 slice)."""
    out: list[float] = []
    per_round = len({s.version for s in slices})
    for start in range(0, len(slices) - per_round + 1, per_round):
        p50 = {}
        for sl in slices[start : start + per_round]:
            cell = rec.cells.get((sl.index, endpoint))
            if cell is not None and cell.histogram.count:
                p50[sl.version] = cell.histogram.percentile_ms(50)
        ratio = _ratio(p50.get("v4", math.nan), p50.get("v3", math.nan))
        if ratio is not None:
            out.append(ratio)
    return out


def slice_table(rec: Recording, slices: list[Slice], endpoints: tuple[str, ...]) -> list[Any]:
    out = []
    for sl in slices:
        row: dict[str, Any] = {
            "index": sl.index,
            "version": sl.version,
            "seconds": sl.seconds,
            "wall_s": round(rec.slice_wall.get(sl.index, math.nan), 3),
            "endpoints": {},
        }
        for endpoint in endpoints:
            cell = rec.cells.get((sl.index, endpoint))
            if cell is None:
                continue
            row["endpoints"][endpoint] = {
                "count": cell.histogram.count,
                "p50_ms": round(cell.histogram.percentile_ms(50), 4),
                "p99_ms": round(cell.histogram.percentile_ms(99), 4),
                "errors": sum(n for s, n in cell.statuses.items() if is_error(s)),
            }
        out.append(row)
    return out


def timeline(rec: Recording) -> list[dict[str, Any]]:
    if not rec.timeline:
        return []
    last = max(rec.timeline)
    return [
        {"second": s, **{v: n for v, n in rec.timeline.get(s, {}).items()}} for s in range(last + 1)
    ]


def generator_summary(rec: Recording, rate: float | None) -> dict[str, Any]:
    completed = sum(c.histogram.count for c in rec.cells.values())
    cpu_share = rec.cpu_s / rec.wall_s if rec.wall_s > 0 else 0.0
    late_share = rec.late / rec.sent if rec.sent else 0.0
    return {
        "sent": rec.sent,
        "completed": completed,
        "late": rec.late,
        "late_share": round(late_share, 5),
        "max_lag_ms": round(rec.max_lag_s * 1000, 3),
        "wall_s": round(rec.wall_s, 3),
        "cpu_s": round(rec.cpu_s, 3),
        # One event loop uses one core at most: 100 % means the generator is the bottleneck.
        "cpu_percent": round(cpu_share * 100, 1),
        "cpu_per_request_us": round(rec.cpu_s / completed * 1e6, 1) if completed else None,
        "achieved_rps": round(completed / rec.wall_s, 2) if rec.wall_s > 0 else None,
        "dispatched_rps": round(rec.sent / rec.dispatch_s, 2) if rec.dispatch_s > 0 else None,
        "target_rps": rate,
        # Busy for most of a core, or behind its schedule often: either way the latencies
        # include the generator's own delay.
        "saturated": cpu_share > SATURATED_CPU
        or (late_share > SATURATED_LATE and cpu_share > CONTENDED_CPU),
        # Late while mostly idle: other processes held the CPU (a shared or busy machine).
        "descheduled": late_share > SATURATED_LATE and cpu_share <= CONTENDED_CPU,
        "gave_up": rec.gave_up,
    }


def raw_latencies(rec: Recording, slices: list[Slice]) -> dict[str, dict[str, list[int]]] | None:
    if not rec.keep_raw:
        return None
    version_of = {s.index: s.version for s in slices}
    out: dict[str, dict[str, list[int]]] = collections.defaultdict(dict)
    for (index, endpoint), cell in sorted(rec.cells.items()):
        out[endpoint].setdefault(version_of[index], []).extend(cell.raw_us or [])
    return dict(out)


def median(values: list[float]) -> float | None:
    return statistics.median(values) if values else None
