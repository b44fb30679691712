"""v4 is a superset of v3: for the same request, every field v3 returns, v4 returns with the
same value (recursively, envelope included). Checked on a deterministic seeded data set, for
every endpoint, with a spread of filters, sorts and pages, on SQLite and PostgreSQL.

The comparison is bistro.parity's (the one parity replay and shadow mode use), with its
known differences (v3's 400 against v4's 422 on bad input, v3's error body); this file keeps
no list of its own. Writes are compared as twins: the same write sent once to each version
(on twin rows) must return the same resource, up to the values that name the twin (its id,
its author...). The only value allowed to differ between two identical calls is a sign-in
token.
"""

from __future__ import annotations

import random
from collections.abc import AsyncIterator, Iterable
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from bistro.core.clock import FakeClock
from bistro.parity.compare import Answer, Json, compare
from bistro.seed import SeedPlan, seed_database
from tests.support import REDIS_URL, Factory, UserHandle, app_client

V3, V4 = "/api/v3", "/api/v4"
# A Wednesday, 12:30 UTC: lunch places are open, late-night ones are not.
START = datetime(2026, 1, 7, 12, 30, tzinfo=UTC)
DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
CUISINES = ("thai", "Italian", "sushi", "Street Food", "mexican", "portuguese")
CITIES = (
    ("Lisbon", 38.72, -9.14),
    ("Porto", 41.15, -8.61),
    ("lisbon", 38.70, -9.16),
    ("Faro", 37.02, -7.93),
)
HOURS_CHOICES: tuple[dict[str, list[list[str]]], ...] = (
    {d: [["09:00", "22:00"]] for d in DAYS},
    {d: [["12:00", "15:00"], ["19:00", "23:30"]] for d in DAYS[:5]},
    {"fri": [["18:00", "02:00"]], "sat": [["18:00", "03:00"]], "sun": [["20:00", "01:00"]]},
    {"wed": [["00:00", "24:00"]], "thu": [["10:00", "14:00"]]},
    {},
)


def assert_superset(v3: Answer, v4: Answer, label: str = "", ignore: Iterable[str] = ()) -> None:
    """Every field of v3's answer is in v4's with the same value and type, by the parity
    comparison core and its known differences (paths in ``ignore`` need only be present:
    ``$.data.id``, ``$.data[*].id``)."""
    result = compare(v3, v4, ignore=frozenset(ignore))
    assert result.matched, f"{label}: " + "; ".join(
        f"{d.path}: v3 {d.v3!r} != v4 {d.v4!r}" for d in result.differences
    )


def answer(response: httpx.Response) -> Answer:
    return Answer(response.status_code, response.json())


class Pair:
    """Sends one request to both versions and compares what comes back."""

    def __init__(self, client: httpx.AsyncClient) -> None:
        self.client = client
        self.compared = 0

    async def same(
        self,
        method: str,
        path: str,
        *,
        params: Any = None,
        headers: dict[str, str] | None = None,
        status: int = 200,
    ) -> Json:
        r3 = await self.client.request(method, V3 + path, params=params, headers=headers)
        r4 = await self.client.request(method, V4 + path, params=params, headers=headers)
        assert r3.status_code == status, (path, params, r3.text)
        assert r4.status_code == status, (path, params, r4.text)
        assert_superset(answer(r3), answer(r4), f"{method} {path} {params}")
        self.compared += 1
        return r3.json()

    async def twin(
        self,
        method: str,
        paths: tuple[str, str],
        bodies: tuple[Json, Json],
        headers: tuple[dict[str, str], dict[str, str]],
        *,
        status: int = 200,
        ignore: Iterable[str] = (),
    ) -> tuple[Json, Json]:
        r3 = await self.client.request(method, V3 + paths[0], json=bodies[0], headers=headers[0])
        r4 = await self.client.request(method, V4 + paths[1], json=bodies[1], headers=headers[1])
        assert r3.status_code == status, (paths, r3.text)
        assert r4.status_code == status, (paths, r4.text)
        assert_superset(answer(r3), answer(r4), f"{method} {paths}", ignore)
        self.compared += 1
        return r3.json(), r4.json()


