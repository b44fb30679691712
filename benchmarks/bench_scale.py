"""Read cost against data size: does a page of 20 restaurants cost the same at 1M as at 10k?

Seeds 10k, 100k and 1M restaurants (10 reviews each, ``bistro seed``'s generator, seed 42)
into separate PostgreSQL databases, starts one uncached v4 server per size, then times every
list/search/statistics query shape the API allows, interleaved across the sizes (call i of
every shape on every size before call i+1), 5 warm-up and 50 timed calls per shape and size:
p50/p95 per size and the growth ratios from the smallest size. For each shape on the larger
sizes it prints the top nodes of the plan of the statements the service runs
(``EXPLAIN (ANALYZE, BUFFERS)``), the rows read per row returned, and a flag on any sequential
scan of ``restaurants`` or ``reviews`` or any scan reading most of either table. Last, review
create p95 with 8 concurrent writers, with the statistics triggers on and off in alternate
rounds (``--index-cost``: also with each of the scale indexes dropped and present).

    python benchmarks/bench_scale.py [--sizes 10000,100000,1000000] [--json]
        [--database 1000000=postgresql+asyncpg://...] [--keep]

``--database SIZE=URL`` reuses an already seeded database (it is not dropped); ``--keep``
leaves the databases this run creates. Plans need the application's statement builders
(``page_statement``); without them (an older checkout) the plan section is skipped.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import orjson

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.benchlib import (
    Server,
    create_database,
    drop_database,
    migrate_and_seed,
)

ADMIN_URL = "postgresql+asyncpg://postgres@127.0.0.1:5432/postgres"
REVIEWS_PER_RESTAURANT = 10
SCAN_TABLES = ("restaurants", "reviews")
SEED_PASSWORD = "bistro-demo-password"


@dataclass(frozen=True)
class Shape:
    name: str
    path: str
    # RestaurantQuery fields for the plan (None: no restaurant-list plan), and the offset.
    query: dict[str, Any] | None = None
    offset: int = 0
    keyset_depth: int = 0  # follow a cursor taken at this offset


SHAPES = (
    Shape("cuisine=thai&sort=rating", "/api/v4/restaurants?cuisine=thai&sort=rating",
          {"cuisines": ("thai",), "sort": "rating"}),
    Shape("sort=review_count", "/api/v4/restaurants?sort=review_count", {"sort": "review_count"}),
    Shape("cuisine=japanese,korean&price_max=3",
          "/api/v4/restaurants?cuisine=japanese,korean&price_max=3",
          {"cuisines": ("japanese", "korean"), "price_max": 3}),
    Shape("open_now=true&min_rating=4", "/api/v4/restaurants?open_now=true&min_rating=4",
          {"open_now": True, "min_rating": 4.0}),
    Shape("near=London&radius_km=3&sort=distance",
          "/api/v4/restaurants?near=51.5074,-0.1278&radius_km=3&sort=distance",
          {"near": (51.5074, -0.1278, 3.0), "sort": "distance"}),
    Shape("(default: sort=rating)", "/api/v4/restaurants", {}),
    Shape("sort=name", "/api/v4/restaurants?sort=name", {"sort": "name"}),
    Shape("sort=newest", "/api/v4/restaurants?sort=newest", {"sort": "newest"}),
    Shape("city=paris&price_min=2", "/api/v4/restaurants?city=paris&price_min=2",
          {"city": "paris", "price_min": 2}),
    Shape("search q=sushi", "/api/v4/restaurants/search?q=sushi", {"q": "sushi"}),
    Shape("sort=rating, cursor at row 5,000", "/api/v4/restaurants?sort=rating",
          {"sort": "rating"}, keyset_depth=5_000),
    Shape("sort=rating&offset=5000 (for contrast)", "/api/v4/restaurants?offset=5000",
          {"sort": "rating"}, offset=5_000),
    Shape("statistics", "/api/v4/statistics"),
    Shape("reviews sort=newest", "/api/v4/reviews?sort=newest"),
    Shape("v3 statistics (reference)", "/api/v3/statistics"),
)  # fmt: skip


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


# -- plans -------------------------------------------------------------------------------


def _walk(node: dict[str, Any]) -> Iterator[dict[str, Any]]:
    yield node
    for child in node.get("Plans", ()):
        yield from _walk(child)


@dataclass
class PlanCheck:
    top: str
    returned: int
    read: dict[str, int]
    seq_scans: list[str]
    ms: float

    def flags(self, table_rows: dict[str, int]) -> list[str]:
        found = [f"SEQ SCAN {t}" for t in self.seq_scans]
        for table, rows in self.read.items():
            if table_rows.get(table) and rows > table_rows[table] / 2:
                found.append(f"reads {rows} of {table_rows[table]} {table}")
        return found


def check_plan(document: Any) -> PlanCheck:
    root = document[0]["Plan"]
    read: dict[str, int] = {}
    seq: list[str] = []
    for node in _walk(root):
        table = node.get("Relation Name")
        if table not in SCAN_TABLES:
            continue
        loops = int(node.get("Actual Loops", 1))
        rows = (
            node.get("Actual Rows", 0)
            + node.get("Rows Removed by Filter", 0)
            + node.get("Rows Removed by Index Recheck", 0)
        )
        read[table] = read.get(table, 0) + int(rows * loops)
        if node["Node Type"].endswith("Seq Scan"):
            seq.append(table)

    def line(node: dict[str, Any], depth: int) -> Iterator[str]:
        if depth > 2:
            return
        name = node["Node Type"]
        if "Index Name" in node:
            name += f" using {node['Index Name']}"
        elif "Relation Name" in node:
            name += f" on {node['Relation Name']}"
        yield "  " * depth + f"{name} (rows={node.get('Actual Rows')} x{node.get('Actual Loops')})"
        for child in node.get("Plans", ()):
            yield from line(child, depth + 1)

    lines = list(line(root, 0))
    return PlanCheck(
        top=" | ".join(lines[:4]) + (f" | ... ({len(lines) - 4} more)" if len(lines) > 4 else ""),
        returned=int(root.get("Actual Rows", 0)),
        read=read,
        seq_scans=seq,
        ms=float(document[0].get("Execution Time", 0.0)),
    )


def plans_for(url: str, shapes: list[Shape], cursors: dict[str, Any]) -> dict[str, Any]:
    """EXPLAIN ANALYZE of each restaurant-list shape's page and total statements, and of the
    statistics reads; {} when the checkout has no statement builders."""
    try:
        from bistro.core.totals import EXACT_TOTAL_LIMIT, capped_total, explain
        from bistro.restaurants.geo import Near
        from bistro.restaurants.hours import week_minute
        from bistro.restaurants.repository import (
            RestaurantRepository,
            conditions,
            matching_statement,
            page_statement,
        )
        from bistro.restaurants.schemas import RestaurantQuery
        from bistro.statistics.repository import StatisticsRepository, top_statement
    except ImportError:
        return {}
    from datetime import UTC, datetime

    from sqlalchemy import func, select
    from sqlalchemy.ext.asyncio import create_async_engine

    async def run() -> dict[str, Any]:
        engine = create_async_engine(url)
        out: dict[str, Any] = {}
        try:
            async with engine.connect() as conn:
                table_rows = {}
                for table in SCAN_TABLES:
                    reltuples = await conn.exec_driver_sql(
                        f"SELECT reltuples::bigint FROM pg_class WHERE relname = '{table}'"
                    )
                    table_rows[table] = int(reltuples.scalar_one())
                out["_table_rows"] = table_rows
                minute = week_minute(datetime.now(UTC))
                for shape in shapes:
                    if shape.query is None:
                        continue
                    fields = dict(shape.query)
                    if "near" in fields:
                        fields["near"] = Near(*fields["near"])
                    query = RestaurantQuery(**fields)
                    open_minute = minute if query.open_now else None
                    key = cursors.get(shape.name)
                    if query.sort == "distance":  # the circle the service would narrow to
                        found = await capped_total(conn, matching_statement(query, open_minute))
                        query = await RestaurantRepository(conn).nearest_circle(
                            query, open_minute, shape.offset + 20, found
                        )
                    page = page_statement(query, open_minute, 20, shape.offset, key)
                    checks = {"page": check_plan(await explain(conn, page, analyze=True))}
                    if not conditions(query, open_minute):
                        out[shape.name] = checks  # the total is the trigger-kept counter
                        continue
                    capped = select(func.count()).select_from(
                        matching_statement(query, open_minute)
                        .limit(EXACT_TOTAL_LIMIT + 1)
                        .subquery()
                    )
                    checks["total"] = check_plan(await explain(conn, capped, analyze=True))
                    out[shape.name] = checks
                repo = StatisticsRepository(conn)
                cuisines = await repo.cuisines()
                out["statistics"] = {
                    "top": check_plan(await explain(conn, top_statement(cuisines, 3), analyze=True))
                }
        finally:
            await engine.dispose()
        return out

    return asyncio.run(run())


# -- reads -------------------------------------------------------------------------------


@dataclass
class Timings:
    samples: dict[tuple[str, int], list[float]] = field(default_factory=dict)

    def add(self, shape: str, size: int, ms: float) -> None:
        self.samples.setdefault((shape, size), []).append(ms)


def keyset_path(server: Server, shape: Shape) -> tuple[str, Any] | None:
    """The shape's path with a cursor taken at ``keyset_depth`` (None: no cursor support)."""
    sep = "&" if "?" in shape.path else "?"
    response = server.get(f"{shape.path}{sep}offset={shape.keyset_depth - 20}")
    cursor = response.json()["meta"].get("next_cursor")
    if not cursor:
        return None
    from bistro.restaurants import cursor as cursors
    from bistro.restaurants.schemas import RestaurantQuery

    key = cursors.decode(RestaurantQuery(**(shape.query or {})), cursor)
    return f"{shape.path}{sep}cursor={cursor}", key


