"""The rollout controller's window read on PostgreSQL, against its 200 ms target.

    python benchmarks/bench_rollout_window.py [--hours 2] [--instances 3] [--routes 30]
        [--flush 5] [--reads 40] [--json] [--admin-url postgresql+asyncpg://...]

Creates its own PostgreSQL database, migrates it, and fills it through the real pipeline code
(``MetricsPipeline.flush`` of each instance, on a fake clock: the same rows, per-minute rollups
and transactions a running fleet writes) with ``--hours`` of traffic from ``--instances``
instances serving ``--routes`` routes (stable path and direct calls, v3 and v4, some 5xx and
client aborts), one flush every ``--flush`` seconds per instance, out of phase. Then it times
one evaluation's read, ``version_window(source="stable", group="restaurants")`` over the last
``--hours`` (not aligned to a minute, so both edges come from raw buckets), ``--reads`` times,
and prints the median and p95 against the target as ratios (target / measured: above 1 meets
it). For comparison it also times the same window summed from the raw buckets alone, and
checks both reads agree.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import statistics
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path[:0] = [str(Path(__file__).resolve().parents[1] / "src"), str(Path(__file__).parent)]

import asyncpg  # noqa: E402
from benchlib import create_database, drop_database  # noqa: E402
from sqlalchemy import text  # noqa: E402

from bistro.core.clock import FakeClock  # noqa: E402
from bistro.core.database import Database  # noqa: E402
from bistro.core.migrate import upgrade  # noqa: E402
from bistro.core.settings import DatabaseSettings  # noqa: E402
from bistro.monitoring.pipeline import MetricsPipeline  # noqa: E402
from bistro.monitoring.prom import PrometheusExporter  # noqa: E402
from bistro.monitoring.recorder import CLIENT_ABORT, Recorder  # noqa: E402
from bistro.monitoring.repository import MetricsRepository  # noqa: E402
from bistro.monitoring.window import WindowCounts, version_window  # noqa: E402

TARGET_SECONDS = 0.200
GROUP_SHARE = (("restaurants", 0.34), ("reviews", 0.27), ("users", 0.26), ("statistics", 0.13))
# Requests per route per flush, by (source, version): a rollout at 25 % plus direct callers.
MIX = {("stable", "v3"): 6, ("stable", "v4"): 2, ("direct", "v3"): 2, ("direct", "v4"): 2}
START = datetime(2026, 6, 1, 8, 0, 13, 400_000, tzinfo=UTC)


def routes(n: int) -> list[tuple[str, str]]:
    out = []
    for group, share in GROUP_SHARE:
        out += [(group, f"/{group}/route-{i}") for i in range(max(1, round(n * share)))]
    return out[:n]


def fill_recorder(rng: random.Random, recorder: Recorder, table: list[tuple[str, str]]) -> int:
    n = 0
    for group, route in table:
        for (source, version), count in MIX.items():
            for _ in range(rng.randint(0, 2 * count)):
                roll = rng.random()
                outcome = "5xx" if roll < 0.01 else CLIENT_ABORT if roll < 0.015 else "2xx"
                latency = rng.lognormvariate(-4.0 if version == "v4" else -3.8, 0.6)
                recorder.record((source, version, group, route, outcome), latency, 900)
                n += 1
    return n


async def fill(db: Database, args: argparse.Namespace) -> tuple[datetime, int]:
    rng = random.Random(42)
    table = routes(args.routes)
    clock = FakeClock(START)
    fleet = [
        MetricsPipeline(
            db,
            clock,
            Recorder(),
            PrometheusExporter(),
            retention=timedelta(hours=args.hours + 1),
            instance=f"bench-instance-{i}",
        )
        for i in range(args.instances)
    ]
    step = args.flush / args.instances  # instances flush out of phase
    ticks = int(args.hours * 3600 / step)
    requests = 0
    started = time.perf_counter()
    for tick in range(ticks):
        clock.advance(step)
        pipeline = fleet[tick % args.instances]
        requests += fill_recorder(rng, pipeline.recorder, table)
        if not await pipeline.flush():
            raise SystemExit("error: a flush failed")
        if tick % max(1, ticks // 20) == 0 or tick == ticks - 1:
            print(
                f"\rfilling: {100 * (tick + 1) / ticks:5.1f} % "
                f"({tick + 1} flushes, {time.perf_counter() - started:5.1f} s)",
                end="",
                file=sys.stderr,
                flush=True,
            )
    print(file=sys.stderr)
    return clock.now(), requests


async def settle(db: Database) -> None:
    """What autovacuum does to a running fleet's tables: fresh planner statistics (a table
    filled a moment ago has none, and PostgreSQL then picks poor plans) and no dead row
    versions (each flush rewrites the current minute's rollup rows)."""
    async with db.engine.connect() as conn:
        conn = await conn.execution_options(isolation_level="AUTOCOMMIT")
        for table in ("monitoring_request_buckets", "monitoring_request_minutes"):
            await conn.execute(text(f"VACUUM ANALYZE {table}"))


async def raw_only(db: Database, since: datetime, until: datetime) -> dict[str, WindowCounts]:
    out = {"v3": WindowCounts(), "v4": WindowCounts()}
    async with db.unit_of_work() as session:
        rows = await MetricsRepository(session).bucket_counts(
            [(since, until)], "stable", "restaurants"
        )
    for version in out:
        out[version].add_rows(r for r in rows if r.version == version)
    return out


async def timed(reads: int, work: Any, cpu: list[float] | None = None) -> tuple[list[float], Any]:
    """Wall time per call (and this process's CPU time per call into ``cpu``)."""
    times, result = [], None
    for _ in range(reads):
        began, began_cpu = time.perf_counter(), time.process_time()
        result = await work()
        times.append(time.perf_counter() - began)
        if cpu is not None:
            cpu.append(time.process_time() - began_cpu)
    return times, result


def p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(0.95 * len(ordered)))]