@pytest.fixture
async def world(
    backend: str, db_url: str
) -> AsyncIterator[tuple[FastAPI, httpx.AsyncClient, FakeClock]]:
    # As the other API tests: v4's cache is L1-only on SQLite, L1 + Redis L2 on PostgreSQL.
    clock = FakeClock(START)
    redis_url = REDIS_URL if backend == "postgres" else None
    async with app_client(db_url, redis_url, clock=clock) as (app, client):
        assert (app.state.bistro.extras["cache"].l2 is not None) == (redis_url is not None)
        yield app, client, clock


def restaurant_body(rng: random.Random, n: int) -> dict[str, Any]:
    city, lat, lon = rng.choice(CITIES)
    return {
        "name": f"{rng.choice(['Casa', 'Bistro', 'Taberna', 'Cantina'])} {n:02d}",
        "cuisine": rng.choice(CUISINES),
        "city": city,
        "address": f"{n} Rua Augusta",
        "latitude": round(lat + rng.uniform(-0.03, 0.03), 5),
        "longitude": round(lon + rng.uniform(-0.03, 0.03), 5),
        "price_level": rng.randint(1, 4),
        "hours": {d: rng.choice(HOURS_CHOICES).get(d, []) for d in DAYS},
    }


async def seed(
    pair: Pair, factory: Factory, clock: FakeClock
) -> tuple[UserHandle, list[UserHandle], list[int], list[int]]:
    """12 twin restaurants (24 rows), 10 users, ~90 reviews half through each version."""
    rng = random.Random(20261130)
    admin = await factory.user("admin")
    users = [await factory.user() for _ in range(10)]
    both = (admin.headers, admin.headers)
    ids: list[int] = []
    for n in range(12):
        body = restaurant_body(rng, n)
        created = await pair.twin(
            "POST",
            ("/restaurants", "/restaurants"),
            (body, body),
            both,
            status=201,
            ignore={"$.data.id"},
        )
        ids += [created[0]["data"]["id"], created[1]["data"]["id"]]
        if n % 3 == 0:
            clock.advance(60)  # some share a created_at (ties go by id), most do not
    reviews: list[int] = []
    for i, user in enumerate(users):
        for rid in rng.sample(ids, 9):
            rating = rng.choices([1, 2, 3, 4, 5], weights=[1, 1, 2, 4, 4])[0]
            version = V3 if (i + rid) % 2 else V4
            r = await pair.client.post(
                f"{version}/reviews",
                headers=user.headers,
                json={"restaurant_id": rid, "rating": rating, "text": f"Visit {i}-{rid}"},
            )
            assert r.status_code == 201, r.text
            reviews.append(r.json()["data"]["id"])
            if rng.random() < 0.5:
                clock.advance(rng.randint(1, 3600))
    return admin, users, ids, reviews


RESTAURANT_PARAMS: list[Any] = [
    {},
    {"sort": "rating"},
    {"sort": "review_count"},
    {"sort": "name"},
    {"sort": "newest"},
    {"limit": 5},
    {"limit": 5, "offset": 5},
    {"limit": 7, "offset": 21},
    {"limit": 50, "sort": "name"},
    {"offset": 1000},
    {"cuisine": "thai"},
    {"cuisine": "thai,sushi", "sort": "name"},
    [("cuisine", "Street Food"), ("cuisine", "italian"), ("sort", "newest")],
    {"city": "lisbon"},
    {"city": "PORTO", "sort": "review_count"},
    {"price_min": 2},
    {"price_max": 2, "sort": "name"},
    {"price_min": 2, "price_max": 3, "limit": 3, "offset": 3},
    {"min_rating": 3.5},
    {"min_rating": 0, "sort": "newest", "limit": 10},
    {"min_rating": 4.2, "cuisine": "thai,italian,sushi"},
    {"open_now": "true"},
    {"open_now": "false", "sort": "name"},
    {"open_now": "true", "city": "Lisbon", "sort": "review_count"},
    {"near": "38.72,-9.14"},
    {"near": "38.72,-9.14", "radius_km": 2, "sort": "distance"},
    {"near": "41.15,-8.61", "radius_km": 500, "sort": "distance", "limit": 50},
    {"near": "38.70,-9.16", "radius_km": 30, "sort": "rating", "price_max": 3},
    {"near": "37.02,-7.93", "radius_km": 10, "sort": "distance", "open_now": "true"},
]
SEARCHES = ["thai", "LIS", "o", "bistro 0", "street", "%", "zzz"]
REVIEW_PARAMS: list[dict[str, Any]] = [
    {},
    {"sort": "rating"},
    {"sort": "newest", "limit": 7, "offset": 14},
    {"min_rating": 4},
    {"min_rating": 2, "sort": "rating", "limit": 50},
    {"offset": 500},
]


