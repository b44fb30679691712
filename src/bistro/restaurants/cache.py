"""How v4 caches restaurant reads: keys from the normalised query, and TTLs that respect time.

A detail body carries ``is_open_now``, so it may live only until the restaurant next opens or
closes; a list filtered by ``open_now`` may change at any minute, so it lives until the next
minute starts (opening hours have minute precision). Everything else lives the entity TTL.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict
from datetime import datetime, timedelta, tzinfo
from typing import Any

from bistro.core.cache import make_key
from bistro.core.pagination import Page
from bistro.restaurants.hours import WEEK_MINUTES, HoursError, week_intervals, week_minute
from bistro.restaurants.schemas import RestaurantQuery


def detail_key(restaurant_id: int) -> str:
    return make_key("restaurant", restaurant_id)


def list_key(query: RestaurantQuery, page: Page) -> str:
    """Equal for requests that must get the same body: the city matches case-insensitively and
    the cuisine filter is a set."""
    values: dict[str, Any] = asdict(query)
    values["cuisines"] = sorted(query.cuisines)
    values["city"] = query.city.lower() if query.city is not None else None
    return make_key("restaurants", values, limit=page.limit, offset=page.offset)


def seconds_until_next_minute(now: datetime) -> float:
    return 60.0 - now.second - now.microsecond / 1_000_000


def seconds_until_open_change(hours: Mapping[str, Any], now: datetime, tz: tzinfo) -> float:
    """Seconds until ``is_open_now`` may next flip (an opening or closing time), at least 1.

    Worked out on the local wall clock and converted back, so a daylight-saving jump in
    between is counted right.
    """
    local = now.astimezone(tz)
    try:
        intervals = week_intervals(hours)
    except (HoursError, TypeError, ValueError):
        return float(WEEK_MINUTES * 60)
    minute = week_minute(local)

    def open_at(m: int) -> bool:
        return any(opens <= m < closes for opens, closes in intervals)

    # Only the times where the state really flips (Monday 24:00 -> Tuesday 00:00 does not).
    boundaries = {
        b % WEEK_MINUTES
        for interval in intervals
        for b in interval
        if open_at((b - 1) % WEEK_MINUTES) != open_at(b % WEEK_MINUTES)
    }
    ahead = [(b - minute) % WEEK_MINUTES or WEEK_MINUTES for b in boundaries]
    if not ahead:
        return float(WEEK_MINUTES * 60)
    start_of_minute = local.replace(second=0, microsecond=0, tzinfo=None)
    wall = start_of_minute + timedelta(minutes=min(ahead))
    change = wall.replace(tzinfo=tz)
    return max(1.0, (change - now).total_seconds())
