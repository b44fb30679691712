"""v3 review routes over HTTP: CRUD, ownership, duplicates and the restaurant aggregate."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx

from tests.support import Factory, UserHandle

V3 = "/api/v3"


async def restaurant(client: httpx.AsyncClient, admin: UserHandle, name: str = "R") -> int:
    body = {
        "name": name,
        "cuisine": "thai",
        "city": "Lisbon",
        "address": "1 Rua",
        "latitude": 38.7,
        "longitude": -9.1,
        "price_level": 2,
    }
    r = await client.post(f"{V3}/restaurants", json=body, headers=admin.headers)
    assert r.status_code == 201, r.text
    return int(r.json()["data"]["id"])


async def post_review(
    client: httpx.AsyncClient, user: UserHandle, rid: int, rating: int, text: str = "Good"
) -> httpx.Response:
    return await client.post(
        f"{V3}/reviews",
        headers=user.headers,
        json={"restaurant_id": rid, "rating": rating, "text": text},
    )


async def aggregate(client: httpx.AsyncClient, rid: int) -> tuple[int, float]:
    data = (await client.get(f"{V3}/restaurants/{rid}")).json()["data"]
    return data["review_count"], data["rating_avg"]


async def test_review_lifecycle_keeps_the_aggregate(
    client: httpx.AsyncClient, factory: Factory
) -> None:
    admin, ana, bob = await factory.user("admin"), await factory.user(), await factory.user()
    rid = await restaurant(client, admin)

    r = await post_review(client, ana, rid, 5, "Great")
    assert r.status_code == 201, r.text
    review = r.json()["data"]
    assert set(review) == {
        "id",
        "restaurant_id",
        "user_id",
        "rating",
        "text",
        "created_at",
        "updated_at",
    }
    assert (review["user_id"], review["restaurant_id"], review["rating"]) == (ana.id, rid, 5)
    assert (await post_review(client, bob, rid, 2)).status_code == 201
    assert await aggregate(client, rid) == (2, 3.5)

    r = await client.get(f"{V3}/reviews/{review['id']}")
    assert r.status_code == 200 and r.json()["data"] == review

    r = await client.put(
        f"{V3}/reviews/{review['id']}", headers=ana.headers, json={"rating": 4, "user_id": bob.id}
    )
    assert r.status_code == 200, r.text
    assert r.json()["data"]["rating"] == 4 and r.json()["data"]["user_id"] == ana.id
    assert r.json()["data"]["text"] == "Great"
    assert await aggregate(client, rid) == (2, 3.0)

    r = await client.delete(f"{V3}/reviews/{review['id']}", headers=ana.headers)
    assert r.status_code == 200
    assert await aggregate(client, rid) == (1, 2.0)
    assert (await client.get(f"{V3}/reviews/{review['id']}")).status_code == 404


async def test_duplicate_is_409_and_others_are_403(
    client: httpx.AsyncClient, factory: Factory
) -> None:
    admin, ana, bob = await factory.user("admin"), await factory.user(), await factory.user()
    rid = await restaurant(client, admin)
    review = (await post_review(client, ana, rid, 4, "Mine")).json()["data"]

    r = await post_review(client, ana, rid, 1)
    assert r.status_code == 409
    assert r.json() == {
        "success": False,
        "status_code": 409,
        "error": "You have already reviewed this restaurant; edit that review instead",
    }

    r = await client.put(f"{V3}/reviews/{review['id']}", headers=bob.headers, json={"rating": 1})
    assert r.status_code == 403
    assert (
        await client.delete(f"{V3}/reviews/{review['id']}", headers=bob.headers)
    ).status_code == 403
    unchanged = (await client.get(f"{V3}/reviews/{review['id']}")).json()["data"]
    assert unchanged == review
    assert await aggregate(client, rid) == (1, 4.0)

    r = await client.put(f"{V3}/reviews/{review['id']}", headers=admin.headers, json={"text": "Ok"})
    assert r.status_code == 200 and r.json()["data"]["text"] == "Ok"
    assert (
        await client.delete(f"{V3}/reviews/{review['id']}", headers=admin.headers)
    ).status_code == 200
    assert await aggregate(client, rid) == (0, 0.0)


async def test_review_input_errors(client: httpx.AsyncClient, factory: Factory) -> None:
    admin, ana = await factory.user("admin"), await factory.user()
    rid = await restaurant(client, admin)
    good: dict[str, Any] = {"restaurant_id": rid, "rating": 3, "text": "Fine"}
    assert (await client.post(f"{V3}/reviews", json=good)).status_code == 401
    for bad in (
        good | {"rating": 6},
        good | {"rating": 0},
        good | {"rating": True},
        good | {"text": ""},
        good | {"text": "x" * 5001},
        good | {"restaurant_id": "abc"},
        {"rating": 3, "text": "no restaurant"},
    ):
        r = await client.post(f"{V3}/reviews", json=bad, headers=ana.headers)
        assert r.status_code == 400, (bad, r.text)
        assert set(r.json()) == {"success", "error", "status_code"}
    r = await client.post(
        f"{V3}/reviews", json=good | {"restaurant_id": 99999}, headers=ana.headers
    )
    assert r.status_code == 404
    assert (await client.get(f"{V3}/reviews/abc")).status_code == 400
    assert (await client.get(f"{V3}/reviews/99999")).status_code == 404
    assert (
        await client.put(f"{V3}/reviews/99999", json={"rating": 2}, headers=ana.headers)
    ).status_code == 404
    assert (await client.delete(f"{V3}/reviews/99999", headers=ana.headers)).status_code == 404
    r = await client.get(f"{V3}/reviews", headers={"Authorization": "Bearer nope"})
    assert r.status_code == 200  # reads are public; the token is not looked at
    for params in ({"sort": "best"}, {"limit": "100"}, {"min_rating": "6"}, {"user_id": "x"}):
        assert (await client.get(f"{V3}/reviews", params=params)).status_code == 400


async def test_list_filters_sorts_and_pages(client: httpx.AsyncClient, factory: Factory) -> None:
    admin = await factory.user("admin")
    users = [await factory.user() for _ in range(3)]
    r1, r2 = await restaurant(client, admin, "One"), await restaurant(client, admin, "Two")
    made = []
    for user, (rid, rating) in zip(
        users * 2, [(r1, 3), (r1, 5), (r1, 1), (r2, 4), (r2, 2)], strict=False
    ):
        made.append((await post_review(client, user, rid, rating)).json()["data"])

    async def listing(**params: Any) -> dict[str, Any]:
        r = await client.get(f"{V3}/reviews", params=params)
        assert r.status_code == 200, r.text
        body: dict[str, Any] = r.json()
        return body

    newest = await listing()
    assert [x["id"] for x in newest["data"]] == [x["id"] for x in reversed(made)]
    assert newest["meta"] == {"total": 5, "limit": 20, "offset": 0}
    by_rating = await listing(sort="rating", restaurant_id=r1)
    assert [x["rating"] for x in by_rating["data"]] == [5, 3, 1]
    assert [x["id"] for x in (await listing(user_id=users[0].id))["data"]] == [
        made[3]["id"],
        made[0]["id"],
    ]
    assert (await listing(min_rating=4))["meta"]["total"] == 2
    page = await listing(limit=2, offset=4)
    assert page["meta"] == {"total": 5, "limit": 2, "offset": 4}
    assert [x["id"] for x in page["data"]] == [made[0]["id"]]


async def test_concurrent_reviews_keep_exact_aggregate(
    client: httpx.AsyncClient, factory: Factory
) -> None:
    admin = await factory.user("admin")
    rid = await restaurant(client, admin)
    users = [await factory.user() for _ in range(30)]
    ratings = [1 + i % 5 for i in range(30)]
    results = await asyncio.gather(
        *(post_review(client, u, rid, rating) for u, rating in zip(users, ratings, strict=True))
    )
    assert [r.status_code for r in results] == [201] * 30
    assert await aggregate(client, rid) == (30, round(sum(ratings) / 30, 2))
    # Twin posts by one user: exactly one wins.
    twins = await asyncio.gather(*(post_review(client, users[0], rid, 5) for _ in range(5)))
    assert sorted(r.status_code for r in twins) == [409] * 5


async def test_concurrent_writes_through_both_versions_stay_exact(
    client: httpx.AsyncClient, factory: Factory
) -> None:
    """v3 and v4 share the aggregate: mixed concurrent creates, edits and deletes, no lost
    update, no deadlock (a 5xx) between v3's and v4's locking."""
    admin = await factory.user("admin")
    rid = await restaurant(client, admin)
    users = [await factory.user() for _ in range(40)]

    async def post(i: int, user: UserHandle) -> httpx.Response:
        version = V3 if i % 2 else "/api/v4"
        return await client.post(
            f"{version}/reviews",
            headers=user.headers,
            json={"restaurant_id": rid, "rating": 1 + i % 5, "text": "busy"},
        )

    created = await asyncio.gather(*(post(i, u) for i, u in enumerate(users)))
    assert [r.status_code for r in created] == [201] * 40
    reviews = [(u, r.json()["data"]["id"]) for u, r in zip(users, created, strict=True)]

    async def churn(i: int, user: UserHandle, review_id: int) -> httpx.Response:
        version = "/api/v4" if i % 2 else V3
        if i % 3 == 0:
            return await client.delete(f"{version}/reviews/{review_id}", headers=user.headers)
        return await client.put(
            f"{version}/reviews/{review_id}", headers=user.headers, json={"rating": 5}
        )

    changed = await asyncio.gather(*(churn(i, u, rv) for i, (u, rv) in enumerate(reviews)))
    assert [r.status_code for r in changed] == [200] * 40
    remaining = [5 for i in range(40) if i % 3]
    assert await aggregate(client, rid) == (len(remaining), 5.0)
    listed = await client.get(f"{V3}/reviews", params={"restaurant_id": rid, "limit": 50})
    assert listed.json()["meta"]["total"] == len(remaining)
    v4 = (await client.get(f"/api/v4/restaurants/{rid}")).json()["data"]
    assert v4["rating_score"] == round((5 * len(remaining) + 15) / (len(remaining) + 5), 4)