async def test_reads_are_a_superset(world: tuple[FastAPI, httpx.AsyncClient, FakeClock]) -> None:
    app, client, clock = world
    pair = Pair(client)
    admin, users, ids, reviews = await seed(pair, Factory(app), clock)

    for moment in (0, 11 * 3600, 2 * 86400 + 15 * 3600):  # Wed 12:30, Wed 23:30, Sat 03:30
        clock.advance(moment)
        for params in RESTAURANT_PARAMS:
            body = await pair.same("GET", "/restaurants", params=params)
            assert body["meta"]["total"] >= len(body["data"])
        for rid in ids:
            await pair.same("GET", f"/restaurants/{rid}")
    for q in SEARCHES:
        for extra in ({}, {"sort": "name", "limit": 3}, {"sort": "newest", "offset": 2}):
            await pair.same("GET", "/restaurants/search", params={"q": q} | extra)
    await pair.same("GET", "/restaurants/search", params={"q": "casa", "cuisine": "thai"})

    for params in REVIEW_PARAMS:
        await pair.same("GET", "/reviews", params=params)
    for rid in ids[::3]:
        await pair.same("GET", "/reviews", params={"restaurant_id": rid, "sort": "rating"})
    for user in users[:4]:
        await pair.same("GET", "/reviews", params={"user_id": user.id, "limit": 3})
    for review_id in reviews[::7]:
        await pair.same("GET", f"/reviews/{review_id}")
    stats = await pair.same("GET", "/statistics")
    assert stats["data"]["total_reviews"] == len(reviews)

    for who in (admin, users[0]):
        await pair.same("GET", "/users/me", headers=who.headers)
    for params in ({}, {"limit": 4, "offset": 4}):
        await pair.same("GET", "/admin/users", params=params, headers=admin.headers)
    await pair.same("GET", f"/admin/users/{users[3].id}", headers=admin.headers)

    # Errors that are not about input validation read the same too.
    await pair.same("GET", "/restaurants/999999", status=404)
    await pair.same("GET", "/reviews/999999", status=404)
    await pair.same("GET", "/admin/users/999999", headers=admin.headers, status=404)
    await pair.same("GET", "/admin/users", headers=users[0].headers, status=403)
    await pair.same("GET", "/users/me", status=401)
    await pair.same("GET", "/users/me", headers={"Authorization": "Bearer nope"}, status=401)
    assert pair.compared > 200


