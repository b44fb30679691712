"""Bulk-loads a seed plan: COPY on PostgreSQL, executemany on SQLite, one transaction.

``seed_database`` is the public entry point (``bistro seed``, demo mode and the benchmarks use
it). On PostgreSQL the bulk tables' secondary indexes and unique and foreign-key constraints
are dropped for the load and rebuilt once at the end, and the tables are vacuumed after the
commit (bench_scale.py reports the seeding time).

Aggregates (review_count, rating_sum, rating_avg, rating_score) are computed once at the end
with one UPDATE rather than per review, and PostgreSQL's sequences are moved past the ids we
assigned so later inserts through the API do not collide.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from itertools import islice
from typing import Any, TypeVar

import orjson
from sqlalchemy import Table, text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from bistro.core.rating import bayesian_score_sql
from bistro.models import Base
from bistro.seed.generate import (
    INTERVAL_COLUMNS,
    RESTAURANT_COLUMNS,
    REVIEW_COLUMNS,
    SEED_EMAIL_DOMAIN,
    USER_COLUMNS,
    Row,
    SeedGenerator,
    SeedPlan,
)

T = TypeVar("T")
Progress = Callable[[str, int], None]
BATCH = 5_000


class SeedError(Exception):
    """The database is not in a state the seed can fill (not migrated, already seeded...)."""


@dataclass
class SeedReport:
    users: int = 0
    restaurants: int = 0
    opening_intervals: int = 0
    reviews: int = 0
    seconds: float = 0.0
    stages: dict[str, float] = field(default_factory=dict)


def _chunks(items: Iterable[T], size: int) -> Iterator[list[T]]:
    iterator = iter(items)
    while chunk := list(islice(iterator, size)):
        yield chunk


class _Writer:
    """Inserts rows into one table through the connection's fastest bulk path."""

    def __init__(self, conn: AsyncConnection) -> None:
        self.conn = conn
        self.postgres = conn.dialect.name == "postgresql"
        self._raw: Any = None

    async def write(self, table: str, columns: tuple[str, ...], rows: list[Row]) -> None:
        if not rows:
            return
        if self.postgres:
            if self._raw is None:
                self._raw = (await self.conn.get_raw_connection()).driver_connection
            if table == "restaurants":  # the json column travels as text through COPY
                at = columns.index("hours")
                rows = [(*r[:at], orjson.dumps(r[at]).decode(), *r[at + 1 :]) for r in rows]
            await self._raw.copy_records_to_table(table, records=rows, columns=list(columns))
        else:
            target: Table = Base.metadata.tables[table]
            await self.conn.execute(
                target.insert(), [dict(zip(columns, r, strict=True)) for r in rows]
            )


async def _scalar(conn: AsyncConnection, sql: str, **params: Any) -> Any:
    return (await conn.execute(text(sql), params)).scalar()


async def _prepare(conn: AsyncConnection, reset: bool) -> None:
    tables = set(await conn.run_sync(lambda c: c.dialect.get_table_names(c)))
    if not {"restaurants", "reviews", "users", "restaurant_opening_intervals"} <= tables:
        raise SeedError("the database has no schema: run `bistro db upgrade` first")
    seeded_users = f"%@{SEED_EMAIL_DOMAIN}"
    if reset:
        await conn.execute(text("DELETE FROM reviews"))
        await conn.execute(text("DELETE FROM restaurant_opening_intervals"))
        await conn.execute(text("DELETE FROM restaurants"))
        await conn.execute(text("DELETE FROM users WHERE email LIKE :p"), {"p": seeded_users})
        return
    existing = await _scalar(conn, "SELECT count(*) FROM restaurants")
    if existing:
        raise SeedError(
            f"the database already holds {existing} restaurants: pass --reset to replace them"
        )
    if await _scalar(conn, "SELECT count(*) FROM users WHERE email LIKE :p", p=seeded_users):
        raise SeedError("the database already holds seeded users: pass --reset to replace them")


async def _update_aggregates(conn: AsyncConnection) -> None:
    # The same expressions as the review write path (reviews.repository): unrounded average.
    avg = "CAST(s.total AS FLOAT) / s.n"
    score = bayesian_score_sql("s.total", "s.n")
    await conn.execute(
        text(
            f"UPDATE restaurants SET review_count = s.n, rating_sum = s.total, "
            f"rating_avg = {avg}, rating_score = {score} "
            "FROM (SELECT restaurant_id, count(*) AS n, sum(rating) AS total "
            "      FROM reviews GROUP BY restaurant_id) AS s "
            "WHERE restaurants.id = s.restaurant_id"
        )
    )


BULK_TABLES = ("restaurants", "restaurant_opening_intervals", "reviews")


