"""The service under test: the real ``bistro.app:create_app`` plus one route the benchmark reads.

- ``/bench/cache-stats``: the cache counters (so the benchmark can prove a run was (un)cached),
  the cache-hit fast path's answers, and the access log's lines written and dropped.

The baselines it is compared with are apps of their own (baseline_apps.py), not routes here.
Serve it with ``uvicorn benchmarks.bench_app:create_bench_app --factory``.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request

from bistro.app import create_app
from bistro.core.settings import get_settings

# The extras' names (as in bistro.core.cache.web and bistro.monitoring.access_log), spelled
# here so this file also serves a build from before they existed (a before/after run).
FAST_PATH_INDEX = "fast_path_index"
ACCESS_LOG_KEY = "access_log"


def create_bench_app() -> FastAPI:
    app = create_app(get_settings())

    @app.get("/bench/cache-stats", include_in_schema=False)
    async def cache_stats(request: Request) -> dict[str, Any]:
        extras = request.app.state.bistro.extras
        cache = extras.get("cache")
        counts: dict[str, Any] = cache.stats.snapshot() if cache is not None else {}
        index = extras.get(FAST_PATH_INDEX)
        if index is not None:
            counts["fast_path_answered"] = index.answered
        access_log = extras.get(ACCESS_LOG_KEY)
        if access_log is not None:
            counts["access_log_written"] = access_log.written
            counts["access_log_dropped"] = access_log.dropped
        return counts

    return app