async def test_reads_on_seeded_demo_data_are_a_superset(
    world: tuple[FastAPI, httpx.AsyncClient, FakeClock],
) -> None:
    """The same comparison on the ``bistro seed`` data set (its cities, cuisines, hours and
    aggregates, written by the seed loader rather than through either API)."""
    app, client, clock = world
    report = await seed_database(
        app.state.bistro.db.engine, SeedPlan(restaurants=300, reviews=3000, users=60, seed=11)
    )
    assert report.restaurants == 300
    pair = Pair(client)
    sample = (await pair.same("GET", "/restaurants", params={"sort": "newest", "limit": 50}))[
        "data"
    ]
    first, other = sample[0], sample[17]
    near = f"{first['latitude']},{first['longitude']}"
    matrix: list[Any] = [
        *RESTAURANT_PARAMS[:10],
        {"cuisine": first["cuisine"]},
        {"cuisine": f"{first['cuisine']},{other['cuisine']}", "sort": "review_count"},
        {"city": first["city"].upper(), "sort": "name"},
        {"city": other["city"], "min_rating": 3, "price_max": 3},
        {"min_rating": 4.5, "limit": 50},
        {"open_now": "true", "limit": 50},
        {"near": near, "radius_km": 25, "sort": "distance", "limit": 50},
        {"near": near, "radius_km": 500, "sort": "rating", "cuisine": other["cuisine"]},
    ]
    non_empty = 0
    for moment in (0, 9 * 3600, 3 * 86400 + 2 * 3600):
        clock.advance(moment)
        for params in matrix:
            body = await pair.same("GET", "/restaurants", params=params)
            non_empty += bool(body["data"])
        for item in sample[:12]:
            await pair.same("GET", f"/restaurants/{item['id']}")
    for q in (first["name"][:4], first["city"][:3].lower(), other["cuisine"], "a"):
        for extra in ({}, {"sort": "name", "offset": 3}, {"sort": "review_count", "limit": 50}):
            await pair.same("GET", "/restaurants/search", params={"q": q} | extra)
    for params in REVIEW_PARAMS:
        await pair.same("GET", "/reviews", params=params)
    reviews = await pair.same("GET", "/reviews", params={"restaurant_id": first["id"]})
    for review in reviews["data"][:5]:
        await pair.same("GET", f"/reviews/{review['id']}")
        await pair.same("GET", "/reviews", params={"user_id": review["user_id"]})
    stats = await pair.same("GET", "/statistics")
    assert stats["data"]["total_reviews"] == 3000
    assert pair.compared > 100
    assert non_empty >= len(matrix) * 3 - 6, non_empty  # the filters select real rows