async def measure(url: str, args: argparse.Namespace, *, filled: bool) -> dict[str, Any]:
    db = Database(DatabaseSettings(url=url))
    try:
        fill_started = time.perf_counter()
        if filled:  # a database an earlier --keep run filled with the same options
            step = args.flush / args.instances
            now, requests = START + timedelta(seconds=step * int(args.hours * 3600 / step)), 0
        else:
            now, requests = await fill(db, args)
            await settle(db)
        fill_seconds = time.perf_counter() - fill_started
        until = now + timedelta(microseconds=1)
        since = until - timedelta(hours=args.hours)

        async def evaluation() -> dict[str, WindowCounts]:
            async with db.unit_of_work() as session:
                return await version_window(
                    session, since, until, source="stable", group="restaurants"
                )

        await evaluation()  # warm the pool and the statement cache, as a running controller
        cpu: list[float] = []
        load_before = os.getloadavg()[0]
        read_times, window = await timed(args.reads, evaluation, cpu)
        load = (load_before + os.getloadavg()[0]) / 2
        raw_times, raw = await timed(max(3, args.reads // 4), lambda: raw_only(db, since, until))
        async with db.unit_of_work() as session:
            repo = MetricsRepository(session)
            buckets = len(await repo.request_rows(START, until, sources=("stable", "direct")))
            minutes = len(await repo.minute_counts(START, until, "stable", None))
        for version in ("v3", "v4"):
            a, b = window[version], raw[version]
            if (a.requests, a.errors_5xx, a.client_aborts, a.histogram) != (
                b.requests,
                b.errors_5xx,
                b.client_aborts,
                b.histogram,
            ):
                raise SystemExit(f"error: the rollup read and the raw read disagree on {version}")
        median, high = statistics.median(read_times), p95(read_times)
        return {
            "data_set": {
                "hours": args.hours,
                "instances": args.instances,
                "routes": args.routes,
                "flush_seconds": args.flush,
                "requests_recorded": requests,
                "bucket_rows": buckets,
                "stable_minute_rows": minutes,
                "fill_seconds": round(fill_seconds, 1),
            },
            "window": {
                version: {
                    "requests": c.requests,
                    "errors_5xx": c.errors_5xx,
                    "client_aborts": c.client_aborts,
                    "histogram_buckets": len(c.histogram),
                }
                for version, c in window.items()
            },
            "reads": args.reads,
            "read_ms": {"median": round(median * 1000, 2), "p95": round(high * 1000, 2)},
            # The reader's own CPU (the rest of the wall time is PostgreSQL and waiting for a
            # core), and the machine's load while the reads ran: on a shared machine the wall
            # time follows the load.
            "read_cpu_ms_median": round(statistics.median(cpu) * 1000, 2),
            "load_average_1m": round(load, 1),
            "raw_only_read_ms": {"median": round(statistics.median(raw_times) * 1000, 2)},
            "target_ms": TARGET_SECONDS * 1000,
            "ratio_target_over_median": round(TARGET_SECONDS / median, 2),
            "ratio_target_over_p95": round(TARGET_SECONDS / high, 2),
        }
    finally:
        await db.dispose()


async def fast_commits(admin_url: str, url: str) -> None:
    """Commits without waiting for the disk, for this throwaway database only: the fill is
    thousands of small transactions; the reads measured are unaffected."""
    name = url.rsplit("/", 1)[1]
    conn = await asyncpg.connect(admin_url.replace("postgresql+asyncpg://", "postgresql://", 1))
    try:
        await conn.execute(f'ALTER DATABASE "{name}" SET synchronous_commit = off')
    finally:
        await conn.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--hours", type=float, default=2.0)
    parser.add_argument("--instances", type=int, default=3)
    parser.add_argument("--routes", type=int, default=30)
    parser.add_argument("--flush", type=float, default=5.0)
    parser.add_argument("--reads", type=int, default=40)
    parser.add_argument("--json", action="store_true", help="one JSON document on stdout")
    parser.add_argument(
        "--admin-url",
        default=os.environ.get(
            "BISTRO_TEST_POSTGRES_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/postgres"
        ),
        help="a PostgreSQL database to create the benchmark's own database from",
    )
    parser.add_argument(
        "--keep", action="store_true", help="keep the database (its URL goes to stderr)"
    )
    parser.add_argument(
        "--database-url", help="measure a database an earlier --keep run filled (no fill)"
    )
    args = parser.parse_args(argv)
    if args.hours <= 0 or args.instances < 1 or args.routes < 4 or args.flush <= 0:
        parser.error("--hours and --flush must be positive, --instances >= 1, --routes >= 4")
    if args.database_url:
        report = asyncio.run(measure(args.database_url, args, filled=True))
    else:
        try:
            url = create_database(args.admin_url)
        except Exception as exc:
            print(f"error: cannot create a database at {args.admin_url}: {exc}", file=sys.stderr)
            return 1
        try:
            upgrade(url)
            asyncio.run(fast_commits(args.admin_url, url))
            report = asyncio.run(measure(url, args, filled=False))
        finally:
            if args.keep:
                print(f"kept the database: --database-url {url}", file=sys.stderr)
            else:
                drop_database(args.admin_url, url)
    if args.json:
        print(json.dumps(report, indent=2))
        return 0
    d, r = report["data_set"], report["read_ms"]
    print(
        f"data set: {d['hours']} h x {d['instances']} instances x {d['routes']} routes, "
        f"flush {d['flush_seconds']} s: {d['bucket_rows']} bucket rows, "
        f"{d['requests_recorded']} requests (filled in {d['fill_seconds']} s)"
    )
    for version, counts in report["window"].items():
        print(f"  window stable/restaurants {version}: {counts}")
    print(
        f"evaluation read ({report['reads']} reads): median {r['median']} ms, p95 {r['p95']} ms; "
        f"raw buckets only: median {report['raw_only_read_ms']['median']} ms"
    )
    print(
        f"reader's own CPU per read: median {report['read_cpu_ms_median']} ms; "
        f"1-minute load average while reading: {report['load_average_1m']} "
        f"({os.cpu_count()} cores)"
    )
    print(
        f"target {report['target_ms']:.0f} ms / measured: {report['ratio_target_over_median']} "
        f"(median), {report['ratio_target_over_p95']} (p95); above 1 meets the target"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
