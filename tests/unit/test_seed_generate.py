"""The seed generator: deterministic, realistic, and one review per (user, restaurant)."""

from __future__ import annotations

import math
from collections import Counter

from bistro.restaurants.hours import DAYS, validate_hours, week_intervals
from bistro.seed import SeedGenerator, SeedPlan, default_users
from bistro.seed.banks import CITIES, CUISINES
from bistro.seed.generate import RESTAURANT_COLUMNS, REVIEW_COLUMNS, USER_COLUMNS


def rows(plan: SeedPlan) -> tuple[list, list, list]:
    gen = SeedGenerator(plan)
    users = list(gen.users())
    restaurants = list(gen.restaurants())
    reviews = list(gen.reviews())
    return users, restaurants, reviews


def test_same_seed_same_rows_other_seed_other_rows() -> None:
    plan = SeedPlan(restaurants=60, reviews=400, users=40, seed=7)
    assert rows(plan) == rows(plan)
    other = rows(SeedPlan(restaurants=60, reviews=400, users=40, seed=8))
    assert other[1] != rows(plan)[1]
    assert other[2] != rows(plan)[2]


def test_counts_ids_and_one_review_per_user_and_restaurant() -> None:
    plan = SeedPlan(restaurants=50, reviews=900, users=300, seed=1)
    gen = SeedGenerator(plan, first_user_id=11, first_restaurant_id=101, first_review_id=1001)
    users, restaurants, reviews = list(gen.users()), list(gen.restaurants()), list(gen.reviews())
    assert len(users) == 300 and len(restaurants) == 50 and len(reviews) == 900
    assert [u[0] for u in users] == list(range(11, 311))
    assert [r[0][0] for r in restaurants] == list(range(101, 151))
    assert [r[0] for r in reviews] == list(range(1001, 1901))
    pairs = [(r[2], r[1]) for r in reviews]
    assert len(set(pairs)) == len(pairs)
    assert {r[2] for r in reviews} <= set(range(11, 311))
    assert {r[1] for r in reviews} <= set(range(101, 151))
    # Popularity is skewed: the busiest restaurant has well above the mean.
    per_restaurant = Counter(r[1] for r in reviews)
    assert max(per_restaurant.values()) > 2 * 900 / 50
    assert len(USER_COLUMNS) == len(users[0]) and len(REVIEW_COLUMNS) == len(reviews[0])


def test_dense_plan_fills_every_pair() -> None:
    plan = SeedPlan(restaurants=5, reviews=20, users=4, seed=3)
    _, _, reviews = rows(plan)
    assert sorted((r[1], r[2]) for r in reviews) == [
        (r, u) for r in range(1, 6) for u in range(1, 5)
    ]


def test_restaurants_are_realistic() -> None:
    _, restaurants, reviews = rows(SeedPlan(restaurants=300, reviews=3000, users=300, seed=42))
    slugs = {c.slug for c in CUISINES}
    centres = {c.name: c for c in CITIES}
    past_midnight = closed_days = 0
    for row, intervals in restaurants:
        r = dict(zip(RESTAURANT_COLUMNS, row, strict=True))
        assert r["cuisine"] in slugs and r["cuisine"] == r["cuisine"].lower()
        centre = centres[r["city"]]
        km = math.hypot(
            (r["latitude"] - centre.latitude) * 111.2,
            (r["longitude"] - centre.longitude) * 111.2 * math.cos(math.radians(centre.latitude)),
        )
        assert km < 25, (r["name"], r["city"], km)
        assert r["address"].split(" ", 1)[1] in centre.streets
        assert 1 <= r["price_level"] <= 4
        assert validate_hours(r["hours"]) == r["hours"]
        assert list(r["hours"]) == list(DAYS)
        assert [(o, c) for _, o, c in intervals] == week_intervals(r["hours"])
        past_midnight += any(p[1] < p[0] for pairs in r["hours"].values() for p in pairs)
        closed_days += sum(1 for pairs in r["hours"].values() if not pairs)
        assert r["review_count"] == 0 and r["rating_avg"] == 0.0  # aggregates come from SQL
    assert past_midnight > 10 and closed_days > 50
    assert all(1 <= r[3] <= 5 and 20 < len(r[4]) < 5000 for r in reviews)
    assert len({r[4] for r in reviews}) > 500  # texts vary


def test_plan_problems_and_default_users() -> None:
    assert SeedPlan(10, 100, 5).problems() == [
        "100 reviews cannot fit one review per (user, restaurant): at most 50 with 5 users "
        "and 10 restaurants"
    ]
    assert SeedPlan(0, 1, 5).problems() == ["reviews need at least one restaurant and one user"]
    assert SeedPlan(10, 0, 0).problems() == []
    for restaurants, reviews in ((500, 5000), (10, 5000), (100_000, 1_000_000)):
        users = default_users(restaurants, reviews)
        assert SeedPlan(restaurants, reviews, users).problems() == []
