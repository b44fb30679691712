"""The fast open/closed flip finder agrees with the definition on random weekly schedules."""

from __future__ import annotations

import random

from bistro.restaurants.cache import _flips
from bistro.restaurants.hours import WEEK_MINUTES


def brute_force(intervals: list[tuple[int, int]]) -> set[int]:
    def open_at(m: int) -> bool:
        return any(opens <= m < closes for opens, closes in intervals)

    return {
        b % WEEK_MINUTES
        for interval in intervals
        for b in interval
        if open_at((b - 1) % WEEK_MINUTES) != open_at(b % WEEK_MINUTES)
    }


def test_flips_match_the_definition() -> None:
    rnd = random.Random(5)
    cases: list[list[tuple[int, int]]] = [
        [],
        [(0, WEEK_MINUTES)],
        [(0, 1440), (1440, 2880)],
        [(0, 120), (9960, WEEK_MINUTES)],  # Sunday 22:00 to Monday 02:00
        [(0, 5000), (5000, WEEK_MINUTES)],
    ]
    for _ in range(2000):
        n = rnd.randint(1, 8)
        intervals = []
        for _ in range(n):
            opens = rnd.choice([0, rnd.randrange(WEEK_MINUTES)])
            closes = min(WEEK_MINUTES, opens + rnd.choice([60, 1440, rnd.randint(1, 3000)]))
            intervals.append((opens, closes))
        cases.append(intervals)
    for intervals in cases:
        assert sorted(set(_flips(intervals))) == sorted(brute_force(intervals)), intervals
