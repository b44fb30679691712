"""The statistics counters stay right under any mix of writes, whichever version makes them.

``statistics_counters`` is kept by database triggers (migration 0008_scale): a random mix of
v3 and v4 creates, edits and deletes, including deletes that cascade (a restaurant's or a
user's reviews), and rows written straight to the database, is checked against a full recount
of the tables after every few steps, on SQLite and PostgreSQL.
"""

from __future__ import annotations

import random
from typing import Any

import httpx
from fastapi import FastAPI
from sqlalchemy import text

from tests.support import Factory, UserHandle

RECOUNT = text(
    "SELECT (SELECT count(*) FROM restaurants), (SELECT count(*) FROM users), "
    + ", ".join(f"(SELECT count(*) FROM reviews WHERE rating = {r})" for r in range(1, 6))
)
COUNTERS = text(
    "SELECT coalesce(sum(restaurants), 0), coalesce(sum(users), 0), "
    + ", ".join(f"coalesce(sum(reviews_{r}), 0)" for r in range(1, 6))
    + " FROM statistics_counters"
)


async def figures(app: FastAPI) -> tuple[list[int], list[int]]:
    async with app.state.bistro.db.engine.connect() as conn:
        recount = [int(v) for v in (await conn.execute(RECOUNT)).one()]
        counters = [int(v) for v in (await conn.execute(COUNTERS)).one()]
    return recount, counters


class Mix:
    def __init__(self, client: httpx.AsyncClient, factory: Factory, admin: UserHandle) -> None:
        self.client = client
        self.factory = factory
        self.admin = admin
        self.rng = random.Random(20261203)
        self.users: list[UserHandle] = []
        self.restaurants: list[int] = []
        self.reviews: dict[int, UserHandle] = {}  # review id -> author
        self.steps: dict[str, int] = {}

    def version(self) -> str:
        return self.rng.choice(("/api/v3", "/api/v4"))

    async def call(self, method: str, path: str, who: UserHandle, body: Any = None) -> Any:
        response = await self.client.request(
            method, f"{self.version()}{path}", json=body, headers=who.headers
        )
        assert response.status_code < 500, response.text
        return response

    async def add_user(self) -> None:
        self.users.append(await self.factory.user())

    async def add_restaurant(self) -> None:
        n = len(self.restaurants)
        body = {
            "name": f"Place {n}",
            "cuisine": self.rng.choice(("thai", "italian", "sushi")),
            "city": "Lisbon",
            "address": f"{n} Rua Augusta",
            "latitude": 38.7,
            "longitude": -9.1,
            "price_level": 2,
            "hours": {day: [] for day in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")},
        }
        if self.rng.random() < 0.2:  # straight into the database, as the seed loader does
            self.restaurants.append(int((await self.factory.restaurant(**body))["id"]))
            return
        response = await self.call("POST", "/restaurants", self.admin, body)
        assert response.status_code == 201, response.text
        self.restaurants.append(int(response.json()["data"]["id"]))

    async def add_review(self) -> None:
        author = self.rng.choice(self.users)
        body = {
            "restaurant_id": self.rng.choice(self.restaurants),
            "rating": self.rng.randint(1, 5),
            "text": "Mixed review.",
        }
        response = await self.call("POST", "/reviews", author, body)
        assert response.status_code in (201, 409), response.text
        if response.status_code == 201:
            self.reviews[int(response.json()["data"]["id"])] = author

    async def edit_review(self) -> None:
        review_id = self.rng.choice(list(self.reviews))
        body: dict[str, Any] = {"rating": self.rng.randint(1, 5)}
        if self.rng.random() < 0.3:
            body = {"text": "Only the text changes."}
        response = await self.call("PUT", f"/reviews/{review_id}", self.reviews[review_id], body)
        assert response.status_code == 200, response.text

    async def delete_review(self) -> None:
        review_id = self.rng.choice(list(self.reviews))
        response = await self.call("DELETE", f"/reviews/{review_id}", self.reviews.pop(review_id))
        assert response.status_code == 200, response.text

    async def delete_restaurant(self) -> None:
        restaurant_id = self.restaurants.pop(self.rng.randrange(len(self.restaurants)))
        response = await self.call("DELETE", f"/restaurants/{restaurant_id}", self.admin)
        assert response.status_code == 200, response.text
        await self._forget_cascaded()

    async def delete_user(self) -> None:
        user = self.users.pop(self.rng.randrange(len(self.users)))
        response = await self.call("DELETE", f"/admin/users/{user.id}", self.admin)
        assert response.status_code == 200, response.text
        await self._forget_cascaded()

    async def _forget_cascaded(self) -> None:
        async with self.factory.app.state.bistro.db.engine.connect() as conn:
            alive = {int(r[0]) for r in (await conn.execute(text("SELECT id FROM reviews"))).all()}
        self.reviews = {k: v for k, v in self.reviews.items() if k in alive}

    async def step(self) -> None:
        choices: list[tuple[str, int]] = [("add_user", 2), ("add_restaurant", 2)]
        if self.users and self.restaurants:
            choices.append(("add_review", 12))
        if self.reviews:
            choices += [("edit_review", 5), ("delete_review", 2)]
        if len(self.restaurants) > 3:
            choices.append(("delete_restaurant", 1))
        if len(self.users) > 3:
            choices.append(("delete_user", 1))
        names, weights = zip(*choices, strict=True)
        name = self.rng.choices(names, weights=weights)[0]
        self.steps[name] = self.steps.get(name, 0) + 1
        await getattr(self, name)()


async def test_random_mix_of_v3_and_v4_writes_keeps_the_counters_exact(
    app: FastAPI, client: httpx.AsyncClient, factory: Factory
) -> None:
    admin = await factory.user("admin")
    mix = Mix(client, factory, admin)
    for n in range(1, 241):
        await mix.step()
        if n % 20 == 0:
            recount, counters = await figures(app)
            assert counters == recount, (n, mix.steps)
    recount, counters = await figures(app)
    assert counters == recount
    # The mix did exercise every kind of write, and left something to count.
    assert set(mix.steps) == {
        "add_user",
        "add_restaurant",
        "add_review",
        "edit_review",
        "delete_review",
        "delete_restaurant",
        "delete_user",
    }, mix.steps
    assert sum(recount[2:]) > 20
    # v4 reads the counters; v3 counts the tables: they agree.
    v3 = (await client.get("/api/v3/statistics")).json()["data"]
    v4 = (await client.get("/api/v4/statistics")).json()["data"]
    assert v4 == v3 | v4 and v4["total_reviews"] == sum(recount[2:])


async def test_bulk_deletes_and_truncation_keep_the_counters_exact(
    app: FastAPI, factory: Factory
) -> None:
    users = [await factory.user() for _ in range(3)]
    places = [await factory.restaurant() for _ in range(4)]
    for user in users:
        for place, rating in zip(places, (1, 3, 5, 5), strict=True):
            await factory.review(user, place, rating)
    async with app.state.bistro.db.engine.begin() as conn:
        await conn.execute(text("UPDATE reviews SET rating = 2 WHERE rating = 5"))
        await conn.execute(text("DELETE FROM restaurants WHERE id = :id"), {"id": places[0]["id"]})
    recount, counters = await figures(app)
    assert counters == recount == [3, 3, 0, 6, 3, 0, 0]
    async with app.state.bistro.db.engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            await conn.execute(text("TRUNCATE reviews"))
        else:
            await conn.execute(text("DELETE FROM reviews"))
    recount, counters = await figures(app)
    assert counters == recount == [3, 3, 0, 0, 0, 0, 0]
