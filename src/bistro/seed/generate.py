"""Deterministic demo data: the same plan and seed always give the same rows.

Every stream draws from its own ``random.Random`` seeded with a string derived from the seed,
so adding a field to one table does not reshuffle the others. Times are relative to a fixed
anchor, never to "now", for the same reason.
"""

from __future__ import annotations

import hashlib
import math
import random
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from itertools import accumulate, product
from typing import Any

from argon2 import Type
from argon2.low_level import hash_secret

from bistro.core.rating import PRIOR_MEAN
from bistro.restaurants.hours import week_intervals
from bistro.seed import banks

SEED_ANCHOR = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)
HISTORY = timedelta(days=3 * 365)
SEED_EMAIL_DOMAIN = "seed.bistro.example"
# Every seeded user signs in with this password (demo data only).
SEED_USER_PASSWORD = "bistro-demo-password"
SCHEDULES = 400
DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")

USER_COLUMNS = ("id", "email", "password_hash", "display_name", "role", "created_at", "updated_at")
RESTAURANT_COLUMNS = (
    "id",
    "name",
    "cuisine",
    "city",
    "address",
    "latitude",
    "longitude",
    "price_level",
    "hours",
    "rating_avg",
    "review_count",
    "rating_sum",
    "rating_score",
    "created_at",
    "updated_at",
)
INTERVAL_COLUMNS = ("restaurant_id", "open_minute", "close_minute")
REVIEW_COLUMNS = ("id", "restaurant_id", "user_id", "rating", "text", "created_at", "updated_at")

Row = tuple[Any, ...]


@dataclass(frozen=True)
class SeedPlan:
    restaurants: int
    reviews: int
    users: int
    seed: int = 42

    def problems(self) -> list[str]:
        found = []
        if self.restaurants < 0 or self.reviews < 0 or self.users < 0:
            found.append("counts must not be negative")
        if self.reviews and (self.restaurants == 0 or self.users == 0):
            found.append("reviews need at least one restaurant and one user")
        elif self.reviews > self.restaurants * self.users:
            found.append(
                f"{self.reviews} reviews cannot fit one review per (user, restaurant): at most "
                f"{self.restaurants * self.users} with {self.users} users and "
                f"{self.restaurants} restaurants"
            )
        return found


def default_users(restaurants: int, reviews: int) -> int:
    """About ten reviews per user, and enough users for the busiest restaurant."""
    return max(50, math.ceil(reviews / 10), math.ceil(reviews / max(restaurants, 1)) * 4)


def seeded_password_hash(seed: int) -> str:
    """argon2id of SEED_USER_PASSWORD with a salt derived from the seed: deterministic rows."""
    salt = hashlib.sha256(f"bistro-seed:{seed}".encode()).digest()[:16]
    return hash_secret(
        SEED_USER_PASSWORD.encode(),
        salt,
        time_cost=2,
        memory_cost=19_456,
        parallelism=1,
        hash_len=32,
        type=Type.ID,
    ).decode()


def _ascii(value: str) -> str:
    return unicodedata.normalize("NFKD", value).encode("ascii", "ignore").decode().lower()


def _hhmm(minutes: int) -> str:
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


