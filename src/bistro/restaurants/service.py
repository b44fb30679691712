"""RestaurantService: list, search, detail (with is_open_now) and admin writes.

It returns plain representations (dicts of JSON-ready values) so callers can serialise them
once, or cache them, without touching the database again.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import tzinfo
from typing import Any, Protocol
from zoneinfo import ZoneInfo

from bistro.core.clock import Clock, SystemClock
from bistro.core.errors import NotFound, ValidationFailed
from bistro.core.totals import Total
from bistro.restaurants import cursor as cursors
from bistro.restaurants.geo import distance_km
from bistro.restaurants.hours import is_open_at, normalise_hours, week_intervals, week_minute
from bistro.restaurants.schemas import RestaurantCreate, RestaurantQuery, RestaurantUpdate


class RestaurantRepo(Protocol):
    async def page(
        self,
        query: RestaurantQuery,
        open_minute: int | None,
        limit: int,
        offset: int,
        key: Sequence[Any] | None = None,
    ) -> tuple[Sequence[Mapping[str, Any]], Total]: ...

    async def get(self, restaurant_id: int) -> Mapping[str, Any] | None: ...

    async def create(
        self, values: Mapping[str, Any], intervals: Sequence[tuple[int, int]]
    ) -> int: ...

    async def update(
        self,
        restaurant_id: int,
        values: Mapping[str, Any],
        intervals: Sequence[tuple[int, int]] | None,
        now: Any,
    ) -> bool: ...

    async def delete(self, restaurant_id: int) -> bool: ...


def restaurant_representation(row: Mapping[str, Any]) -> dict[str, Any]:
    """A restaurant as the API shows it (list items and detail, before detail's extras)."""
    data = {
        "id": row["id"],
        "name": row["name"],
        "cuisine": row["cuisine"],
        "city": row["city"],
        "address": row["address"],
        "latitude": row["latitude"],
        "longitude": row["longitude"],
        "price_level": row["price_level"],
        "hours": normalise_hours(row["hours"]),
        "rating_avg": round(float(row["rating_avg"] or 0.0), 2),
        "review_count": row["review_count"],
        "rating_score": round(float(row["rating_score"]), 4),
        "created_at": row["created_at"],
        "updated_at": row["updated_at"],
    }
    return data


def not_found(restaurant_id: int) -> NotFound:
    return NotFound(f"Restaurant {restaurant_id} not found", code="RESTAURANT_NOT_FOUND")


class RestaurantService:
    def __init__(
        self, repo: RestaurantRepo, clock: Clock | None = None, tz: tzinfo | None = None
    ) -> None:
        self.repo = repo
        self.clock = clock or SystemClock()
        self.tz = tz or ZoneInfo("UTC")

    def week_minute_now(self) -> int:
        """Minutes since Monday 00:00 now, in the service's time zone (BISTRO_TIMEZONE)."""
        return week_minute(self.clock.now().astimezone(self.tz))

    async def list(
        self, query: RestaurantQuery, limit: int, offset: int, cursor: str | None = None
    ) -> tuple[list[dict[str, Any]], Total, str | None]:
        """A page of restaurants, the total, and the cursor of the next page (None at the end).

        ``cursor`` (from a previous page's ``next_cursor``) continues after that page by
        keyset instead of skipping ``offset`` rows; the two do not combine.
        """
        if query.sort == "distance" and query.near is None:
            raise ValidationFailed(
                "sort=distance needs near=lat,lon",
                code="NEAR_REQUIRED",
                details={"fields": [{"field": "near", "message": "required by sort=distance"}]},
            )
        if (
            query.price_min is not None
            and query.price_max is not None
            and query.price_min > query.price_max
        ):
            raise ValidationFailed(
                "price_min must not exceed price_max",
                details={"fields": [{"field": "price_min", "message": "greater than price_max"}]},
            )
        key = None
        if cursor is not None:
            if offset:
                raise ValidationFailed(
                    "cursor and offset do not combine: send one or the other",
                    code="INVALID_CURSOR",
                    details={"fields": [{"field": "offset", "message": "must be 0 with cursor"}]},
                )
            key = cursors.decode(query, cursor)
        open_minute = self.week_minute_now() if query.open_now else None
        rows, total = await self.repo.page(query, open_minute, limit, offset, key)
        next_cursor = cursors.encode(query, rows[-1]) if rows and len(rows) == limit else None
        items = []
        for row in rows:
            item = restaurant_representation(row)
            if query.near is not None:
                item["distance_km"] = round(
                    distance_km(query.near, row["latitude"], row["longitude"]), 2
                )
            items.append(item)
        return items, total, next_cursor

    async def get(self, restaurant_id: int) -> dict[str, Any]:
        row = await self.repo.get(restaurant_id)
        if row is None:
            raise not_found(restaurant_id)
        data = restaurant_representation(row)
        data["is_open_now"] = is_open_at(data["hours"], self.week_minute_now())
        return data

    async def create(self, body: RestaurantCreate) -> dict[str, Any]:
        now = self.clock.now()
        values = body.model_dump()
        values.update(created_at=now, updated_at=now)
        restaurant_id = await self.repo.create(values, week_intervals(body.hours))
        return await self.get(restaurant_id)

    async def update(self, restaurant_id: int, body: RestaurantUpdate) -> dict[str, Any]:
        values = body.model_dump(exclude_none=True)
        intervals = week_intervals(body.hours) if body.hours is not None else None
        if not await self.repo.update(restaurant_id, values, intervals, self.clock.now()):
            raise not_found(restaurant_id)
        return await self.get(restaurant_id)

    async def delete(self, restaurant_id: int) -> None:
        if not await self.repo.delete(restaurant_id):
            raise not_found(restaurant_id)
