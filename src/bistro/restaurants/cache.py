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
    """``make_key("restaurant", restaurant_id)``, spelled out: it is built on every detail
    request, hit or miss (a unit test holds the two equal)."""
    return f"restaurant:[[{int(restaurant_id)}],{{}}]"


def list_key(query: RestaurantQuery, page: Page, cursor: str | None = None) -> str:
    """Equal for requests that must get the same body: the city matches case-insensitively and
    the cuisine filter is a set."""
    values: dict[str, Any] = asdict(query)
    values["cuisines"] = sorted(query.cuisines)
    values["city"] = query.city.lower() if query.city is not None else None
    return make_key("restaurants", values, limit=page.limit, offset=page.offset, cursor=cursor)


def seconds_until_next_minute(now: datetime) -> float:
    return 60.0 - now.second - now.microsecond / 1_000_000


def _flips(intervals: list[tuple[int, int]]) -> list[int]:
    """Week minutes where open/closed really flips: the ends of the merged intervals.

    Overlapping or touching intervals merge (Monday 24:00 -> Tuesday 00:00 is no change), also
    across the week's end; a restaurant open all week never flips.
    """
    merged: list[list[int]] = []
    for opens, closes in sorted(intervals):
        if merged and opens <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], closes)
        else:
            merged.append([opens, closes])
    if len(merged) > 1 and merged[0][0] == 0 and merged[-1][1] == WEEK_MINUTES:
        merged[0][0] = merged.pop()[0] - WEEK_MINUTES  # Sunday night runs into Monday
    if len(merged) == 1 and merged[0][1] - merged[0][0] >= WEEK_MINUTES:
        return []
    return [b % WEEK_MINUTES for interval in merged for b in interval]


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

    ahead = [(b - minute) % WEEK_MINUTES or WEEK_MINUTES for b in _flips(intervals)]
    if not ahead:
        return float(WEEK_MINUTES * 60)
    start_of_minute = local.replace(second=0, microsecond=0, tzinfo=None)
    wall = start_of_minute + timedelta(minutes=min(ahead))
    change = wall.replace(tzinfo=tz)
    return max(1.0, (change - now).total_seconds())