def _hours(rnd: random.Random) -> dict[str, list[list[str]]]:
    """A weekly schedule: one of a few real-world shapes, some closed days, later weekends."""
    shape = rnd.choices(
        ("all_day", "split", "late", "breakfast", "evening", "always"),
        weights=(35, 25, 15, 10, 13, 2),
    )[0]
    if shape == "always":
        return {day: [["00:00", "24:00"]] for day in DAYS}
    half = 30
    schedule: dict[str, list[list[str]]] = {}
    closed = set(rnd.sample(range(7), rnd.choices((0, 1, 2), weights=(45, 40, 15))[0]))
    open_at = {
        "all_day": 11 * 60,
        "split": 12 * 60,
        "late": 18 * 60,
        "breakfast": 7 * 60,
        "evening": 17 * 60,
    }[shape] + half * rnd.randint(-1, 1)
    for index, day in enumerate(DAYS):
        if index in closed:
            schedule[day] = []
            continue
        weekend = index in (4, 5)  # Friday and Saturday nights run later
        if shape == "all_day":
            close = 22 * 60 + half * rnd.randint(-2, 1) + (60 if weekend else 0)
            schedule[day] = [[_hhmm(open_at), _hhmm(close)]]
        elif shape == "split":
            schedule[day] = [
                [_hhmm(open_at), "15:00"],
                [_hhmm(19 * 60), _hhmm(23 * 60 + (30 if weekend else 0))],
            ]
        elif shape == "late":  # past midnight: close < open
            close = (2 * 60 if weekend else 60) + half * rnd.randint(0, 2)
            schedule[day] = [[_hhmm(open_at), _hhmm(close)]]
        elif shape == "breakfast":
            schedule[day] = [[_hhmm(open_at), _hhmm(15 * 60 + half * rnd.randint(0, 2))]]
        else:  # evening, to midnight at weekends
            schedule[day] = [[_hhmm(open_at), "24:00" if weekend else "23:00"]]
    return schedule


@dataclass
class _Profile:
    """What reviews need to know about a restaurant."""

    cuisine: int
    city: int
    created: float
    quality: float
    popularity: float


