"""Microbenchmark of request metrics: what recording one request costs, in one run.

    python benchmarks/bench_metrics.py [--requests 200000]

Prints microseconds per request for (1) ``Recorder.record`` alone, (2) a raw ASGI app with
and without ``MetricsMiddleware`` around it (the difference is the middleware's whole cost:
send wrapper, timer, route lookup, record, filtered access-log call), and (3) the amortised
cost of draining a batch into the pre-bound Prometheus children at flush time. Times are this
thread's CPU time (time.thread_time), so other processes on a busy machine distort them less
than wall-clock time would. The service-level
ratio (metrics on / off under wrk) is the ``metrics_overhead`` scenario of bench_service.py.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
from pathlib import Path
from typing import Any

sys.path[:0] = [str(Path(__file__).resolve().parents[1] / "src")]

from fastapi import FastAPI  # noqa: E402
from starlette.responses import Response  # noqa: E402

from bistro.core.logging import configure_logging  # noqa: E402
from bistro.monitoring.middleware import MetricsMiddleware  # noqa: E402
from bistro.monitoring.prom import PrometheusExporter  # noqa: E402
from bistro.monitoring.recorder import Recorder  # noqa: E402


class _Route:
    path = "/restaurants/{restaurant_id}"


class _Context:
    path = "/api/v4/restaurants/{restaurant_id}"


async def raw_app(scope: Any, receive: Any, send: Any) -> None:
    scope["route"] = _Route
    scope["effective_route_context"] = _Context
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b'{"ok":true}'})


async def per_request(app: Any, n: int) -> float:
    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b""}

    async def send(_message: Any) -> None:
        return None

    scope = {
        "type": "http",
        "method": "GET",
        "path": "/api/v4/restaurants/7",
        "headers": [],
        "query_string": b"",
        "root_path": "",
        "scheme": "http",
        "server": ("t", 80),
    }
    started = time.thread_time()
    for _ in range(n):
        await app(dict(scope), receive, send)
    return (time.thread_time() - started) / n * 1e6


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=200_000)
    args = parser.parse_args(argv)
    n = args.requests
    configure_logging("json", "warning")  # as in production at the default bench log level

    recorder = Recorder()
    key = ("v4", "restaurants", "/restaurants/{restaurant_id}", "2xx")
    started = time.thread_time()
    for i in range(n):
        recorder.record(key, 0.001 + (i % 997) * 1e-5, 512)
    record_us = (time.thread_time() - started) / n * 1e6

    wrapped = MetricsMiddleware(raw_app, Recorder(), access_log=True)
    loop = asyncio.new_event_loop()
    try:
        rounds = []
        for _ in range(5):  # alternate, so drift hits both sides alike
            off = loop.run_until_complete(per_request(raw_app, n // 5))
            on = loop.run_until_complete(per_request(wrapped, n // 5))
            rounds.append((off, on))
    finally:
        loop.close()
    off_us = min(r[0] for r in rounds)
    on_us = min(r[1] for r in rounds)

    hello = FastAPI()

    @hello.get("/api/v4/restaurants/{restaurant_id}")
    async def detail(restaurant_id: int) -> Response:
        return Response(b'{"ok":true}', media_type="application/json")

    hello_wrapped = MetricsMiddleware(hello, Recorder(), access_log=True)
    loop = asyncio.new_event_loop()
    try:
        loop.run_until_complete(per_request(hello, 2000))  # warm FastAPI's route caches
        hello_rounds = []
        hello_us: list[tuple[float, float]] = []
        for _ in range(9):
            off = loop.run_until_complete(per_request(hello, n // 20))
            on = loop.run_until_complete(per_request(hello_wrapped, n // 20))
            hello_rounds.append(off / on)
            hello_us.append((off, on))
    finally:
        loop.close()
    hello_ratio = statistics.median(hello_rounds)

    exporter = PrometheusExporter()
    batch = wrapped.recorder.drain()
    requests = sum(s.requests for s in batch.values())
    started = time.thread_time()
    exporter.apply(batch)
    apply_us = (time.thread_time() - started) / max(1, requests) * 1e6

    print(f"Recorder.record                     {record_us:8.2f} us/request")
    print(f"raw ASGI app, no metrics            {off_us:8.2f} us/request")
    print(f"raw ASGI app + MetricsMiddleware    {on_us:8.2f} us/request")
    print(f"  middleware cost                   {on_us - off_us:8.2f} us/request")
    print(f"Prometheus apply at flush           {apply_us:8.4f} us/request (amortised)")
    print(
        f"FastAPI route in-process, no metrics {min(u[0] for u in hello_us):8.2f} us/request, "
        f"with metrics {min(u[1] for u in hello_us):8.2f} us/request"
    )
    print(
        f"FastAPI route in-process, throughput with / without metrics: {hello_ratio:.3f} "
        f"(median of rounds {[round(r, 3) for r in hello_rounds]})"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