async def _defer_indexes(conn: AsyncConnection) -> list[str]:
    """Drop the secondary indexes and the unique and foreign-key constraints of the (empty)
    bulk tables; return the statements that rebuild them, in order.

    Building an index once after COPY is several times cheaper than maintaining it row by row,
    and checking a foreign key once (one join) is far cheaper than one index probe per row:
    at 1M restaurants and 10M reviews the per-row checks and the unique index made COPY read
    random pages of indexes larger than shared_buffers for every row. Primary keys stay.
    """
    constraints = await conn.execute(
        text(
            "SELECT c.conrelid::regclass::text, c.conname, c.contype, pg_get_constraintdef(c.oid) "
            "FROM pg_constraint c WHERE c.conrelid = ANY(CAST(:tables AS regclass[])) "
            "AND c.contype IN ('u', 'f') ORDER BY c.contype DESC"  # unique before foreign keys
        ),
        {"tables": list(BULK_TABLES)},
    )
    rebuild = []
    for table, name, _, definition in constraints.all():
        await conn.execute(text(f'ALTER TABLE {table} DROP CONSTRAINT "{name}"'))
        rebuild.append(f'ALTER TABLE {table} ADD CONSTRAINT "{name}" {definition}')
    rows = await conn.execute(
        text(
            "SELECT i.indexname, i.indexdef FROM pg_indexes i "
            "WHERE i.schemaname = current_schema() AND i.tablename = ANY(:tables) "
            "AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conname = i.indexname)"
        ),
        {"tables": list(BULK_TABLES)},
    )
    indexes = []
    for name, definition in rows.all():
        await conn.execute(text(f'DROP INDEX "{name}"'))
        indexes.append(str(definition))
    # Indexes first: the unique constraint's index and the foreign-key checks then run on
    # tables whose statistics and indexes are in place.
    return indexes + rebuild


async def _finish_postgres(conn: AsyncConnection, rebuild: list[str]) -> None:
    await conn.execute(text("SET LOCAL maintenance_work_mem = '256MB'"))
    for statement in rebuild:
        await conn.execute(text(statement))
    for table in ("users", "restaurants", "reviews", "restaurant_opening_intervals"):
        await conn.execute(
            text(
                f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                f"COALESCE((SELECT max(id) FROM {table}), 0) + 1, false)"
            )
        )


async def seed_database(
    engine: AsyncEngine,
    plan: SeedPlan,
    *,
    reset: bool = False,
    progress: Progress | None = None,
    batch_size: int = BATCH,
) -> SeedReport:
    """Fill the database with ``plan`` in one transaction; all or nothing."""
    if plan.problems():
        raise SeedError("; ".join(plan.problems()))
    report = SeedReport()
    started = time.perf_counter()

    def advance(stage: str, n: int) -> None:
        if progress is not None:
            progress(stage, n)

    async with engine.begin() as conn:
        await _prepare(conn, reset)
        first_user = int(await _scalar(conn, "SELECT COALESCE(max(id), 0) FROM users")) + 1
        first_restaurant = (
            int(await _scalar(conn, "SELECT COALESCE(max(id), 0) FROM restaurants")) + 1
        )
        first_review = int(await _scalar(conn, "SELECT COALESCE(max(id), 0) FROM reviews")) + 1
        gen = SeedGenerator(
            plan,
            first_user_id=first_user,
            first_restaurant_id=first_restaurant,
            first_review_id=first_review,
        )
        writer = _Writer(conn)
        postgres = conn.dialect.name == "postgresql"
        rebuild = await _defer_indexes(conn) if postgres else []

        mark = time.perf_counter()
        for chunk in _chunks(gen.users(), batch_size):
            await writer.write("users", USER_COLUMNS, chunk)
            report.users += len(chunk)
            advance("users", len(chunk))
        report.stages["users"] = time.perf_counter() - mark

        mark = time.perf_counter()
        for pairs in _chunks(gen.restaurants(), batch_size):
            intervals = [row for _, rows in pairs for row in rows]
            await writer.write("restaurants", RESTAURANT_COLUMNS, [r for r, _ in pairs])
            await writer.write("restaurant_opening_intervals", INTERVAL_COLUMNS, intervals)
            report.restaurants += len(pairs)
            report.opening_intervals += len(intervals)
            advance("restaurants", len(pairs))
        report.stages["restaurants"] = time.perf_counter() - mark

        mark = time.perf_counter()
        for chunk in _chunks(gen.reviews(), batch_size * 2):
            await writer.write("reviews", REVIEW_COLUMNS, chunk)
            report.reviews += len(chunk)
            advance("reviews", len(chunk))
        report.stages["reviews"] = time.perf_counter() - mark

        mark = time.perf_counter()
        await _update_aggregates(conn)
        if postgres:
            await _finish_postgres(conn, rebuild)
        report.stages["aggregates"] = time.perf_counter() - mark
    if postgres:
        # After the commit (VACUUM cannot run inside a transaction): it sets the visibility
        # map, so index-only scans (list totals, the open_now probe) need not visit the heap,
        # and ANALYZE gives the planner the new tables' statistics. Autovacuum would get
        # there too, but minutes later, and plans made before would read the heap.
        mark = time.perf_counter()
        async with engine.connect() as conn:
            auto = await conn.execution_options(isolation_level="AUTOCOMMIT")
            await auto.execute(text(f"VACUUM (ANALYZE) users, {', '.join(BULK_TABLES)}"))
        report.stages["vacuum"] = time.perf_counter() - mark
    report.seconds = time.perf_counter() - started
    return report