class SeedGenerator:
    """Rows for one plan. Produce users and restaurants before reviews."""

    def __init__(
        self,
        plan: SeedPlan,
        *,
        first_user_id: int = 1,
        first_restaurant_id: int = 1,
        first_review_id: int = 1,
    ) -> None:
        if plan.problems():
            raise ValueError("; ".join(plan.problems()))
        self.plan = plan
        self.first_user_id = first_user_id
        self.first_restaurant_id = first_restaurant_id
        self.first_review_id = first_review_id
        self._profiles: list[_Profile] = []
        # A few hundred distinct weekly schedules, shared by the restaurants (as in real life
        # many places keep the same hours); their intervals are computed once.
        schedules_rnd = self._rng("hours")
        self._schedules = []
        for _ in range(SCHEDULES):
            hours = _hours(schedules_rnd)
            self._schedules.append((hours, week_intervals(hours)))
        self._texts = {
            rating: [
                " ".join(parts)
                for parts in product(
                    banks.OPENERS[rating],
                    banks.DISH_LINES[rating],
                    banks.PLACE_LINES[rating],
                    banks.CLOSERS[rating],
                )
            ]
            for rating in range(1, 6)
        }
        self._anchor = SEED_ANCHOR.timestamp()
        self._history = HISTORY.total_seconds()

    def _rng(self, stream: str) -> random.Random:
        return random.Random(f"bistro:{self.plan.seed}:{stream}")

    def _time(self, seconds: float) -> datetime:
        return datetime.fromtimestamp(round(seconds), tz=UTC)

    def users(self) -> Iterator[Row]:
        rnd = self._rng("users")
        password_hash = seeded_password_hash(self.plan.seed)
        for n in range(self.plan.users):
            first, last = rnd.choice(banks.FIRST_NAMES), rnd.choice(banks.LAST_NAMES)
            created = self._time(self._anchor - rnd.random() * self._history)
            email = f"{_ascii(first)}.{_ascii(last)}.{n + 1}@{SEED_EMAIL_DOMAIN}"
            yield (
                self.first_user_id + n,
                email,
                password_hash,
                f"{first} {last[0]}.",
                "user",
                created,
                created,
            )

    def restaurants(self) -> Iterator[tuple[Row, list[Row]]]:
        """Each restaurant row with its opening-interval rows."""
        rnd = self._rng("restaurants")
        cities = range(len(banks.CITIES))
        city_weights = list(accumulate(city.weight for city in banks.CITIES))
        cuisines = range(len(banks.CUISINES))
        cuisine_weights = list(accumulate(cuisine.weight for cuisine in banks.CUISINES))
        prices, price_weights = (1, 2, 3, 4), list(accumulate((25, 45, 22, 8)))
        self._profiles = []
        for n in range(self.plan.restaurants):
            rid = self.first_restaurant_id + n
            ci = rnd.choices(cities, cum_weights=city_weights)[0]
            ki = rnd.choices(cuisines, cum_weights=cuisine_weights)[0]
            city, cuisine = banks.CITIES[ci], banks.CUISINES[ki]
            prefix, noun = rnd.choice(cuisine.prefixes), rnd.choice(cuisine.nouns)
            name = f"{prefix}{noun}" if prefix.endswith("-") else f"{prefix} {noun}"
            # Scattered around the centre, ~3 km standard deviation.
            lat = min(89.9, max(-89.9, rnd.gauss(city.latitude, 0.027)))
            lon_spread = 0.027 / max(math.cos(math.radians(city.latitude)), 0.1)
            lon = (rnd.gauss(city.longitude, lon_spread) + 180) % 360 - 180
            address = f"{rnd.randint(1, 240)} {rnd.choice(city.streets)}"
            price = rnd.choices(prices, cum_weights=price_weights)[0]
            hours, intervals = self._schedules[int(rnd.random() * SCHEDULES)]
            created = self._anchor - rnd.random() * self._history
            self._profiles.append(
                _Profile(
                    ki,
                    ci,
                    created,
                    quality=rnd.uniform(2.3, 4.8),
                    popularity=rnd.lognormvariate(0.0, 1.0),
                )
            )
            when = self._time(created)
            row = (
                rid,
                name,
                cuisine.slug,
                city.name,
                address,
                round(lat, 6),
                round(lon, 6),
                price,
                hours,
                0.0,
                0,
                0,
                PRIOR_MEAN,
                when,
                when,
            )
            yield row, [(rid, start, end) for start, end in intervals]

    def review_counts(self) -> list[int]:
        """Reviews per restaurant: proportional to popularity, capped by the number of users."""
        total, cap = self.plan.reviews, self.plan.users
        weights = [p.popularity for p in self._profiles]
        scale = total / sum(weights) if weights else 0.0
        counts = [min(cap, int(w * scale)) for w in weights]
        rnd = self._rng("review-counts")
        order = list(range(len(counts)))
        missing = total - sum(counts)
        while missing > 0:
            rnd.shuffle(order)
            for i in order:
                if missing == 0:
                    break
                if counts[i] < cap:
                    counts[i] += 1
                    missing -= 1
        return counts

    def reviews(self) -> Iterator[Row]:
        if self.plan.reviews and len(self._profiles) != self.plan.restaurants:
            raise RuntimeError("generate restaurants before reviews")
        rnd = self._rng("reviews")
        random_, gauss, fromtimestamp = rnd.random, rnd.gauss, datetime.fromtimestamp
        review_id = self.first_review_id
        for index, count in enumerate(self.review_counts()):
            if not count:
                continue
            profile = self._profiles[index]
            cuisine, city = banks.CUISINES[profile.cuisine], banks.CITIES[profile.city].name
            span = max(self._anchor - profile.created, 3600.0)
            dishes = cuisine.dishes
            for user_index in sorted(rnd.sample(range(self.plan.users), count)):
                rating = min(5, max(1, round(gauss(profile.quality, 0.9))))
                texts = self._texts[rating]
                text = texts[int(random_() * len(texts))].format(
                    dish=dishes[int(random_() * len(dishes))], city=city
                )
                created = fromtimestamp(round(profile.created + random_() * span), tz=UTC)
                edited = (
                    created
                    if random_() < 0.9
                    else created + timedelta(days=1 + int(random_() * 30))
                )
                yield (
                    review_id,
                    self.first_restaurant_id + index,
                    self.first_user_id + user_index,
                    rating,
                    text,
                    created,
                    edited,
                )
                review_id += 1