def measure_reads(
    servers: dict[int, Server], shapes: list[Shape], warmup: int, calls: int
) -> tuple[Timings, dict[int, dict[str, Any]]]:
    paths: dict[tuple[str, int], str] = {}
    keys: dict[int, dict[str, Any]] = {size: {} for size in servers}
    for size, server in servers.items():
        for shape in shapes:
            if shape.keyset_depth:
                found = keyset_path(server, shape)
                if found is None:
                    continue
                paths[(shape.name, size)], keys[size][shape.name] = found
            else:
                paths[(shape.name, size)] = shape.path
    timings = Timings()
    clients = {size: httpx.Client(base_url=s.base, timeout=60) for size, s in servers.items()}
    try:
        for call in range(warmup + calls):
            for shape in shapes:
                for size, client in clients.items():
                    path = paths.get((shape.name, size))
                    if path is None:
                        continue
                    started = time.perf_counter()
                    response = client.get(path)
                    elapsed = (time.perf_counter() - started) * 1000
                    if response.status_code != 200:
                        raise SystemExit(f"{path} on {size}: {response.status_code}")
                    if call >= warmup:
                        timings.add(shape.name, size, elapsed)
    finally:
        for client in clients.values():
            client.close()
    return timings, keys


# -- writes ------------------------------------------------------------------------------


