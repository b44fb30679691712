"""``bistro perf compare A.json B.json``: two runs side by side.

A change is marked only when it lies outside the spread of both runs: each figure's
per-slice values give a bootstrap interval of their median (percentile bootstrap), and the
change counts when B's median lies outside A's interval *and* A's lies outside B's.
The bootstrap is scipy's (``scipy.stats.bootstrap``), seeded so the output is repeatable.
"""

from __future__ import annotations

import statistics
from typing import Any

import numpy as np
from scipy.stats import bootstrap

RESAMPLES = 2000
CONFIDENCE = 0.95


def bootstrap_interval(
    values: list[float], *, seed: int = 0, resamples: int = RESAMPLES
) -> tuple[float, float] | None:
    """The percentile-bootstrap interval of the median of ``values``."""
    if len(values) < 2:
        return None
    if min(values) == max(values):
        return values[0], values[0]
    result = bootstrap(
        (np.asarray(values, dtype=float),),
        np.median,
        n_resamples=resamples,
        confidence_level=CONFIDENCE,
        method="percentile",
        rng=np.random.default_rng(seed),
    )
    interval = result.confidence_interval
    return float(interval.low), float(interval.high)


def _spread(values: list[float], seed: int) -> dict[str, Any]:
    interval = bootstrap_interval(values, seed=seed)
    return {
        "median": round(statistics.median(values), 4) if values else None,
        "interval": [round(interval[0], 4), round(interval[1], 4)] if interval else None,
        "slices": len(values),
    }


def _outside(value: float | None, interval: list[float] | None) -> bool:
    return value is not None and interval is not None and not interval[0] <= value <= interval[1]


def _figure(a_values: list[float], b_values: list[float], seed: int) -> dict[str, Any]:
    a, b = _spread(a_values, seed), _spread(b_values, seed + 1)
    ratio = b["median"] / a["median"] if a["median"] and b["median"] else None
    changed = _outside(b["median"], a["interval"]) and _outside(a["median"], b["interval"])
    return {"a": a, "b": b, "b_over_a": round(ratio, 4) if ratio else None, "changed": changed}


def slice_values(run: dict[str, Any], endpoint: str, version: str) -> list[float]:
    return [
        row["endpoints"][endpoint]["p50_ms"]
        for row in run.get("slices", [])
        if row.get("version") == version
        and endpoint in row.get("endpoints", {})
        and row["endpoints"][endpoint].get("count")
    ]


def compare_runs(a: dict[str, Any], b: dict[str, Any], *, seed: int = 0) -> dict[str, Any]:
    rows: list[dict[str, Any]] = []
    endpoints = [e for e in a.get("endpoints", {}) if e in b.get("endpoints", {})]
    for endpoint in endpoints:
        ea, eb = a["endpoints"][endpoint], b["endpoints"][endpoint]
        versions = [v for v in ea.get("versions", {}) if v in eb.get("versions", {})]
        for version in versions:
            va, vb = ea["versions"][version], eb["versions"][version]
            row = {
                "endpoint": endpoint,
                "figure": f"{version} p50 ms",
                **_figure(
                    slice_values(a, endpoint, version), slice_values(b, endpoint, version), seed
                ),
                "p99_ms": {"a": va.get("p99_ms"), "b": vb.get("p99_ms")},
                "rps": {"a": va.get("rps"), "b": vb.get("rps")},
            }
            rows.append(row)
        if ea.get("slice_ratios_p50") and eb.get("slice_ratios_p50"):
            rows.append(
                {
                    "endpoint": endpoint,
                    "figure": "v4/v3 p50",
                    **_figure(ea["slice_ratios_p50"], eb["slice_ratios_p50"], seed),
                }
            )
    return {
        "a": {
            "started_at": a.get("started_at"),
            "base_url": a.get("base_url"),
            "mode": a.get("mode"),
        },
        "b": {
            "started_at": b.get("started_at"),
            "base_url": b.get("base_url"),
            "mode": b.get("mode"),
        },
        "confidence": CONFIDENCE,
        "rows": rows,
        "changed": [f"{r['endpoint']} {r['figure']}" for r in rows if r["changed"]],
    }
