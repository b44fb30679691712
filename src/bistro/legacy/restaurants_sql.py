"""v3's restaurant SQL: list/search with filters, detail, and the admin writes."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from bistro.core.rating import PRIOR_MEAN
from bistro.legacy.hours import week_intervals
from bistro.legacy.sql import (
    RESTAURANT_COLUMNS,
    RESTAURANT_RETURNING,
    RESTAURANT_TYPES,
    UTC_DATETIME,
    SQLBase,
    restaurant_out,
    sql,
)

# Equirectangular distance: kilometres per degree on a sphere of radius 6371 km.
KM_PER_DEGREE = 6371.0 * math.pi / 180.0

ORDER_BY = {
    "rating": "r.rating_score DESC, r.review_count DESC, r.id ASC",
    "review_count": "r.review_count DESC, r.id ASC",
    "name": "r.name ASC, r.id ASC",
    "newest": "r.created_at DESC, r.id ASC",
    "distance": "distance2 ASC, r.id ASC",
}


@dataclass
class RestaurantQuery:
    """A list or search request, already checked by the route."""

    cuisines: list[str] = field(default_factory=list)
    city: str | None = None
    price_min: int | None = None
    price_max: int | None = None
    min_rating: float | None = None
    open_minute: int | None = None  # minute of the week when open_now=true
    near: tuple[float, float] | None = None
    radius_km: float = 5.0
    q: str | None = None
    sort: str = "rating"
    limit: int = 20
    offset: int = 0


def _like_pattern(q: str) -> str:
    escaped = q.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def _short_way(dlon: float) -> float:
    """A longitude difference taken the short way round, across the 180th meridian."""
    return dlon - 360.0 if dlon > 180.0 else dlon + 360.0 if dlon < -180.0 else dlon


def _distance(near: tuple[float, float], item: dict[str, Any]) -> float:
    dy = (item["latitude"] - near[0]) * KM_PER_DEGREE
    dlon = _short_way(item["longitude"] - near[1])
    dx = dlon * (KM_PER_DEGREE * math.cos(math.radians(near[0])))
    return math.sqrt(dx * dx + dy * dy)


# The longitude difference the short way round (-180..180), in SQL.
_SHORT_WAY = (
    "(CASE WHEN r.longitude - :lon > 180 THEN r.longitude - :lon - 360"
    " WHEN r.longitude - :lon < -180 THEN r.longitude - :lon + 360"
    " ELSE r.longitude - :lon END)"
)


class RestaurantSQL(SQLBase):
    async def list_restaurants(self, query: RestaurantQuery) -> tuple[list[dict[str, Any]], int]:
        where: list[str] = []
        params: dict[str, Any] = {}
        expanding: tuple[str, ...] = ()
        if query.cuisines:
            where.append("r.cuisine IN :cuisines")
            params["cuisines"] = query.cuisines
            expanding = ("cuisines",)
        if query.city is not None:
            where.append("lower(r.city) = :city")
            params["city"] = query.city.lower()
        if query.price_min is not None:
            where.append("r.price_level >= :price_min")
            params["price_min"] = query.price_min
        if query.price_max is not None:
            where.append("r.price_level <= :price_max")
            params["price_max"] = query.price_max
        if query.min_rating is not None:
            where.append("r.rating_avg >= :min_rating")
            params["min_rating"] = query.min_rating
        if query.open_minute is not None:
            where.append(
                "r.id IN (SELECT oi.restaurant_id FROM restaurant_opening_intervals oi "
                "WHERE oi.open_minute <= :minute AND oi.close_minute > :minute)"
            )
            params["minute"] = query.open_minute
        if query.q is not None:
            where.append(
                "(lower(r.name) LIKE :pattern ESCAPE '\\' OR lower(r.cuisine) LIKE :pattern "
                "ESCAPE '\\' OR lower(r.city) LIKE :pattern ESCAPE '\\')"
            )
            params["pattern"] = _like_pattern(query.q)
        distance = "0.0"
        if query.near is not None:
            lat, lon = query.near
            scale = KM_PER_DEGREE * math.cos(math.radians(lat))
            params.update(lat=lat, lon=lon, ky=KM_PER_DEGREE, kx=scale)
            # A box around the point lets the (latitude, longitude) index do the coarse cut.
            dlat = query.radius_km / KM_PER_DEGREE
            where.append("r.latitude BETWEEN :lat_lo AND :lat_hi")
            params.update(lat_lo=lat - dlat, lat_hi=lat + dlat)
            dlon = "(r.longitude - :lon)"
            if scale > 1e-9 and query.radius_km / scale < 180.0:
                span = query.radius_km / scale
                low, high = lon - span, lon + span
                ranges = [(low, high)]
                if low < -180.0:  # the box crosses the 180th meridian: a range on each side
                    ranges = [(low + 360.0, 180.0), (-180.0, high)]
                elif high > 180.0:
                    ranges = [(low, 180.0), (-180.0, high - 360.0)]
                for i, (lo_i, hi_i) in enumerate(ranges):
                    params.update({f"lon_lo{i}": lo_i, f"lon_hi{i}": hi_i})
                where.append(
                    "("
                    + " OR ".join(
                        f"r.longitude BETWEEN :lon_lo{i} AND :lon_hi{i}" for i in range(len(ranges))
                    )
                    + ")"
                )
                if len(ranges) > 1:
                    dlon = _SHORT_WAY
            else:  # near a pole the box is the whole circle
                dlon = _SHORT_WAY
            # Equirectangular with cos(latitude of the query point): arithmetic only, so SQLite
            # needs no math functions; sqrt is taken in Python on the page's rows.
            distance = (
                "((r.latitude - :lat) * :ky * ((r.latitude - :lat) * :ky)"
                f" + {dlon} * :kx * ({dlon} * :kx))"
            )
            where.append(f"{distance} <= :radius2")
            params["radius2"] = query.radius_km**2
        clause = f" WHERE {' AND '.join(where)}" if where else ""

        rows_sql = (
            f"SELECT {RESTAURANT_COLUMNS}, {distance} AS distance2 FROM restaurants r{clause} "
            f"ORDER BY {ORDER_BY[query.sort]} LIMIT :limit OFFSET :offset"
        )
        rows = await self.conn.execute(
            sql(rows_sql, expanding=expanding, columns=RESTAURANT_TYPES),
            params | {"limit": query.limit, "offset": query.offset},
        )
        items = []
        for row in rows.mappings():
            item = restaurant_out(row)
            if query.near is not None:
                item["distance_km"] = round(_distance(query.near, item), 2)
            items.append(item)
        count = await self.conn.execute(
            sql(f"SELECT count(*) FROM restaurants r{clause}", expanding=expanding), params
        )
        return items, int(count.scalar_one())

    async def get_restaurant(self, restaurant_id: int) -> dict[str, Any] | None:
        row = (
            (
                await self.conn.execute(
                    sql(
                        f"SELECT {RESTAURANT_COLUMNS} FROM restaurants r WHERE r.id = :id",
                        columns=RESTAURANT_TYPES,
                    ),
                    {"id": restaurant_id},
                )
            )
            .mappings()
            .first()
        )
        return restaurant_out(row) if row is not None else None

    async def restaurant_exists(self, restaurant_id: int) -> bool:
        row = await self.conn.execute(
            sql("SELECT 1 FROM restaurants WHERE id = :id"), {"id": restaurant_id}
        )
        return row.first() is not None

    async def create_restaurant(self, values: dict[str, Any], now: datetime) -> dict[str, Any]:
        statement = sql(
            "INSERT INTO restaurants (name, cuisine, city, address, latitude, longitude, "
            "price_level, hours, rating_avg, review_count, rating_sum, rating_score, created_at, "
            "updated_at) VALUES (:name, :cuisine, :city, :address, :latitude, :longitude, "
            ":price_level, :hours, 0.0, 0, 0, :prior, :now, :now) "
            f"RETURNING {RESTAURANT_RETURNING}",
            binds={"hours": RESTAURANT_TYPES["hours"], "now": UTC_DATETIME},
            columns=RESTAURANT_TYPES,
        )
        row = await self.conn.execute(statement, values | {"now": now, "prior": PRIOR_MEAN})
        created = row.mappings().one()
        await self._store_intervals(created["id"], values["hours"], replace=False)
        return restaurant_out(created)

    async def update_restaurant(
        self, restaurant_id: int, changes: dict[str, Any], now: datetime
    ) -> dict[str, Any] | None:
        assignments = ", ".join(f"{name} = :{name}" for name in changes)
        assignments = f"{assignments}, updated_at = :now" if assignments else "updated_at = :now"
        statement = sql(
            f"UPDATE restaurants SET {assignments} WHERE id = :id RETURNING {RESTAURANT_RETURNING}",
            binds={"hours": RESTAURANT_TYPES["hours"], "now": UTC_DATETIME}
            if "hours" in changes
            else {"now": UTC_DATETIME},
            columns=RESTAURANT_TYPES,
        )
        result = await self.conn.execute(statement, changes | {"id": restaurant_id, "now": now})
        row = result.mappings().first()
        if row is None:
            return None
        if "hours" in changes:
            await self._store_intervals(restaurant_id, changes["hours"], replace=True)
        return restaurant_out(row)

    async def delete_restaurant(self, restaurant_id: int) -> bool:
        # Reviews and opening intervals go with it (ON DELETE CASCADE).
        result = await self.conn.execute(
            sql("DELETE FROM restaurants WHERE id = :id RETURNING id"), {"id": restaurant_id}
        )
        return result.first() is not None

    async def _store_intervals(
        self, restaurant_id: int, hours: dict[str, list[list[str]]], *, replace: bool
    ) -> None:
        if replace:
            await self.conn.execute(
                sql("DELETE FROM restaurant_opening_intervals WHERE restaurant_id = :id"),
                {"id": restaurant_id},
            )
        rows = [
            {"rid": restaurant_id, "open": start, "close": end}
            for start, end in week_intervals(hours)
        ]
        if rows:
            await self.conn.execute(
                sql(
                    "INSERT INTO restaurant_opening_intervals (restaurant_id, open_minute, "
                    "close_minute) VALUES (:rid, :open, :close)"
                ),
                rows,
            )
