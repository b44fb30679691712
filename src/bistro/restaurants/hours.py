"""Weekly opening hours: validation, the week-minute intervals stored for ``open_now``, and
the "is it open at this moment" test.

The API form is ``{"mon": [["09:00", "22:00"]], ..., "sun": []}``. Close ``"24:00"`` is
allowed; a close earlier than the open means "past midnight" (Sunday's runs into Monday).
For queries each interval becomes rows of minutes counted from Monday 00:00 (0..10080), an
interval past midnight split in two, so "open at minute m" is ``open <= m < close``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import datetime
from typing import Any

DAYS: tuple[str, ...] = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
DAY_MINUTES = 24 * 60
WEEK_MINUTES = 7 * DAY_MINUTES
MAX_INTERVALS_PER_DAY = 6

_HHMM = re.compile(r"^([01][0-9]|2[0-4]):([0-5][0-9])$")  # ASCII digits (\d takes any script's)

Hours = dict[str, list[list[str]]]


class HoursError(ValueError):
    """The hours object is malformed; the message says where."""


# "HH:MM" -> minutes, for the strings seen so far: at most the 1,441 valid ones (a miss is
# parsed and, if valid, remembered). Every detail and list item reads hours, some twice.
_PARSED: dict[str, int] = {}


def _minutes(value: Any, where: str, *, is_close: bool) -> int:
    if not isinstance(value, str):
        raise HoursError(f'{where}: expected an "HH:MM" string')
    minutes = _PARSED.get(value)
    if minutes is None:
        match = _HHMM.match(value)
        if match is None:
            raise HoursError(f'{where}: {value!r} is not "HH:MM"')
        minutes = int(match.group(1)) * 60 + int(match.group(2))
        if minutes <= DAY_MINUTES:
            _PARSED[value] = minutes
    if minutes > DAY_MINUTES or (minutes == DAY_MINUTES and not is_close):
        raise HoursError(f'{where}: {value!r} is out of range ("24:00" only as a close)')
    return minutes


def validate_hours(value: Any) -> Hours:
    """The hours object in its canonical form, or :class:`HoursError`.

    All seven keys ``mon``..``sun`` are required, each a list of ``[open, close]`` pairs.
    """
    if not isinstance(value, Mapping):
        raise HoursError("hours must be an object with the keys mon..sun")
    keys = set(value)
    unknown = sorted(str(k) for k in keys - set(DAYS))
    if unknown:
        raise HoursError(f"hours: unknown day(s) {', '.join(unknown)}; use mon..sun")
    missing = [d for d in DAYS if d not in keys]
    if missing:
        raise HoursError(f"hours: missing day(s) {', '.join(missing)} (use [] when closed)")
    result: Hours = {}
    for day in DAYS:
        pairs = value[day]
        if not isinstance(pairs, list | tuple):
            raise HoursError(f"hours.{day}: expected a list of [open, close] pairs")
        if len(pairs) > MAX_INTERVALS_PER_DAY:
            raise HoursError(f"hours.{day}: at most {MAX_INTERVALS_PER_DAY} intervals")
        clean: list[list[str]] = []
        for i, pair in enumerate(pairs):
            where = f"hours.{day}[{i}]"
            if not isinstance(pair, list | tuple) or len(pair) != 2:
                raise HoursError(f"{where}: expected [open, close]")
            opens = _minutes(pair[0], where, is_close=False)
            closes = _minutes(pair[1], where, is_close=True)
            if opens == closes:
                raise HoursError(f"{where}: open and close are the same time")
            clean.append([pair[0], pair[1]])
        result[day] = clean
    return result


def normalise_hours(value: Any) -> Hours:
    """Stored hours as the API shows them: every day present, in order (missing = closed).

    Rows written around the API (seeds, SQL) are shown as best they can be, never a 500.
    """
    if not isinstance(value, Mapping):
        value = {}
    result: Hours = {}
    for day in DAYS:
        pairs = value.get(day)
        result[day] = [
            [str(p) for p in pair]
            for pair in (pairs if isinstance(pairs, list | tuple) else [])
            if isinstance(pair, list | tuple)
        ]
    return result


def week_intervals(hours: Mapping[str, Any]) -> list[tuple[int, int]]:
    """``(open_minute, close_minute)`` rows for validated hours, sorted, past-midnight split."""
    rows: list[tuple[int, int]] = []
    for index, day in enumerate(DAYS):
        base = index * DAY_MINUTES
        for opens_s, closes_s in hours.get(day) or []:
            opens = _minutes(opens_s, day, is_close=False)
            closes = _minutes(closes_s, day, is_close=True)
            if closes > opens:
                rows.append((base + opens, base + closes))
                continue
            # Past midnight: until the end of this day, then from the next day's 00:00.
            rows.append((base + opens, base + DAY_MINUTES))
            if closes > 0:
                next_base = (base + DAY_MINUTES) % WEEK_MINUTES  # Sunday wraps to Monday
                rows.append((next_base, next_base + closes))
    return sorted(rows)


def week_minute(moment: datetime) -> int:
    """Minutes since Monday 00:00 of ``moment``'s own (local) week."""
    return moment.weekday() * DAY_MINUTES + moment.hour * 60 + moment.minute


def is_open_at(hours: Mapping[str, Any], minute: int) -> bool:
    try:
        intervals = week_intervals(hours)
    except (HoursError, TypeError, ValueError):  # hours written around the API: treat as closed
        return False
    return any(opens <= minute < closes for opens, closes in intervals)
