"""v3's opening-hours code agrees with v4's on every interval and every minute of the week."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import pytest

from bistro.core.errors import BadRequest
from bistro.legacy import hours as v3
from bistro.legacy import params
from bistro.restaurants import hours as v4


def random_hours(rng: random.Random) -> dict[str, list[list[str]]]:
    def hhmm(minute: int) -> str:
        return f"{minute // 60:02d}:{minute % 60:02d}"

    week: dict[str, list[list[str]]] = {}
    for day in v3.DAYS:
        pairs = []
        for _ in range(rng.randint(0, 3)):
            opens = rng.randrange(0, 24 * 60, 15)
            closes = rng.choice([rng.randrange(0, 24 * 60, 15), 24 * 60])
            if closes != opens:
                pairs.append([hhmm(opens), hhmm(closes)])
        week[day] = pairs
    return week


def test_intervals_and_open_minutes_match_v4() -> None:
    rng = random.Random(3)
    for _ in range(300):
        week = random_hours(rng)
        assert v3.parse_hours(week) == v4.validate_hours(week)
        assert sorted(v3.week_intervals(week)) == v4.week_intervals(week)
        for minute in rng.sample(range(v3.WEEK_MINUTES), 40):
            assert v3.is_open(week, minute) == v4.is_open_at(week, minute)


def test_minute_of_week_uses_the_configured_zone() -> None:
    monday_utc = datetime(2026, 1, 5, 0, 30, tzinfo=UTC)
    assert v3.minute_of_week(monday_utc, "UTC") == 30
    # 00:30 UTC on Monday is still Sunday 19:30 in New York.
    assert v3.minute_of_week(monday_utc, "America/New_York") == 6 * 1440 + 19 * 60 + 30
    moment = monday_utc + timedelta(days=2, hours=5)
    assert v3.minute_of_week(moment, "UTC") == v4.week_minute(moment)


@pytest.mark.parametrize(
    "bad",
    [
        [],
        {"someday": []},
        {"mon": [["9:00", "10:00"]]},
        {"mon": [["24:00", "10:00"]]},
        {"mon": [["10:00", "24:30"]]},
        {"mon": [["10:00", "10:00"]]},
        {"mon": [["10:00"]]},
        {"mon": "10:00-12:00"},
        {"mon": [["10:00", "11:00"]] * 7},
        {"mon": [["0\u00b3:00", "10:00"]]},  # '³' passes str.isdigit() but not int()
        {"mon": [["0\u0663:00", "10:00"]]},  # an Arabic-Indic 3: a digit, not ASCII
    ],
)
def test_malformed_hours_are_refused(bad: object) -> None:
    with pytest.raises(v3.HoursError):
        v3.parse_hours(bad)
    with pytest.raises(v4.HoursError):  # v4 refuses the same (parity)
        v4.validate_hours(bad)


def test_missing_days_are_closed_days() -> None:
    assert v3.parse_hours({"tue": [["10:00", "24:00"]]}) == {
        day: ([["10:00", "24:00"]] if day == "tue" else []) for day in v3.DAYS
    }


@pytest.mark.parametrize(
    ("call", "ok"),
    [
        (lambda: params.as_int("n", "7", 1, 9), 7),
        (lambda: params.as_int("n", " 3 ", 1, 9), 3),
        (lambda: params.as_int("n", "-3", -9, 9), -3),
        (lambda: params.as_float("x", "2.5", 0, 5), 2.5),
        (lambda: params.as_bool("b", "Yes"), True),
        (lambda: params.page(None, None), (20, 0)),
        (lambda: params.choice("s", None, ("a", "b"), "a"), "a"),
    ],
)
def test_params_accept(call: object, ok: object) -> None:
    assert callable(call) and call() == ok


@pytest.mark.parametrize(
    "call",
    [
        lambda: params.as_int("n", "1.5", 1, 9),
        lambda: params.as_int("n", True, 0, 9),
        lambda: params.as_int("n", "10", 1, 9),
        lambda: params.as_int("n", "9" * 40, 1, 9),
        lambda: params.as_int("n", "\u00b3", 1, 9),  # '³': isdigit() says yes, int() says no
        lambda: params.as_int("n", "\u0663", 1, 9),  # an Arabic-Indic 3: not ASCII
        lambda: params.as_int("n", "--5", -9, 9),
        lambda: params.as_int("n", "-", -9, 9),
        lambda: params.as_float("x", "inf", 0, 5),
        lambda: params.as_float("x", "nan", 0, 5),
        lambda: params.as_float("x", "abc", 0, 5),
        lambda: params.as_bool("b", "maybe"),
        lambda: params.as_text("t", 5, 1, 9),
        lambda: params.as_text("t", "   ", 1, 9),
        lambda: params.page("51", None),
        lambda: params.choice("s", "c", ("a", "b"), "a"),
    ],
)
def test_params_refuse_with_400(call: object) -> None:
    assert callable(call)
    with pytest.raises(BadRequest) as caught:
        call()
    assert caught.value.status_code == 400
