"""Restaurant SQL. Reads are Core selects of explicit columns returning mappings (no ORM
object loading on the hot path); every filter is a sargable predicate on an indexed column.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import replace
from datetime import datetime
from typing import Any, cast

import orjson
from sqlalchemy import (
    ColumnElement,
    Select,
    Table,
    and_,
    bindparam,
    case,
    delete,
    exists,
    func,
    insert,
    literal,
    or_,
    select,
    update,
)
from sqlalchemy.sql import operators

from bistro.core.database import Executor, ReadConnection
from bistro.core.totals import Total, capped_total
from bistro.restaurants.geo import KM_PER_DEGREE, Near
from bistro.restaurants.models import OpeningInterval, Restaurant
from bistro.restaurants.schemas import RestaurantQuery
from bistro.statistics.models import StatisticsCounter

R = cast(Table, Restaurant.__table__)
I = cast(Table, OpeningInterval.__table__)  # noqa: E741
C = cast(Table, StatisticsCounter.__table__)

COLUMNS = (
    R.c.id,
    R.c.name,
    R.c.cuisine,
    R.c.city,
    R.c.address,
    R.c.latitude,
    R.c.longitude,
    R.c.price_level,
    R.c.hours,
    R.c.rating_avg,
    R.c.review_count,
    R.c.rating_score,
    R.c.created_at,
    R.c.updated_at,
)

# sort name -> ORDER BY; every order ends with id ascending so pages are stable.
RATING_ORDER = (R.c.rating_score.desc(), R.c.review_count.desc(), R.c.id.asc())
_ORDERS: dict[str, tuple[Any, ...]] = {
    "rating": RATING_ORDER,
    "review_count": (R.c.review_count.desc(), R.c.id.asc()),
    "name": (R.c.name.asc(), R.c.id.asc()),
    "newest": (R.c.created_at.desc(), R.c.id.asc()),
}


# Built once: the detail read is the hottest statement (no per-call construction or cache key).
_BY_ID = select(*COLUMNS).where(R.c.id == bindparam("restaurant_id"))

# The same SELECT for asyncpg itself: the uncached detail read is the hottest database path,
# and going through SQLAlchemy's execution layer roughly doubled its CPU cost (measured).
_BY_ID_ASYNCPG = f"SELECT {', '.join(c.name for c in COLUMNS)} FROM {R.name} WHERE id = $1"


def _from_record(record: Mapping[str, Any]) -> dict[str, Any]:
    row = dict(record)
    # asyncpg hands JSON columns back as text and timestamptz as aware UTC datetimes.
    if isinstance(row["hours"], str):
        row["hours"] = orjson.loads(row["hours"])
    return row


def like_pattern(text: str) -> str:
    """A ``LIKE`` pattern matching ``text`` anywhere, with its wildcards escaped (escape ``\\``)."""
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def squared_distance(near: Near) -> ColumnElement[Any]:
    """Equirectangular distance squared (km^2), arithmetic only: see restaurants.geo."""
    dy = (R.c.latitude - literal(near.latitude)) * literal(KM_PER_DEGREE)
    dlon: ColumnElement[Any] = R.c.longitude - literal(near.longitude)
    if near.wraps:  # across the 180th meridian: the short way round (geo.short_way)
        dlon = case((dlon > 180, dlon - 360), (dlon < -180, dlon + 360), else_=dlon)
    dx = dlon * literal(near.lon_scale)
    return dy * dy + dx * dx


def open_at(minute: int) -> ColumnElement[bool]:
    """EXISTS an opening interval covering week-minute ``minute`` (ix_opening_intervals_*)."""
    return exists().where(
        I.c.restaurant_id == R.c.id, I.c.open_minute <= minute, I.c.close_minute > minute
    )


def conditions(query: RestaurantQuery, open_minute: int | None) -> list[ColumnElement[bool]]:
    where: list[ColumnElement[bool]] = []
    if query.cuisines:
        where.append(R.c.cuisine.in_(query.cuisines))
    if query.city is not None:
        where.append(func.lower(R.c.city) == query.city.lower())
    if query.price_min is not None:
        where.append(R.c.price_level >= query.price_min)
    if query.price_max is not None:
        where.append(R.c.price_level <= query.price_max)
    if query.min_rating is not None:
        where.append(R.c.rating_avg >= query.min_rating)
    if query.q is not None:
        # Lowered here as v3 does: SQLite's lower() (which its ILIKE uses) folds ASCII only,
        # so 'CAFÉ' would miss 'Café' there. PostgreSQL's ILIKE (and its trigram index) is
        # indifferent to the pattern's case.
        pattern = like_pattern(query.q.lower())
        where.append(
            or_(
                R.c.name.ilike(pattern, escape="\\"),
                R.c.cuisine.ilike(pattern, escape="\\"),
                R.c.city.ilike(pattern, escape="\\"),
            )
        )
    if open_minute is not None:
        where.append(open_at(open_minute))
    if query.near is not None:
        lat_min, lat_max, lon_ranges = query.near.bounding_box()
        # The box lets the (latitude, longitude) index do the coarse cut.
        where.append(R.c.latitude.between(lat_min, lat_max))
        if lon_ranges is not None:
            where.append(or_(*(R.c.longitude.between(low, high) for low, high in lon_ranges)))
        where.append(squared_distance(query.near) <= query.near.radius_km**2)
    return where


def _order(query: RestaurantQuery) -> tuple[Any, ...]:
    if query.sort == "distance" and query.near is not None:
        return (squared_distance(query.near).asc(), R.c.id.asc())
    return _ORDERS[query.sort]


def after(query: RestaurantQuery, key: Sequence[Any]) -> ColumnElement[bool]:
    """Rows strictly after the row whose sort key is ``key``, in the query's order (keyset).

    Mixed directions (rating DESC, id ASC) rule out a row-value comparison, so it is spelled
    out: k1 < a OR (k1 = a AND (k2 < b OR ...)). The leading ``k1 <= a`` repeats the first
    term as a plain range, which the database turns into the index scan's start.
    """
    parts = [(clause.element, clause.modifier is operators.desc_op) for clause in _order(query)]
    alternatives = []
    for i, (column, descending) in enumerate(parts):
        equal = [parts[j][0] == key[j] for j in range(i)]
        beyond = column < key[i] if descending else column > key[i]
        alternatives.append(and_(*equal, beyond))
    first, descending = parts[0]
    start = first <= key[0] if descending else first >= key[0]
    return and_(start, or_(*alternatives))


def page_statement(
    query: RestaurantQuery,
    open_minute: int | None,
    limit: int,
    offset: int,
    key: Sequence[Any] | None = None,
) -> Select[Any]:
    """One page of rows (plus ``distance2`` with near): after ``key`` when paging by cursor."""
    columns: list[Any] = list(COLUMNS)
    if query.near is not None:
        columns.append(squared_distance(query.near).label("distance2"))
    where = conditions(query, open_minute)
    if key is not None:
        where.append(after(query, key))
    statement = select(*columns).where(*where).order_by(*_order(query)).limit(limit)
    return statement.offset(offset) if offset else statement


def matching_statement(query: RestaurantQuery, open_minute: int | None) -> Select[Any]:
    """A constant per matching row: what meta.total counts (core.totals.capped_total)."""
    return select(literal(1)).select_from(R).where(*conditions(query, open_minute))


# Below this many matches, sorting them all by distance is cheaper than narrowing the circle.
RING_SEARCH_FROM = 1_000


class RestaurantRepository:
    def __init__(self, session: Executor) -> None:
        self.session = session

    async def page(
        self,
        query: RestaurantQuery,
        open_minute: int | None,
        limit: int,
        offset: int,
        key: Sequence[Any] | None = None,
    ) -> tuple[Sequence[Mapping[str, Any]], Total]:
        """One page of rows and the total (exact up to core.totals.EXACT_TOTAL_LIMIT)."""
        if query.sort == "distance" and query.near is not None and key is None:
            return await self._nearest(query, open_minute, limit, offset)
        statement = page_statement(query, open_minute, limit, offset, key)
        rows = (await self.session.execute(statement)).mappings().all()
        if key is None and len(rows) < limit and (rows or offset == 0):
            # The last page: the total is known without a COUNT.
            return rows, Total(offset + len(rows))
        if not conditions(query, open_minute):
            # Every restaurant: the trigger-kept counter is exact and costs one small read.
            counted = await self.session.execute(
                select(func.coalesce(func.sum(C.c.restaurants), 0))
            )
            return rows, Total(int(counted.scalar_one()))
        total = await capped_total(self.session, matching_statement(query, open_minute))
        return rows, total.at_least(offset + len(rows))

    async def get(self, restaurant_id: int) -> Mapping[str, Any] | None:
        if isinstance(self.session, ReadConnection) and self.session.has_driver:
            # The hottest uncached read: asyncpg directly (about half SQLAlchemy's CPU).
            driver = await self.session.driver()
            record = await driver.fetchrow(_BY_ID_ASYNCPG, restaurant_id)
            return None if record is None else _from_record(record)
        params = {"restaurant_id": restaurant_id}
        row = (await self.session.execute(_BY_ID, params)).mappings().one_or_none()
        return cast("Mapping[str, Any] | None", row)

    async def exists(self, restaurant_id: int) -> bool:
        statement = select(R.c.id).where(R.c.id == restaurant_id)
        return (await self.session.execute(statement)).first() is not None

    async def create(self, values: Mapping[str, Any], intervals: Sequence[tuple[int, int]]) -> int:
        result = await self.session.execute(insert(R).values(**values).returning(R.c.id))
        restaurant_id = int(result.scalar_one())
        await self._replace_intervals(restaurant_id, intervals, new=True)
        return restaurant_id

    async def update(
        self,
        restaurant_id: int,
        values: Mapping[str, Any],
        intervals: Sequence[tuple[int, int]] | None,
        now: datetime,
    ) -> bool:
        result = await self.session.execute(
            update(R).where(R.c.id == restaurant_id).values(**values, updated_at=now)
        )
        if not getattr(result, "rowcount", 0):
            return False
        if intervals is not None:
            await self._replace_intervals(restaurant_id, intervals)
        return True

    async def delete(self, restaurant_id: int) -> bool:
        # Reviews and opening intervals go with it (ON DELETE CASCADE).
        result = await self.session.execute(delete(R).where(R.c.id == restaurant_id))
        return bool(getattr(result, "rowcount", 0))

    async def _replace_intervals(
        self, restaurant_id: int, intervals: Sequence[tuple[int, int]], *, new: bool = False
    ) -> None:
        if not new:
            await self.session.execute(delete(I).where(I.c.restaurant_id == restaurant_id))
        if intervals:
            await self.session.execute(
                insert(I),
                [
                    {"restaurant_id": restaurant_id, "open_minute": o, "close_minute": c}
                    for o, c in intervals
                ],
            )

    async def _nearest(
        self, query: RestaurantQuery, open_minute: int | None, limit: int, offset: int
    ) -> tuple[Sequence[Mapping[str, Any]], Total]:
        """sort=distance without sorting every match: nothing orders by distance from an index
        here, so the page comes from the smallest circle around the point that holds
        offset + limit matches. Every match outside that circle is farther than every match
        inside, so the page is exactly the one the whole radius would give, at a cost that
        follows the page rather than the density of restaurants around the point."""
        total = await capped_total(self.session, matching_statement(query, open_minute))
        query = await self.nearest_circle(query, open_minute, offset + limit, total)
        statement = page_statement(query, open_minute, limit, offset)
        rows = (await self.session.execute(statement)).mappings().all()
        return rows, total.at_least(offset + len(rows))

    async def nearest_circle(
        self, query: RestaurantQuery, open_minute: int | None, need: int, total: Total
    ) -> RestaurantQuery:
        """``query`` with the smallest radius found to hold ``need`` of its ``total`` matches
        (``query`` itself when it has few matches or no smaller circle holds them)."""
        near = query.near
        if near is None or total.value <= RING_SEARCH_FROM or need >= total.value:
            return query
        # Start from the radius that would hold twice the rows needed at even density.
        radius = near.radius_km * math.sqrt(2 * need / total.value)
        while radius < near.radius_km:
            ring = replace(query, near=replace(near, radius_km=radius))
            capped = matching_statement(ring, open_minute).limit(need).subquery()
            held = await self.session.execute(select(func.count()).select_from(capped))
            if held.scalar_one() >= need:
                return ring
            radius *= 2
        return query