async def test_writes_are_twins(world: tuple[FastAPI, httpx.AsyncClient, FakeClock]) -> None:
    app, client, clock = world
    pair = Pair(client)
    factory = Factory(app)
    admin = await factory.user("admin")
    # Rows made straight in the database (not through an API) come before any cached read.
    ana, bob, cai, dee, fay = [await factory.user() for _ in range(5)]
    rng = random.Random(5)
    body = restaurant_body(rng, 1)
    r3, r4 = await pair.twin(
        "POST",
        ("/restaurants", "/restaurants"),
        (body, body),
        (admin.headers, admin.headers),
        status=201,
        ignore={"$.data.id"},
    )
    one, two = r3["data"]["id"], r4["data"]["id"]

    # Reads after writes through the other version see them (no stale v4 cache entry).
    await pair.same("GET", f"/restaurants/{one}")
    await pair.same("GET", "/restaurants")
    await pair.same("GET", "/statistics")

    # A write through v3 alone is seen by v4's next read: v3 invalidates v4's cache entries.
    await v3_only_writes(pair, admin, fay, one)

    change = {
        "name": "Renamed",
        "hours": {d: [["11:00", "01:00"]] for d in DAYS},
        "price_level": 4,
        "review_count": 99,
    }
    await pair.twin(
        "PUT",
        (f"/restaurants/{one}", f"/restaurants/{two}"),
        (change, change),
        (admin.headers, admin.headers),
        ignore={"$.data.id"},
    )
    ids = ("$.data.id", "$.data.restaurant_id", "$.data.user_id")
    review = {"rating": 4, "text": "  Lovely  ", "user_id": 1, "rating_avg": 1}
    r3, r4 = await pair.twin(
        "POST",
        ("/reviews", "/reviews"),
        ({**review, "restaurant_id": one}, {**review, "restaurant_id": two}),
        (ana.headers, bob.headers),
        status=201,
        ignore=ids,
    )
    a_review, b_review = r3["data"]["id"], r4["data"]["id"]
    await pair.twin(
        "POST",
        ("/reviews", "/reviews"),
        ({**review, "restaurant_id": two}, {**review, "restaurant_id": one}),
        (cai.headers, dee.headers),
        status=201,
        ignore=ids,
    )
    await pair.same("GET", f"/restaurants/{one}")
    await pair.same("GET", "/reviews", params={"restaurant_id": two})
    await pair.same("GET", "/statistics")
    # The duplicate, a stranger's edit and a missing restaurant fail alike.
    dup = {"restaurant_id": one, "rating": 2, "text": "again"}
    await pair.twin(
        "POST", ("/reviews", "/reviews"), (dup, dup), (ana.headers, ana.headers), status=409
    )
    await pair.twin(
        "PUT",
        (f"/reviews/{a_review}", f"/reviews/{a_review}"),
        ({"rating": 1}, {"rating": 1}),
        (bob.headers, bob.headers),
        status=403,
    )
    gone = {"restaurant_id": 999999, "rating": 2, "text": "nowhere"}
    await pair.twin(
        "POST", ("/reviews", "/reviews"), (gone, gone), (ana.headers, ana.headers), status=404
    )

    clock.advance(90)
    edit = {"rating": 2, "text": "Changed my mind"}
    await pair.twin(
        "PUT",
        (f"/reviews/{a_review}", f"/reviews/{b_review}"),
        (edit, edit),
        (ana.headers, bob.headers),
        ignore=ids,
    )
    await pair.same("GET", f"/restaurants/{two}")
    await pair.same("GET", "/reviews", params={"sort": "rating"})
    await pair.twin(
        "DELETE",
        (f"/reviews/{a_review}", f"/reviews/{b_review}"),
        (None, None),
        (ana.headers, admin.headers),
    )
    await pair.same("GET", "/restaurants", params={"sort": "review_count"})
    await pair.same("GET", "/statistics")

    # Accounts: register, sign in, profile, role, deletion. Twin accounts are two rows made at
    # two moments: v4's registration stamps created_at from the wall clock, not the injected
    # one, so it is the one value of a twin account compared for presence only.
    user_twin = {"$.data.id", "$.data.email", "$.data.created_at"}
    login_twin = {
        "$.data.token",
        "$.data.user.id",
        "$.data.user.email",
        "$.data.user.created_at",
    }
    reg = {"password": "s3cret-pass", "display_name": "Eve", "role": "admin"}
    r3, r4 = await pair.twin(
        "POST",
        ("/auth/register", "/auth/register"),
        ({**reg, "email": "eve3@example.com"}, {**reg, "email": "eve4@example.com"}),
        ({}, {}),
        status=201,
        ignore=user_twin,
    )
    eve3, eve4 = r3["data"]["id"], r4["data"]["id"]
    await pair.twin(
        "POST",
        ("/auth/register", "/auth/register"),
        ({**reg, "email": "EVE4@example.com"}, {**reg, "email": "eve3@example.com"}),
        ({}, {}),
        status=409,
    )
    logins = await pair.twin(
        "POST",
        ("/auth/login", "/auth/login"),
        (
            {"email": "eve3@example.com", "password": "s3cret-pass"},
            {"email": "eve4@example.com", "password": "s3cret-pass"},
        ),
        ({}, {}),
        ignore=login_twin,
    )
    tokens = [{"Authorization": f"Bearer {body['data']['token']}"} for body in logins]
    await pair.twin(
        "POST",
        ("/auth/login", "/auth/login"),
        ({"email": "eve3@example.com", "password": "wrong-pass"},) * 2,
        ({}, {}),
        status=401,
    )
    await pair.twin(
        "PUT",
        ("/users/me", "/users/me"),
        ({"display_name": " Eve B "},) * 2,
        (tokens[0], tokens[1]),
        ignore=user_twin,
    )
    await pair.twin(
        "PUT",
        (f"/admin/users/{eve3}", f"/admin/users/{eve4}"),
        ({"role": "admin"},) * 2,
        (admin.headers, admin.headers),
        ignore=user_twin,
    )
    await pair.same("GET", "/users/me", headers=tokens[0], status=401)  # the role change
    fresh = await pair.twin(
        "POST",
        ("/auth/login", "/auth/login"),
        (
            {"email": "eve3@example.com", "password": "s3cret-pass"},
            {"email": "eve4@example.com", "password": "s3cret-pass"},
        ),
        ({}, {}),
        ignore=login_twin,
    )
    heads = [{"Authorization": f"Bearer {body['data']['token']}"} for body in fresh]
    await pair.twin("POST", ("/auth/logout", "/auth/logout"), (None, None), (heads[0], heads[1]))
    await pair.same("GET", "/users/me", headers=heads[1], status=401)
    await pair.twin(
        "DELETE",
        (f"/admin/users/{cai.id}", f"/admin/users/{dee.id}"),
        (None, None),
        (admin.headers, admin.headers),
    )
    await pair.same("GET", f"/restaurants/{one}")
    await pair.same("GET", f"/restaurants/{two}")
    await pair.same("GET", "/statistics")
    await pair.same("GET", "/admin/users", headers=admin.headers)
    await pair.twin(
        "DELETE",
        (f"/restaurants/{one}", f"/restaurants/{two}"),
        (None, None),
        (admin.headers, admin.headers),
    )
    await pair.same("GET", "/restaurants")
    await pair.same("GET", "/statistics")
    await pair.same("GET", "/reviews")


