"""Restaurant cache keys and the TTLs that keep is_open_now and open_now lists right."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from bistro.core.pagination import Page
from bistro.restaurants.cache import (
    detail_key,
    list_key,
    seconds_until_next_minute,
    seconds_until_open_change,
)
from bistro.restaurants.geo import Near
from bistro.restaurants.schemas import RestaurantQuery

WEEK = {d: [] for d in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")}
MONDAY_1030 = datetime(2026, 1, 5, 10, 30, 15, tzinfo=UTC)  # 2026-01-05 is a Monday


def test_keys_differ_by_every_value_and_ignore_case_and_order_where_results_do() -> None:
    page = Page(20, 0)
    base = RestaurantQuery(cuisines=("thai", "sushi"), city="Lisbon")
    assert list_key(base, page) == list_key(
        RestaurantQuery(cuisines=("sushi", "thai"), city="LISBON"), page
    )
    assert list_key(base, page) != list_key(base, Page(20, 20))
    assert list_key(base, Page(20, 40)) != list_key(base, Page(40, 20))
    thai_only = RestaurantQuery(cuisines=("thai",), city="Lisbon")
    assert list_key(base, page) != list_key(thai_only, page)
    near = RestaurantQuery(near=Near(38.7, -9.1, 5))
    assert list_key(near, page) != list_key(RestaurantQuery(near=Near(38.7, -9.1, 6)), page)
    assert list_key(RestaurantQuery(q="tasca"), page) != list_key(RestaurantQuery(), page)
    assert list_key(RestaurantQuery(sort="name"), page) != list_key(RestaurantQuery(), page)
    assert detail_key(1) != detail_key(11)


def test_detail_lives_until_the_next_opening_or_closing() -> None:
    hours = WEEK | {"mon": [["09:00", "11:00"], ["18:00", "02:00"]]}
    # Open now (10:30:15): closes at 11:00.
    assert seconds_until_open_change(hours, MONDAY_1030, UTC) == 29 * 60 + 45
    # 12:00: next change is opening at 18:00.
    noon = MONDAY_1030.replace(hour=12, minute=0, second=0)
    assert seconds_until_open_change(hours, noon, UTC) == 6 * 3600
    # 23:00 Monday: open past midnight until Tuesday 02:00.
    late = MONDAY_1030.replace(hour=23, minute=0, second=0)
    assert seconds_until_open_change(hours, late, UTC) == 3 * 3600
    # Sunday 23:00 with only Monday hours: opens Monday 09:00 (the week wraps).
    sunday = datetime(2026, 1, 11, 23, 0, tzinfo=UTC)
    assert seconds_until_open_change(hours, sunday, UTC) == 10 * 3600
    # Never open: nothing ever changes.
    assert seconds_until_open_change(WEEK, MONDAY_1030, UTC) == 7 * 24 * 3600


def test_detail_ttl_counts_a_daylight_saving_jump() -> None:
    lisbon = ZoneInfo("Europe/Lisbon")  # 2026-03-29 01:00 local -> 02:00 (Sunday)
    hours = WEEK | {"sun": [["03:00", "23:00"]]}
    before = datetime(2026, 3, 29, 0, 30, tzinfo=UTC)  # 00:30 local (UTC+0)
    # Wall clock 00:30 -> 03:00 is 2.5 h, but an hour vanishes: 1.5 h really.
    assert seconds_until_open_change(hours, before, lisbon) == 1.5 * 3600


def test_open_now_lists_live_until_the_next_minute() -> None:
    assert seconds_until_next_minute(MONDAY_1030) == 45.0


def test_detail_key_is_the_generic_key_spelled_out() -> None:
    from bistro.core.cache import make_key

    for restaurant_id in (1, 7, 42, 2**31 - 1):
        assert detail_key(restaurant_id) == make_key("restaurant", restaurant_id)