def _tokens(server: Server, url: str, writers: int) -> list[str]:
    async def emails() -> list[str]:
        import asyncpg

        conn = await asyncpg.connect(url.replace("postgresql+asyncpg://", "postgresql://"))
        try:
            rows = await conn.fetch(
                "SELECT email FROM users WHERE email LIKE '%@seed.bistro.example' "
                "ORDER BY id LIMIT $1",
                writers,
            )
        finally:
            await conn.close()
        return [r["email"] for r in rows]

    tokens = []
    for email in asyncio.run(emails()):
        response = httpx.post(
            f"{server.base}/api/v4/auth/login",
            json={"email": email, "password": SEED_PASSWORD},
            timeout=30,
        )
        tokens.append(response.json()["data"]["token"])
    return tokens


def write_round(server: Server, tokens: list[str], restaurants: int, per_writer: int,
                start: int) -> list[float]:  # fmt: skip
    """``per_writer`` review creates from each of len(tokens) concurrent writers."""
    latencies: list[float] = []
    lock = threading.Lock()

    def writer(index: int, token: str) -> None:
        headers = {"Authorization": f"Bearer {token}"}
        with httpx.Client(base_url=server.base, timeout=60, headers=headers) as client:
            for n in range(per_writer):
                # A restaurant no other call of this run reviews as this user.
                rid = 1 + (start + index * 7919 + n * 104_729) % restaurants
                started = time.perf_counter()
                response = client.post(
                    "/api/v4/reviews", json={"restaurant_id": rid, "rating": 1 + n % 5,
                                             "text": "Benchmark review."},
                )  # fmt: skip
                elapsed = (time.perf_counter() - started) * 1000
                if response.status_code == 201:
                    with lock:
                        latencies.append(elapsed)
                elif response.status_code != 409:
                    raise SystemExit(f"review create: {response.status_code} {response.text}")

    threads = [threading.Thread(target=writer, args=(i, t)) for i, t in enumerate(tokens)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return latencies


def _sql(url: str, *statements: str) -> None:
    async def run() -> None:
        import asyncpg

        conn = await asyncpg.connect(url.replace("postgresql+asyncpg://", "postgresql://"))
        try:
            for statement in statements:
                await conn.execute(statement)
        finally:
            await conn.close()

    asyncio.run(run())


def _index_definitions(url: str, names: tuple[str, ...]) -> dict[str, str]:
    async def run() -> dict[str, str]:
        import asyncpg

        conn = await asyncpg.connect(url.replace("postgresql+asyncpg://", "postgresql://"))
        try:
            rows = await conn.fetch(
                "SELECT indexname, indexdef FROM pg_indexes WHERE indexname = ANY($1)",
                list(names),
            )
        finally:
            await conn.close()
        return {r["indexname"]: r["indexdef"] for r in rows}

    return asyncio.run(run())


SCALE_INDEXES = (
    "ix_restaurants_rating_order",
    "ix_restaurants_cuisine_rating_order",
    "ix_restaurants_review_count_order",
    "ix_restaurants_name_order",
    "ix_restaurants_newest_order",
)


def measure_writes(
    server: Server, url: str, restaurants: int, writers: int, rounds: int, per_writer: int,
    index_cost: bool,
) -> dict[str, dict[str, float]]:  # fmt: skip
    """Review create p95 per variant, variants alternating round by round."""
    tokens = _tokens(server, url, writers)
    variants: dict[str, tuple[list[str], list[str]]] = {
        "triggers on": ([], []),
        "triggers off": (
            ["ALTER TABLE reviews DISABLE TRIGGER USER"],
            ["ALTER TABLE reviews ENABLE TRIGGER USER"],
        ),
    }
    if index_cost:
        for name, definition in _index_definitions(url, SCALE_INDEXES).items():
            variants[f"without {name}"] = ([f"DROP INDEX {name}"], [definition])
    samples: dict[str, list[float]] = {name: [] for name in variants}
    start = 0
    for _ in range(rounds):
        for name, (before, after) in variants.items():
            if before:
                _sql(url, *before)
            try:
                samples[name] += write_round(server, tokens, restaurants, per_writer, start)
            finally:
                if after:
                    _sql(url, *after)
            start += 1
    return {
        name: {"p50": percentile(v, 0.5), "p95": percentile(v, 0.95), "n": len(v)}
        for name, v in samples.items()
        if v
    }


# -- main --------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10000,100000,1000000")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--warmup", type=int, default=5)
    parser.add_argument("--calls", type=int, default=50)
    parser.add_argument("--writers", type=int, default=8)
    parser.add_argument("--write-rounds", type=int, default=4)
    parser.add_argument("--writes-per-round", type=int, default=25, help="per writer")
    parser.add_argument("--write-size", type=int, default=0, help="default: the largest size")
    parser.add_argument("--index-cost", action="store_true")
    parser.add_argument("--no-writes", action="store_true")
    parser.add_argument("--database", action="append", default=[], metavar="SIZE=URL")
    parser.add_argument("--keep", action="store_true", help="do not drop created databases")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    try:
        sizes = sorted({int(s) for s in args.sizes.split(",")})
        given = {int(k): v for k, v in (item.split("=", 1) for item in args.database)}
    except ValueError:
        parser.error("--sizes takes integers; --database takes SIZE=URL")
    if not sizes or sizes[0] < 1:
        parser.error("--sizes takes positive integers")
    log: Callable[[str], None] = (lambda m: print(m, file=sys.stderr)) if args.json else print
    report: dict[str, Any] = {"sizes": sizes, "seeding": {}}
    created: list[str] = []
    with ExitStack() as stack:
        if not args.keep:
            stack.callback(lambda: [drop_database(ADMIN_URL, u) for u in created])
        urls: dict[int, str] = {}
        for size in sizes:
            if size in given:
                urls[size] = given[size]
                continue
            urls[size] = create_database(ADMIN_URL)
            created.append(urls[size])
            log(f"seeding {size} restaurants into {urls[size]} ...")
            seeded = migrate_and_seed(urls[size], size, size * REVIEWS_PER_RESTAURANT, args.seed)
            report["seeding"][size] = seeded
            log(f"  {seeded['seconds']:.0f} s")
        servers: dict[int, Server] = {}
        for size in sizes:
            server = Server(f"scale-{size}", urls[size], core=size % 2,
                            env={"BISTRO_CACHE_ENABLED": "false"})  # fmt: skip
            server.start()
            stack.callback(server.stop)
            servers[size] = server
        shapes = list(SHAPES)
        log("timing reads ...")
        timings, keys = measure_reads(servers, shapes, args.warmup, args.calls)
        rows = []
        for shape in shapes:
            row: dict[str, Any] = {"shape": shape.name}
            for size in sizes:
                got = timings.samples.get((shape.name, size))
                if got:
                    row[f"p50@{size}"] = percentile(got, 0.5)
                    row[f"p95@{size}"] = percentile(got, 0.95)
            base = row.get(f"p95@{sizes[0]}")
            for size in sizes[1:]:
                if base and f"p95@{size}" in row:
                    row[f"growth@{size}"] = row[f"p95@{size}"] / base
            rows.append(row)
        report["reads"] = rows
        plans = {size: plans_for(urls[size], shapes, keys[size]) for size in sizes[1:]}
        report["plans"] = {
            size: {
                name: (
                    {part: vars(check) for part, check in checks.items()}
                    if name != "_table_rows"
                    else checks
                )
                for name, checks in found.items()
            }
            for size, found in plans.items()
        }
        if not args.no_writes:
            write_size = args.write_size or sizes[-1]
            log(f"timing review creates at {write_size} ...")
            report["writes"] = measure_writes(
                servers[write_size], urls[write_size], write_size, args.writers,
                args.write_rounds, args.writes_per_round, args.index_cost,
            )  # fmt: skip
            report["write_size"] = write_size
    if args.json:
        print(orjson.dumps(report, option=orjson.OPT_INDENT_2 | orjson.OPT_NON_STR_KEYS).decode())
        return 0
    print_report(report, sizes, plans)
    return 0


def print_report(report: dict[str, Any], sizes: list[int], plans: dict[int, Any]) -> None:
    head = ["shape"] + [f"p50/p95 ms @{s:,}" for s in sizes]
    head += [f"p95 x{sizes[0]:,}->{s:,}" for s in sizes[1:]]
    print("| " + " | ".join(head) + " |")
    print("|" + "---|" * len(head))
    for row in report["reads"]:
        cells = [row["shape"]]
        for size in sizes:
            if f"p50@{size}" in row:
                cells.append(f"{row[f'p50@{size}']:.1f} / {row[f'p95@{size}']:.1f}")
            else:
                cells.append("n/a")
        for size in sizes[1:]:
            growth = row.get(f"growth@{size}")
            cells.append(f"{growth:.2f}x" if growth else "n/a")
        print("| " + " | ".join(cells) + " |")
    for size, found in plans.items():
        if not found:
            print(f"\nplans @{size:,}: skipped (no statement builders in this checkout)")
            continue
        table_rows = found["_table_rows"]
        print(f"\nplans @{size:,} (rows read of restaurants/reviews per row returned):")
        for name, checks in found.items():
            if name == "_table_rows":
                continue
            for part, check in checks.items():
                read = sum(check.read.values())
                ratio = read / max(check.returned, 1)
                flags = check.flags(table_rows)
                print(
                    f"  {name} [{part}] {check.ms:.1f} ms, read {read} for {check.returned}"
                    f" ({ratio:.0f}/row){'  !! ' + ', '.join(flags) if flags else ''}"
                )
                print(f"      {check.top}")
    if "writes" in report:
        print(f"\nreview create @{report['write_size']:,}, concurrent writers:")
        base = report["writes"].get("triggers off", {}).get("p95")
        for name, figures in report["writes"].items():
            ratio = f" ({figures['p95'] / base:.2f}x triggers off)" if base else ""
            print(
                f"  {name}: p50 {figures['p50']:.1f} ms, p95 {figures['p95']:.1f} ms"
                f" over {figures['n']}{ratio}"
            )


if __name__ == "__main__":
    sys.exit(main())
