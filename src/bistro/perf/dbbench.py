"""``bistro perf db``: the data layers alone, in process, v3 against v4, as the data grows.

For each size the database is seeded with ``bistro.seed`` (the seeding the scale benchmark
uses) and the same queries run through v3's ``DatabaseManagerV3`` and v4's services and
repositories, uncached (the cache is not the data layer), alternating call by call so both
see the same machine; each figure is the median of ``repeat`` calls.
"""

from __future__ import annotations

import asyncio
import random
import statistics
import sys
from collections.abc import Awaitable, Callable
from functools import partial
from typing import Any

from rich.console import Console
from rich.progress import Progress, TaskID
from rich.table import Table
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncConnection

from bistro.cli.common import database_settings, ensure_reachable, progress
from bistro.core.clock import Clock, SystemClock
from bistro.core.database import create_engine
from bistro.core.migrate import upgrade
from bistro.core.settings import DatabaseSettings
from bistro.legacy.manager import DatabaseManagerV3
from bistro.legacy.restaurants_sql import RestaurantQuery as V3Query
from bistro.restaurants.repository import R, RestaurantRepository
from bistro.restaurants.schemas import RestaurantQuery as V4Query
from bistro.restaurants.service import RestaurantService
from bistro.reviews.repository import ReviewRepository
from bistro.reviews.service import ReviewService
from bistro.seed import SeedPlan, default_users, seed_database
from bistro.statistics.repository import StatisticsRepository
from bistro.statistics.service import StatisticsService

MAX_SCALE = 1_000_000
Call = Callable[[AsyncConnection], Awaitable[Any]]


class DbBenchError(Exception):
    def __init__(self, message: str, exit_code: int = 1) -> None:
        super().__init__(message)
        self.exit_code = exit_code


def parse_scales(text: str) -> list[int]:
    try:
        scales = sorted({int(part.replace("_", "")) for part in text.split(",") if part.strip()})
    except ValueError:
        raise ValueError(
            f"--scale takes restaurant counts like 10000,100000, not {text!r}"
        ) from None
    if not scales or scales[0] < 10 or scales[-1] > MAX_SCALE:
        raise ValueError(f"--scale counts must lie between 10 and {MAX_SCALE}")
    return scales


def query_pairs(ids: list[int], cuisine: str, word: str) -> dict[str, tuple[Call, Call]]:
    """name -> (v3 call, v4 call) answering the same question."""
    rnd = random.Random(7)

    def rid() -> int:
        return rnd.choice(ids)

    def v4_restaurants(conn: AsyncConnection) -> RestaurantService:
        return RestaurantService(RestaurantRepository(conn))

    return {
        "detail": (
            lambda c: DatabaseManagerV3(c).get_restaurant(rid()),
            lambda c: v4_restaurants(c).get(rid()),
        ),
        "list": (
            lambda c: DatabaseManagerV3(c).list_restaurants(V3Query(limit=20)),
            lambda c: v4_restaurants(c).list(V4Query(), 20, 0),
        ),
        "list_cuisine": (
            lambda c: DatabaseManagerV3(c).list_restaurants(V3Query(cuisines=[cuisine], limit=20)),
            lambda c: v4_restaurants(c).list(V4Query(cuisines=(cuisine,)), 20, 0),
        ),
        "search": (
            lambda c: DatabaseManagerV3(c).list_restaurants(V3Query(q=word, limit=20)),
            lambda c: v4_restaurants(c).list(V4Query(q=word), 20, 0),
        ),
        "reviews": (
            lambda c: DatabaseManagerV3(c).list_reviews(
                restaurant_id=rid(),
                user_id=None,
                min_rating=None,
                sort="newest",
                limit=20,
                offset=0,
            ),
            lambda c: ReviewService(ReviewRepository(c)).list(restaurant_id=rid(), limit=20),
        ),
        "statistics": (
            lambda c: DatabaseManagerV3(c).statistics(),
            lambda c: StatisticsService(StatisticsRepository(c)).summary(),
        ),
    }


async def _restaurant_count(conn: AsyncConnection) -> int:
    return int((await conn.execute(select(func.count()).select_from(R))).scalar_one())


async def _sample(conn: AsyncConnection) -> tuple[list[int], str, str]:
    rows = (await conn.execute(select(R.c.id, R.c.cuisine, R.c.name).limit(500))).all()
    ids = [row.id for row in rows]
    cuisine = rows[0].cuisine if rows else "italian"
    words = [w for row in rows for w in row.name.split() if len(w) >= 4 and w.isalpha()]
    return ids, cuisine, (words[0].lower() if words else "cafe")


