"""RestaurantService with an in-memory repository: no database."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from bistro.core.clock import FakeClock
from bistro.core.errors import NotFound, ValidationFailed
from bistro.core.totals import Total
from bistro.restaurants.geo import Near
from bistro.restaurants.hours import DAYS
from bistro.restaurants.schemas import RestaurantCreate, RestaurantQuery, RestaurantUpdate
from bistro.restaurants.service import RestaurantService

MONDAY_0930_UTC = datetime(2026, 1, 5, 9, 30, tzinfo=UTC)


class FakeRestaurants:
    def __init__(self) -> None:
        self.rows: dict[int, dict[str, Any]] = {}
        self.intervals: dict[int, list[tuple[int, int]]] = {}
        self.page_calls: list[tuple[RestaurantQuery, int | None, int, int]] = []

    async def page(
        self,
        query: RestaurantQuery,
        open_minute: int | None,
        limit: int,
        offset: int,
        key: Sequence[Any] | None = None,
    ) -> tuple[Sequence[Mapping[str, Any]], Total]:
        self.page_calls.append((query, open_minute, limit, offset))
        rows = sorted(self.rows.values(), key=lambda r: r["id"])
        return rows[offset : offset + limit], Total(len(rows))

    async def get(self, restaurant_id: int) -> Mapping[str, Any] | None:
        return self.rows.get(restaurant_id)

    async def create(self, values: Mapping[str, Any], intervals: Sequence[tuple[int, int]]) -> int:
        new_id = len(self.rows) + 1
        self.rows[new_id] = {
            "id": new_id,
            "rating_avg": 0.0,
            "review_count": 0,
            "rating_score": 3.0,
            **values,
        }
        self.intervals[new_id] = list(intervals)
        return new_id

    async def update(
        self,
        restaurant_id: int,
        values: Mapping[str, Any],
        intervals: Sequence[tuple[int, int]] | None,
        now: Any,
    ) -> bool:
        if restaurant_id not in self.rows:
            return False
        self.rows[restaurant_id].update(values, updated_at=now)
        if intervals is not None:
            self.intervals[restaurant_id] = list(intervals)
        return True

    async def delete(self, restaurant_id: int) -> bool:
        return self.rows.pop(restaurant_id, None) is not None


def body(**changes: Any) -> RestaurantCreate:
    values: dict[str, Any] = {
        "name": "Thai Garden",
        "cuisine": "Thai",
        "city": "Lisbon",
        "address": "1 Rua",
        "latitude": 38.7,
        "longitude": -9.1,
        "price_level": 2,
        "hours": {d: [["09:00", "10:00"]] if d == "mon" else [] for d in DAYS},
    }
    return RestaurantCreate.model_validate(values | changes)


def service(tz: str = "UTC") -> tuple[RestaurantService, FakeRestaurants, FakeClock]:
    repo, clock = FakeRestaurants(), FakeClock(MONDAY_0930_UTC)
    return RestaurantService(repo, clock, ZoneInfo(tz)), repo, clock


async def test_create_stores_intervals_and_detail_says_open_now() -> None:
    svc, repo, clock = service()
    data = await svc.create(body(rating_avg=5.0, review_count=99, id=7))
    assert data["id"] == 1 and data["cuisine"] == "thai"
    assert data["rating_avg"] == 0.0 and data["review_count"] == 0
    assert repo.intervals[1] == [(540, 600)]
    assert data["is_open_now"] is True
    clock.advance(31 * 60)  # 10:01
    assert (await svc.get(1))["is_open_now"] is False


async def test_open_now_uses_the_configured_time_zone() -> None:
    svc, repo, _ = service("Asia/Tokyo")  # 09:30 UTC is 18:30 in Tokyo
    await svc.create(body())
    await svc.list(RestaurantQuery(open_now=True), 20, 0)
    assert repo.page_calls[-1][1] == 18 * 60 + 30
    await svc.list(RestaurantQuery(), 20, 0)
    assert repo.page_calls[-1][1] is None
    assert (await svc.get(1))["is_open_now"] is False


async def test_distance_sort_needs_near_and_items_carry_distance() -> None:
    svc, _, _ = service()
    await svc.create(body())
    with pytest.raises(ValidationFailed) as info:
        await svc.list(RestaurantQuery(sort="distance"), 20, 0)
    assert info.value.code == "NEAR_REQUIRED"
    near = Near(38.7, -9.0, 50)
    items, total, next_cursor = await svc.list(RestaurantQuery(near=near, sort="distance"), 20, 0)
    assert (
        total == Total(1)
        and next_cursor is None
        and items[0]["distance_km"] == pytest.approx(8.68, abs=0.01)
    )
    items, _, _ = await svc.list(RestaurantQuery(), 20, 0)
    assert "distance_km" not in items[0]


async def test_price_range_must_be_ordered() -> None:
    svc, _, _ = service()
    with pytest.raises(ValidationFailed):
        await svc.list(RestaurantQuery(price_min=3, price_max=2), 20, 0)


async def test_update_changes_only_sent_fields_and_missing_is_404() -> None:
    svc, repo, _ = service()
    await svc.create(body())
    data = await svc.update(1, RestaurantUpdate(price_level=4))
    assert data["price_level"] == 4 and data["name"] == "Thai Garden"
    assert repo.intervals[1] == [(540, 600)]
    hours = {d: [["20:00", "01:00"]] if d == "sun" else [] for d in DAYS}
    await svc.update(1, RestaurantUpdate.model_validate({"hours": hours}))
    assert repo.intervals[1] == [(0, 60), (6 * 1440 + 1200, 7 * 1440)]
    with pytest.raises(NotFound):
        await svc.update(2, RestaurantUpdate(name="x"))
    await svc.delete(1)
    with pytest.raises(NotFound):
        await svc.get(1)
    with pytest.raises(NotFound):
        await svc.delete(1)
