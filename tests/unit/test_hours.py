"""Opening hours: validation and the week-minute intervals open_now queries."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest

from bistro.restaurants.geo import Near, distance_km, parse_near
from bistro.restaurants.hours import (
    DAYS,
    HoursError,
    is_open_at,
    normalise_hours,
    validate_hours,
    week_intervals,
    week_minute,
)

CLOSED = {d: [] for d in DAYS}


def hours(**days: list[list[str]]) -> dict[str, list[list[str]]]:
    return CLOSED | days


def test_validate_accepts_canonical_hours() -> None:
    value = hours(mon=[["09:00", "14:00"], ["18:00", "24:00"]], sun=[["22:00", "02:00"]])
    assert validate_hours(value) == value


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ([], "object"),
        ({"mon": []}, "missing day(s) tue"),
        (hours() | {"funday": []}, "unknown day(s) funday"),
        (hours(mon="09:00-10:00"), "list of [open, close]"),  # type: ignore[arg-type]
        (hours(mon=[["09:00"]]), "expected [open, close]"),
        (hours(mon=[["9:00", "10:00"]]), 'is not "HH:MM"'),
        (hours(mon=[["09:60", "10:00"]]), 'is not "HH:MM"'),
        (hours(mon=[["24:00", "10:00"]]), "only as a close"),
        (hours(mon=[["24:30", "10:00"]]), "out of range"),
        (hours(mon=[["10:00", "10:00"]]), "same time"),
        (hours(mon=[[9, 10]]), "string"),  # type: ignore[list-item]
        (hours(mon=[["01:00", "02:00"]] * 7), "at most"),
    ],
)
def test_validate_rejects(value: object, message: str) -> None:
    with pytest.raises(HoursError, match=re.escape(message)):
        validate_hours(value)


def test_week_intervals_split_past_midnight_and_wrap_sunday() -> None:
    value = hours(
        mon=[["09:00", "17:00"]],
        fri=[["20:00", "03:00"]],  # Friday night into Saturday
        sat=[["10:00", "24:00"]],
        sun=[["22:00", "02:00"]],  # Sunday night into Monday: wraps to the week's start
        wed=[["23:00", "00:00"]],  # until midnight: nothing on Thursday
    )
    day = 1440
    assert week_intervals(value) == sorted(
        [
            (9 * 60, 17 * 60),
            (2 * day + 23 * 60, 3 * day),
            (4 * day + 20 * 60, 5 * day),
            (5 * day, 5 * day + 180),
            (5 * day + 600, 6 * day),
            (6 * day + 22 * 60, 7 * day),
            (0, 120),
        ]
    )


def test_is_open_at_and_week_minute() -> None:
    value = hours(sun=[["22:00", "02:00"]], mon=[["09:00", "17:00"]])
    monday_0130 = datetime(2026, 1, 5, 1, 30, tzinfo=UTC)
    assert monday_0130.weekday() == 0
    assert week_minute(monday_0130) == 90
    assert is_open_at(value, 90)
    assert not is_open_at(value, 120)  # close is exclusive
    assert is_open_at(value, 9 * 60)
    assert not is_open_at(value, 17 * 60)
    assert is_open_at(value, 6 * 1440 + 23 * 60)
    # Stored hours written around the API never break detail: treated as closed.
    assert not is_open_at({"mon": [["nonsense"]]}, 10)


def test_normalise_fills_every_day_in_order() -> None:
    assert list(normalise_hours({"tue": [["01:00", "02:00"]]})) == list(DAYS)
    assert normalise_hours(None) == CLOSED


def test_equirectangular_distance_and_box() -> None:
    near = Near(38.7, -9.1, 10.0)
    # One degree of latitude is R*pi/180 km whatever the longitude scale.
    assert distance_km(near, 39.7, -9.1) == pytest.approx(111.195, abs=0.001)
    _, lat_max, ranges = near.bounding_box()
    assert distance_km(near, lat_max, -9.1) == pytest.approx(10.0)
    assert ranges is not None and len(ranges) == 1 and not near.wraps
    assert distance_km(near, 38.7, ranges[0][1]) == pytest.approx(10.0)
    assert Near(90.0, 0.0, 5.0).bounding_box()[2] is None
    assert Near(90.0, 0.0, 5.0).wraps
    assert parse_near(" 38.7 , -9.1") == (38.7, -9.1)
    for bad in ("38.7", "a,b", "91,0", "0,181", "nan,0", "1,2,3"):
        with pytest.raises(ValueError):
            parse_near(bad)


def test_normalise_tolerates_hours_written_around_the_api() -> None:
    assert normalise_hours(["not", "a", "map"]) == CLOSED
    assert normalise_hours({"mon": "09-17", "tue": [["09:00", "17:00"], 5]}) == CLOSED | {
        "tue": [["09:00", "17:00"]]
    }


def test_distances_and_boxes_across_the_180th_meridian() -> None:
    east = Near(-17.0, 179.99, 20.0)
    # 0.03 degrees of longitude apart, the short way round: about 3.2 km at 17 degrees south.
    assert distance_km(east, -17.0, -179.98) == pytest.approx(
        distance_km(east, -17.0, 179.96), rel=1e-9
    )
    assert distance_km(east, -17.0, -179.98) < 3.5
    _, _, ranges = east.bounding_box()
    assert east.wraps and ranges is not None
    (low, top), (bottom, high) = ranges
    assert top == 180.0 and bottom == -180.0 and 179.7 < low < 179.99 and -179.9 < high < -179.7
    west = Near(-17.0, -179.99, 20.0)
    (low, top), (bottom, high) = west.bounding_box()[2] or []
    assert top == 180.0 and bottom == -180.0 and low > 179.7 and high < -179.7
    assert distance_km(west, -17.0, 179.99) == pytest.approx(distance_km(west, -17.0, -179.97))
