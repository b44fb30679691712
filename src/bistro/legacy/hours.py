"""Weekly opening hours as v3 reads, checks and stores them.

The API form is ``{"mon": [["09:00", "22:00"]], ...}``; the database also keeps one row per
interval in minutes from Monday 00:00 (``restaurant_opening_intervals``) so ``open_now`` is an
indexed query. A close before the open means past midnight; such an interval becomes two rows.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
DAY_MINUTES = 24 * 60
WEEK_MINUTES = 7 * DAY_MINUTES
MAX_PER_DAY = 6


class HoursError(ValueError):
    """Opening hours that do not follow the documented form."""


def _minute(value: Any, *, allow_24: bool) -> int:
    if not isinstance(value, str) or len(value) != 5 or value[2] != ":":
        raise HoursError(f"time {value!r} must be 'HH:MM'")
    hh, mm = value[:2], value[3:]
    if not (value.isascii() and hh.isdigit() and mm.isdigit()):  # isdigit() alone takes '³'
        raise HoursError(f"time {value!r} must be 'HH:MM'")
    hour, minute = int(hh), int(mm)
    if value == "24:00" and allow_24:
        return DAY_MINUTES
    if hour > 23 or minute > 59:
        raise HoursError(f"time {value!r} is out of range")
    return hour * 60 + minute


def parse_hours(value: Any) -> dict[str, list[list[str]]]:
    """Check client-sent hours and return them with all seven days present."""
    if not isinstance(value, dict):
        raise HoursError("hours must be an object keyed by day (mon..sun)")
    unknown = sorted(set(value) - set(DAYS))
    if unknown:
        raise HoursError(f"unknown day {unknown[0]!r} in hours (use mon..sun)")
    hours: dict[str, list[list[str]]] = {}
    for day in DAYS:
        intervals = value.get(day) or []
        if not isinstance(intervals, list) or len(intervals) > MAX_PER_DAY:
            raise HoursError(
                f"hours.{day} must be a list of at most {MAX_PER_DAY} [open, close] pairs"
            )
        checked = []
        for pair in intervals:
            if not isinstance(pair, list | tuple) or len(pair) != 2:
                raise HoursError(f"hours.{day} entries must be [open, close] pairs")
            opens, closes = _minute(pair[0], allow_24=False), _minute(pair[1], allow_24=True)
            if opens == closes:
                raise HoursError(f"hours.{day}: an interval cannot open and close at {pair[0]}")
            checked.append([str(pair[0]), str(pair[1])])
        hours[day] = checked
    return hours


def normalise_hours(stored: Any) -> dict[str, list[list[str]]]:
    """Hours as stored, in the API form: every day present, pairs as lists."""
    stored = stored if isinstance(stored, dict) else {}
    return {day: [list(pair) for pair in stored.get(day) or []] for day in DAYS}


def week_intervals(hours: dict[str, list[list[str]]]) -> list[tuple[int, int]]:
    """[open, close) minute ranges of the week; a past-midnight interval is split in two."""
    rows: list[tuple[int, int]] = []
    for index, day in enumerate(DAYS):
        base = index * DAY_MINUTES
        for pair in hours.get(day, []):
            opens, closes = _minute(pair[0], allow_24=False), _minute(pair[1], allow_24=True)
            if closes > opens:
                rows.append((base + opens, base + closes))
                continue
            rows.append((base + opens, base + DAY_MINUTES))
            if closes > 0:
                start = (base + DAY_MINUTES) % WEEK_MINUTES
                rows.append((start, start + closes))
    return rows


def minute_of_week(now: datetime, timezone: str) -> int:
    local = now.astimezone(ZoneInfo(timezone))
    return local.weekday() * DAY_MINUTES + local.hour * 60 + local.minute


def is_open(hours: dict[str, list[list[str]]], minute: int) -> bool:
    return any(start <= minute < end for start, end in week_intervals(hours))