async def measure(
    conn: AsyncConnection, repeat: int, clock: Clock, tick: Callable[[int], None]
) -> dict[str, Any]:
    ids, cuisine, word = await _sample(conn)
    if not ids:
        raise DbBenchError("the database holds no restaurants to query")
    out: dict[str, Any] = {}
    for name, (v3, v4) in query_pairs(ids, cuisine, word).items():
        times: dict[str, list[float]] = {"v3": [], "v4": []}
        for i in range(repeat):
            # Alternate which side goes first, so neither always runs on a warmer cache line.
            order = (("v3", v3), ("v4", v4)) if i % 2 == 0 else (("v4", v4), ("v3", v3))
            for side, call in order:
                started = clock.monotonic()
                await call(conn)
                times[side].append(clock.monotonic() - started)
            tick(1)
        v3_ms = statistics.median(times["v3"]) * 1000
        v4_ms = statistics.median(times["v4"]) * 1000
        out[name] = {
            "v3_ms": round(v3_ms, 4),
            "v4_ms": round(v4_ms, 4),
            "v3_over_v4": round(v3_ms / v4_ms, 3) if v4_ms > 0 else None,
        }
    return out


def prepare(database_url: str | None) -> DatabaseSettings:
    """Check the database answers and bring its schema up to date (Alembic runs its own
    event loop: call this before entering one)."""
    settings = database_settings(database_url)
    asyncio.run(ensure_reachable(settings.url))
    upgrade(settings.url)
    return settings


async def run_db_bench(
    settings: DatabaseSettings,
    scales: list[int],
    *,
    reviews_per_restaurant: int,
    repeat: int,
    reuse: bool,
    show_progress: bool,
    clock: Clock | None = None,
) -> dict[str, Any]:
    clock = clock or SystemClock()
    if reuse and len(scales) > 1:
        raise DbBenchError("--reuse measures the data already there: give one --scale", 2)
    engine = create_engine(settings)
    results: list[dict[str, Any]] = []
    bars = progress(enabled=show_progress and sys.stderr.isatty())
    try:
        async with engine.connect() as conn:
            existing = await _restaurant_count(conn)
        if existing and not reuse:
            raise DbBenchError(
                f"the database already holds {existing} restaurants: pass --reuse to measure "
                "them, or give an empty database (perf db seeds its own)",
                2,
            )
        with bars:
            for index, scale in enumerate(scales):
                seeded: dict[str, Any] | None = None
                if not reuse:
                    reviews = scale * reviews_per_restaurant
                    plan = SeedPlan(scale, reviews, default_users(scale, reviews), seed=42)
                    task = bars.add_task(f"seed {scale}", total=plan.restaurants + plan.reviews)
                    report = await seed_database(
                        engine,
                        plan,
                        reset=index > 0,
                        progress=_seed_progress(bars, task),
                    )
                    seeded = {"reviews": report.reviews, "seconds": round(report.seconds, 2)}
                task = bars.add_task(f"measure {scale}", total=repeat * 6)
                async with engine.connect() as conn:
                    count = await _restaurant_count(conn)
                    figures = await measure(conn, repeat, clock, partial(bars.advance, task))
                    await conn.rollback()
                results.append({"restaurants": count, "seeded": seeded, "queries": figures})
    finally:
        await engine.dispose()
    return {"dialect": settings.url.split(":", 1)[0], "repeat": repeat, "scales": results}


def _seed_progress(bars: Progress, task: TaskID) -> Callable[[str, int], None]:
    def advance(stage: str, n: int) -> None:
        if stage != "users":
            bars.advance(task, n)

    return advance


def render_db(report: dict[str, Any]) -> Callable[[Console], None]:
    def render(console: Console) -> None:
        table = Table(
            title=f"data layer, in process ({report['dialect']}), median of "
            f"{report['repeat']} calls"
        )
        for col in ("restaurants", "query", "v3 ms", "v4 ms", "v3/v4"):
            table.add_column(col, justify="right" if col != "query" else "left")
        for scale in report["scales"]:
            for name, f in scale["queries"].items():
                table.add_row(
                    str(scale["restaurants"]),
                    name,
                    f"{f['v3_ms']:.3f}",
                    f"{f['v4_ms']:.3f}",
                    f"x{f['v3_over_v4'] or 0:.2f}",
                )
        console.print(table)
        console.print("v3/v4 above 1: v4 is faster by that factor")

    return render
