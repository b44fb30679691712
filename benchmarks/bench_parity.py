"""What parity's shadow mode costs, measured in one run, in process (no HTTP, no wrk).

    python benchmarks/bench_parity.py [--requests 2000] [--rounds 7] [--json]

A small seeded SQLite database and two copies of the real app (``create_app``): one as built
(the shadow layer in the stack) and one with the shadow layer taken out. Requests are ASGI
calls straight into each app (the HTTP server's share is the same for both and left out).

1. Overhead at 0 %: the shadow layer's own work per stable-path GET (the layer around a bare
   ASGI app, against that app called directly; best of 5 loops of many calls, so the machine's
   noise does not drown a sub-microsecond figure), set against the CPU time of the cheapest
   whole stable-path request (a cached v4 detail through the app without the layer): the
   throughput kept is request / (request + layer) (target >= 0.97). The same pair of apps is
   also run in alternating rounds and the median ratio printed: on a busy machine its spread
   is wider than the effect, so it is shown, not judged.
2. CPU per shadowed request: the same requests with ``api_v4_shadow`` at 100 %, waiting for
   the shadow runs to finish, less the 0 % figure: v4 behind v3 (v4's cache answers most) and
   v3 behind v4 (v3 has no cache: its SQL runs every time).
3. Database load of a 5 % sample: SQL statements per 1,000 client requests (a mix of details
   and list pages, one client id each) at 0 % and at 5 %, both ways round.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

sys.path[:0] = [str(Path(__file__).resolve().parents[1] / "src")]

from fastapi import FastAPI  # noqa: E402
from sqlalchemy import event  # noqa: E402

from bistro.app import create_app  # noqa: E402
from bistro.core.migrate import upgrade  # noqa: E402
from bistro.core.settings import (  # noqa: E402
    DatabaseSettings,
    MonitoringSettings,
    ServerSettings,
    Settings,
)
from bistro.migration.flags import Flag, Stage  # noqa: E402
from bistro.migration.runtime import FlagRuntime  # noqa: E402
from bistro.parity.layer import shadow_layer  # noqa: E402
from bistro.parity.runtime import ParityRuntime  # noqa: E402
from bistro.seed import SeedPlan, seed_database  # noqa: E402

TARGET = 0.97


async def call(app: FastAPI, path: str, client_id: str) -> int:
    """One GET through the whole ASGI app; returns the status."""
    query = b""
    if "?" in path:
        path, raw = path.split("?", 1)
        query = raw.encode()
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": query,
        "root_path": "",
        "headers": [(b"host", b"bench"), (b"x-client-id", client_id.encode())],
        "client": ("127.0.0.1", 5000),
        "server": ("bench", 80),
    }
    status = 0
    done = False

    async def receive() -> dict[str, Any]:
        nonlocal done
        if not done:
            done = True
            return {"type": "http.request", "body": b"", "more_body": False}
        await asyncio.sleep(3600)
        return {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        nonlocal status
        if message["type"] == "http.response.start":
            status = message["status"]

    await app(scope, receive, send)
    return status


async def set_flag(apps: list[FastAPI], flag: Flag, stage: Stage, pct: float | None) -> None:
    runtimes: list[FlagRuntime] = [a.state.bistro.extras["flags"] for a in apps]
    async with runtimes[0].changing() as flags:
        await flags.set_flags([flag], stage=stage, percentage=pct, actor="bench")
    for runtime in runtimes[1:]:
        await runtime.refresh()


async def idle(app: FastAPI) -> None:
    parity: ParityRuntime = app.state.bistro.extras["parity"]
    if parity.runner is not None:
        await parity.runner.idle()


async def cpu_per_request(
    app: FastAPI, paths: list[str], *, wait: bool = False, clients: list[str] | None = None
) -> float:
    started = time.process_time()
    for n, path in enumerate(paths):
        status = await call(app, path, clients[n] if clients else "bench-client")
        if status != 200:
            raise RuntimeError(f"{path} answered {status}")
        # A server's loop turns between requests (network I/O): let the shadow workers run.
        await asyncio.sleep(0)
    if wait:
        await idle(app)
    return (time.process_time() - started) / len(paths)


async def alternate(
    pair: tuple[Callable[[], Awaitable[float]], Callable[[], Awaitable[float]]], rounds: int
) -> tuple[float, list[float]]:
    """Median of per-round ratios first/second (CPU per request; >1: second is cheaper)."""
    ratios = []
    for n in range(rounds):
        order = pair if n % 2 == 0 else pair[::-1]
        first = await order[0]()
        second = await order[1]()
        a, b = (first, second) if n % 2 == 0 else (second, first)
        ratios.append(a / b)
    return statistics.median(ratios), ratios


async def layer_cost_ns(app: FastAPI, calls: int = 50_000) -> float:
    """Nanoseconds the shadow layer adds to a stable-path GET with shadowing off."""
    from bistro.core.context import CONTEXT_KEY, RequestContext

    async def bare(scope: Any, receive: Any, send: Any) -> None:
        return None

    parity = app.state.bistro.extras["parity"]
    layer = shadow_layer(
        bare, ParityRuntime(parity.settings, parity.clock), app.state.bistro.extras["flags"]
    )
    context = RequestContext()
    context.stable_path, context.version, context.group = "/api/restaurants/1", "v3", "restaurants"
    scope = {
        "type": "http",
        "method": "GET",
        "path": "/api/v3/restaurants/1",
        "headers": [(b"x-client-id", b"bench-client")],
        CONTEXT_KEY: context,
    }

    async def loop(target: Any) -> float:
        best = float("inf")
        for _ in range(5):
            started = time.perf_counter_ns()
            for _ in range(calls):
                await target(scope, None, None)
            best = min(best, (time.perf_counter_ns() - started) / calls)
        return best

    return max(0.0, await loop(layer) - await loop(bare))


def count_statements(app: FastAPI) -> Callable[[], int]:
    engine = app.state.bistro.db.engine.sync_engine
    seen = [0]

    @event.listens_for(engine, "before_cursor_execute")
    def _count(*_: Any) -> None:
        seen[0] += 1

    return lambda: seen[0]


async def main(url: str, requests: int, rounds: int) -> dict[str, Any]:
    settings = Settings(
        server=ServerSettings(log_format="console", log_level="warning"),
        database=DatabaseSettings(url=url),
        monitoring=MonitoringSettings(enabled=False, access_log=False),
    )
    with_layer = create_app(settings)
    without = create_app(settings)
    without.user_middleware = [m for m in without.user_middleware if m.cls is not shadow_layer]
    out: dict[str, Any] = {"requests_per_round": requests, "rounds": rounds}
    async with with_layer.router.lifespan_context(with_layer):
        await seed_database(with_layer.state.bistro.db.engine, SeedPlan(200, 2000, 100, seed=1))
        async with without.router.lifespan_context(without):
            apps = [with_layer, without]
            rng = random.Random(1)
            details = [f"/api/restaurants/{rng.randint(1, 200)}" for _ in range(requests)]
            for app in apps:  # warm: routes, caches, the middleware stack
                await cpu_per_request(app, details[:200])

            # 1. Overhead with shadowing off (the default).
            layer_ns = await layer_cost_ns(with_layer)
            await set_flag(apps, Flag.RESTAURANTS, Stage.FULL, None)
            await cpu_per_request(without, details)
            request_s = statistics.median(
                [await cpu_per_request(without, details) for _ in range(rounds)]
            )
            kept = request_s / (request_s + layer_ns / 1e9)
            out["overhead_0pct"] = {
                "layer_ns_per_request": round(layer_ns, 1),
                "cheapest_request_us": round(request_s * 1e6, 1),
                "throughput_kept": round(kept, 5),
                "target": TARGET,
                "met": kept >= TARGET,
            }
            for served, stage in (("v3", Stage.DISABLED), ("v4", Stage.FULL)):
                await set_flag(apps, Flag.RESTAURANTS, stage, None)
                for app in apps:
                    await cpu_per_request(app, details[:300])
                ratio, ratios = await alternate(
                    (
                        lambda: cpu_per_request(with_layer, details),
                        lambda: cpu_per_request(without, details),
                    ),
                    rounds,
                )
                # Shown, not judged: the rounds' spread is wider than the effect.
                out[f"ab_rounds_0pct_{served}_detail"] = {
                    "throughput_ratio_with_over_without": round(1 / ratio, 4),
                    "rounds": [round(1 / r, 4) for r in ratios],
                }

            # 2. CPU per shadowed request, both ways round.
            for served, stage in (("v3", Stage.DISABLED), ("v4", Stage.FULL)):
                await set_flag(apps, Flag.RESTAURANTS, stage, None)
                await set_flag(apps, Flag.SHADOW, Stage.DISABLED, None)
                off = statistics.median(
                    [await cpu_per_request(with_layer, details) for _ in range(3)]
                )
                await set_flag(apps, Flag.SHADOW, Stage.FULL, None)
                parity: ParityRuntime = with_layer.state.bistro.extras["parity"]
                before = sum(c["compared"] + c["errors"] for c in parity.stats.total.values())
                on = statistics.median(
                    [await cpu_per_request(with_layer, details, wait=True) for _ in range(3)]
                )
                ran = sum(c["compared"] + c["errors"] for c in parity.stats.total.values())
                shadowed = (ran - before) / (3 * len(details))  # runs per client request
                out[f"cpu_per_shadowed_request_{served}_served_ms"] = round(
                    (on - off) / shadowed * 1000, 3
                )
                out[f"shadowed_share_{served}_served"] = round(shadowed, 4)
                out[f"cpu_per_request_{served}_served_unshadowed_ms"] = round(off * 1000, 3)

            # 3. Database load of a 5 % sample (client ids spread over the buckets).
            mix = [
                rng.choice(
                    (
                        f"/api/restaurants/{rng.randint(1, 200)}",
                        f"/api/restaurants?sort=rating&limit=20&offset={rng.randint(0, 9) * 20}",
                        f"/api/reviews?restaurant_id={rng.randint(1, 200)}",
                    )
                )
                for _ in range(requests)
            ]
            clients = [f"client-{n}" for n in range(requests)]
            statements = count_statements(with_layer)
            for served, stage in (("v3", Stage.DISABLED), ("v4", Stage.FULL)):
                await set_flag(apps, Flag.RESTAURANTS, stage, None)
                await set_flag(apps, Flag.REVIEWS, stage, None)
                per_k = {}
                for pct in (0.0, 5.0):
                    await set_flag(apps, Flag.SHADOW, Stage.PARTIAL, pct)
                    await cpu_per_request(with_layer, mix, clients=clients, wait=True)  # warm
                    before = statements()
                    await cpu_per_request(with_layer, mix, clients=clients, wait=True)
                    per_k[pct] = (statements() - before) * 1000 / len(mix)
                out[f"db_statements_per_1000_requests_{served}_served"] = {
                    "shadow_0pct": round(per_k[0.0], 1),
                    "shadow_5pct": round(per_k[5.0], 1),
                    "added_by_5pct": round(per_k[5.0] - per_k[0.0], 1),
                    "increase": round(per_k[5.0] / per_k[0.0] - 1, 4) if per_k[0.0] else None,
                }
                await parity.flush()
    return out


def run() -> None:
    # Room for every shadow run of a round (the default queue drops beyond 100 waiting).
    os.environ.setdefault("BISTRO_PARITY_SHADOW_QUEUE", "10000")
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    folder = tempfile.mkdtemp(prefix="bench-parity-")
    url = f"sqlite+aiosqlite:///{folder}/bench.db"
    upgrade(url)  # Alembic runs its own event loop: before ours
    result = asyncio.run(main(url, args.requests, args.rounds))
    if args.json:
        print(json.dumps(result, indent=2))
        return
    for key, value in result.items():
        print(f"{key}: {value}")


if __name__ == "__main__":
    run()
