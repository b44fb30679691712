"""Microbenchmark of flag evaluation and of the stable-path router's own work, in one run.

    python benchmarks/bench_flags.py [--calls 200000]

Prints nanoseconds per ``evaluate(flag, subject)`` call from an in-memory snapshot for each
kind of decision (fixed stage, override hit, partial rollout with its MurmurHash3 bucket and
reason), the raw ``mmh3.hash`` beside it for scale, and the stable-path router's cost per
request around a raw ASGI app (router in front vs the same app called directly). Target:
evaluation under 2 microseconds per call. The service-level ratio (stable path vs /api/v4
under wrk) is the ``stable_path`` scenario of bench_service.py.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from pathlib import Path
from typing import Any

sys.path[:0] = [str(Path(__file__).resolve().parents[1] / "src")]

import mmh3  # noqa: E402

from bistro.core.middleware import RequestIdMiddleware  # noqa: E402
from bistro.core.settings import FlagSettings  # noqa: E402
from bistro.migration.env import EnvPins  # noqa: E402
from bistro.migration.evaluation import FlagState, Snapshot, evaluate  # noqa: E402
from bistro.migration.flags import Flag, Stage, Version  # noqa: E402
from bistro.migration.router import StableRouter  # noqa: E402
from bistro.migration.runtime import FlagRuntime  # noqa: E402

TARGET_NS = 2000


def per_call_ns(fn: Any, calls: int, repeats: int = 5) -> float:
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter_ns()
        fn(calls)
        best = min(best, (time.perf_counter_ns() - start) / calls)
    return best


def snapshot() -> Snapshot:
    overrides = {f"tester-{i}": Version.V4 for i in range(100)}
    states = {
        Flag.RESTAURANTS: FlagState(Flag.RESTAURANTS, Stage.PARTIAL, 30.0, overrides=overrides),
        Flag.REVIEWS: FlagState(Flag.REVIEWS, Stage.FULL, 100.0),
    }
    return Snapshot(states, EnvPins(), version=1)


def evaluation_rows(calls: int) -> list[tuple[str, float]]:
    snap = snapshot()
    subjects = [f"client-{i}" for i in range(1000)]

    def partial(n: int) -> None:
        for i in range(n):
            evaluate(snap, Flag.RESTAURANTS, subjects[i % 1000])

    def fixed(n: int) -> None:
        for i in range(n):
            evaluate(snap, Flag.REVIEWS, subjects[i % 1000])

    def override(n: int) -> None:
        for _ in range(n):
            evaluate(snap, Flag.RESTAURANTS, "tester-7")

    def loop_only(n: int) -> None:
        for i in range(n):
            subjects[i % 1000]  # the loop's own cost, for scale

    def raw_hash(n: int) -> None:
        for i in range(n):
            mmh3.hash("api_v4_restaurants:" + subjects[i % 1000], 0, signed=False)

    return [
        ("evaluate: partial (bucket + reason)", per_call_ns(partial, calls)),
        ("evaluate: override hit", per_call_ns(override, calls)),
        ("evaluate: fixed stage", per_call_ns(fixed, calls)),
        ("mmh3.hash alone (for scale)", per_call_ns(raw_hash, calls)),
        ("empty loop (for scale)", per_call_ns(loop_only, calls)),
    ]


async def router_rows(requests: int) -> list[tuple[str, float]]:
    async def raw_app(scope: Any, receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"{}"})

    runtime = FlagRuntime(FlagSettings(), environ={})
    runtime.holder.snapshot = snapshot()
    router = StableRouter(raw_app, runtime)

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b""}

    async def send(message: dict[str, Any]) -> None:
        return None

    def scope(path: str) -> dict[str, Any]:
        return {
            "type": "http",
            "method": "GET",
            "path": path,
            "raw_path": path.encode(),
            "query_string": b"",
            "headers": [(b"x-client-id", b"client-42"), (b"accept", b"*/*")],
        }

    async def run(app: Any, path: str) -> float:
        best = float("inf")
        for _ in range(5):
            start = time.perf_counter_ns()
            for _ in range(requests):
                await app(scope(path), receive, send)
            best = min(best, (time.perf_counter_ns() - start) / requests)
        return best

    # As in the app: the request-id middleware outside the router (it adds the router's
    # response headers), compared with the same middleware around the app without a router.
    direct = await run(RequestIdMiddleware(raw_app), "/api/v4/restaurants/1")
    stable = await run(RequestIdMiddleware(router), "/api/restaurants/1")
    v4 = await run(RequestIdMiddleware(router), "/api/v4/restaurants/1")
    return [
        ("request-id middleware + raw ASGI app, no router", direct),
        ("router: stable path (partial, routed)", stable),
        ("router: /api/v4 pass-through", v4),
        ("router cost per stable-path request", stable - direct),
        ("stable path minus /api/v4 through the router", stable - v4),
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--calls", type=int, default=200_000)
    parser.add_argument("--requests", type=int, default=50_000)
    args = parser.parse_args(argv)
    rows = evaluation_rows(args.calls)
    print(f"\nFlag evaluation, best of 5 x {args.calls} calls (Python {sys.version.split()[0]})")
    for label, ns in rows:
        print(f"  {label:<40}{ns:>10.0f} ns/call")
    worst = max(ns for label, ns in rows if label.startswith("evaluate"))
    verdict = "pass" if worst < TARGET_NS else "ABOVE TARGET"
    print(f"  slowest evaluate: {worst:.0f} ns, target < {TARGET_NS} ns: {verdict}")
    router = asyncio.run(router_rows(args.requests))
    print(f"\nStable-path router around a raw ASGI app, best of 5 x {args.requests} requests")
    for label, ns in router:
        print(f"  {label:<50}{ns / 1000:>8.2f} us/request")
    return 0 if worst < TARGET_NS else 1


if __name__ == "__main__":
    sys.exit(main())