async def v3_only_writes(pair: Pair, admin: UserHandle, user: UserHandle, rid: int) -> None:
    async def reads() -> None:
        await pair.same("GET", f"/restaurants/{rid}")
        await pair.same("GET", "/restaurants", params={"sort": "name"})
        await pair.same("GET", "/reviews", params={"restaurant_id": rid})
        await pair.same("GET", "/statistics")

    await reads()  # fills v4's cache
    client = pair.client
    r = await client.put(f"{V3}/restaurants/{rid}", json={"name": "Only v3"}, headers=admin.headers)
    assert r.status_code == 200
    await reads()
    body = {"restaurant_id": rid, "rating": 1, "text": "v3 only"}
    r = await client.post(f"{V3}/reviews", json=body, headers=user.headers)
    assert r.status_code == 201
    review_id = r.json()["data"]["id"]
    await reads()
    await pair.same("GET", f"/reviews/{review_id}")
    r = await client.put(f"{V3}/reviews/{review_id}", json={"rating": 5}, headers=user.headers)
    assert r.status_code == 200
    await reads()
    await pair.same("GET", f"/reviews/{review_id}")
    r = await client.delete(f"{V3}/reviews/{review_id}", headers=user.headers)
    assert r.status_code == 200
    await reads()
    await pair.same("GET", f"/reviews/{review_id}", status=404)
    r = await client.post(f"{V3}/reviews", json=body, headers=user.headers)
    assert r.status_code == 201
    await reads()
    r = await client.delete(f"{V3}/admin/users/{user.id}", headers=admin.headers)
    assert r.status_code == 200
    await reads()


async def test_bad_input_is_400_in_v3_and_422_in_v4(client: httpx.AsyncClient) -> None:
    """The known difference ``bad_input_refused`` (bistro.parity.known), checked for real."""
    for params in ({"limit": 51}, {"sort": "stars"}, {"min_rating": 9}, {"near": "x"}):
        r3 = await client.get(f"{V3}/restaurants", params=params)
        r4 = await client.get(f"{V4}/restaurants", params=params)
        assert (r3.status_code, r4.status_code) == (400, 422)
        result = compare(answer(r3), answer(r4))
        assert (result.verdict, result.known) == ("match", ("bad_input_refused",)), result
        assert set(r3.json()) == {"success", "error", "status_code"}
        assert {"code", "details"} <= set(r4.json())
