"""v4 review routes over HTTP (ASGI), on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import select

from bistro.core.clock import FakeClock
from bistro.restaurants.models import Restaurant
from bistro.reviews.models import Review
from tests.support import Factory, app_client

V4 = "/api/v4"
T0 = datetime(2026, 1, 1, tzinfo=UTC)


async def aggregate(app: FastAPI, restaurant_id: int) -> tuple[int, int, float, float]:
    async with app.state.bistro.db.unit_of_work() as session:
        row = (
            await session.execute(
                select(
                    Restaurant.review_count,
                    Restaurant.rating_sum,
                    Restaurant.rating_avg,
                    Restaurant.rating_score,
                ).where(Restaurant.id == restaurant_id)
            )
        ).one()
    return int(row[0]), int(row[1]), float(row[2]), float(row[3])


async def review_row(app: FastAPI, review_id: int) -> tuple[int, str] | None:
    async with app.state.bistro.db.unit_of_work() as session:
        row = (
            await session.execute(select(Review.rating, Review.text).where(Review.id == review_id))
        ).one_or_none()
    return None if row is None else (int(row[0]), str(row[1]))


async def test_create_get_and_aggregate(
    client: httpx.AsyncClient, factory: Factory, app: FastAPI
) -> None:
    ana = await factory.user()
    rest = await factory.restaurant()
    body = {
        "restaurant_id": rest["id"],
        "rating": 4,
        "text": "  Great curry  ",
        # Mass assignment: none of these may land.
        "user_id": 999,
        "id": 555,
        "rating_avg": 1.0,
        "created_at": "2000-01-01T00:00:00Z",
    }
    assert (await client.post(f"{V4}/reviews", json=body)).status_code == 401
    r = await client.post(f"{V4}/reviews", json=body, headers=ana.headers)
    assert r.status_code == 201, r.text
    data = r.json()["data"]
    assert set(data) == {
        "id",
        "restaurant_id",
        "user_id",
        "rating",
        "text",
        "created_at",
        "updated_at",
    }
    assert data["user_id"] == ana.id and data["id"] != 555 and data["text"] == "Great curry"
    assert not data["created_at"].startswith("2000")
    assert await aggregate(app, rest["id"]) == (1, 4, 4.0, pytest.approx((4 + 15) / 6))

    r = await client.get(f"{V4}/reviews/{data['id']}")
    assert r.status_code == 200 and r.json()["data"] == data
    detail = (await client.get(f"{V4}/restaurants/{rest['id']}")).json()["data"]
    assert detail["rating_avg"] == 4.0 and detail["review_count"] == 1

    r = await client.post(f"{V4}/reviews", json=body, headers=ana.headers)
    assert r.status_code == 409 and r.json()["code"] == "DUPLICATE_REVIEW"
    assert await aggregate(app, rest["id"]) == (1, 4, 4.0, pytest.approx(19 / 6))


async def test_create_validation_and_missing_restaurant(
    client: httpx.AsyncClient, factory: Factory
) -> None:
    ana = await factory.user()
    rest = await factory.restaurant()
    good = {"restaurant_id": rest["id"], "rating": 3, "text": "ok"}
    bad_bodies = [
        good | {"rating": 0},
        good | {"rating": 6},
        good | {"rating": "5"},
        good | {"rating": 4.5},
        good | {"text": ""},
        good | {"text": "   "},
        good | {"text": "x" * 5001},
        good | {"restaurant_id": 0},
        good | {"restaurant_id": 2**31},
        {"rating": 3, "text": "x"},
    ]
    for bad in bad_bodies:
        r = await client.post(f"{V4}/reviews", json=bad, headers=ana.headers)
        assert r.status_code == 422, bad
        assert r.json()["code"] == "VALIDATION_ERROR"
    missing = good | {"restaurant_id": 99999}
    r = await client.post(f"{V4}/reviews", json=missing, headers=ana.headers)
    assert r.status_code == 404 and r.json()["code"] == "RESTAURANT_NOT_FOUND"
    r = await client.post(f"{V4}/reviews", json=good | {"text": "x" * 5000}, headers=ana.headers)
    assert r.status_code == 201


async def test_only_author_or_admin_may_change(
    client: httpx.AsyncClient, factory: Factory, app: FastAPI
) -> None:
    ana, bob, admin = await factory.user(), await factory.user(), await factory.user("admin")
    rest = await factory.restaurant()
    review = await factory.review(ana, rest, 2, text="original")
    url = f"{V4}/reviews/{review['id']}"

    r = await client.put(url, json={"rating": 5, "text": "hacked"}, headers=bob.headers)
    assert r.status_code == 403 and r.json()["code"] == "NOT_REVIEW_AUTHOR"
    r = await client.delete(url, headers=bob.headers)
    assert r.status_code == 403
    assert await review_row(app, review["id"]) == (2, "original")
    assert await aggregate(app, rest["id"]) == (1, 2, 2.0, pytest.approx(17 / 6))
    assert (await client.put(url, json={"rating": 5})).status_code == 401

    r = await client.put(
        url, json={"rating": 5, "user_id": bob.id, "restaurant_id": 7}, headers=ana.headers
    )
    assert r.status_code == 200, r.text
    data = r.json()["data"]
    assert data["rating"] == 5 and data["text"] == "original" and data["user_id"] == ana.id
    assert data["restaurant_id"] == rest["id"]
    assert await aggregate(app, rest["id"]) == (1, 5, 5.0, pytest.approx(20 / 6))

    r = await client.put(url, json={"text": "moderated"}, headers=admin.headers)
    assert r.status_code == 200 and r.json()["data"]["user_id"] == ana.id
    assert await review_row(app, review["id"]) == (5, "moderated")

    for bad in ({}, {"rating": 9}, {"text": ""}, {"text": "x" * 5001}):
        assert (await client.put(url, json=bad, headers=ana.headers)).status_code == 422, bad
    assert (
        await client.put(f"{V4}/reviews/99999", json={"rating": 1}, headers=ana.headers)
    ).status_code == 404

    r = await client.delete(url, headers=ana.headers)
    assert r.status_code == 200 and r.json()["data"] is None
    assert await review_row(app, review["id"]) is None
    assert await aggregate(app, rest["id"]) == (0, 0, 0.0, 3.0)
    assert (await client.get(url)).status_code == 404
    assert (await client.delete(url, headers=ana.headers)).status_code == 404

    other = await factory.review(bob, rest, 1)
    r = await client.delete(f"{V4}/reviews/{other['id']}", headers=admin.headers)
    assert r.status_code == 200
    assert await aggregate(app, rest["id"]) == (0, 0, 0.0, 3.0)


async def test_bad_review_ids_and_list_params(client: httpx.AsyncClient) -> None:
    for bad in ("0", "-3", "abc", str(2**31)):
        assert (await client.get(f"{V4}/reviews/{bad}")).status_code == 422, bad
    for params in (
        {"limit": 51},
        {"sort": "oldest"},
        {"min_rating": 0},
        {"min_rating": 6},
        {"restaurant_id": 0},
        {"user_id": "me"},
        {"offset": -1},
    ):
        r = await client.get(f"{V4}/reviews", params=params)
        assert r.status_code == 422, params
        assert r.json()["success"] is False and r.json()["code"] == "VALIDATION_ERROR"


async def test_list_filters_and_sorts(client: httpx.AsyncClient, factory: Factory) -> None:
    ana, bob = await factory.user(), await factory.user()
    r1, r2 = await factory.restaurant(), await factory.restaurant()
    a = await factory.review(ana, r1, 3, created_at=T0)
    b = await factory.review(bob, r1, 5, created_at=T0 + timedelta(hours=1))
    c = await factory.review(ana, r2, 5, created_at=T0 + timedelta(hours=2))
    d = await factory.review(bob, r2, 1, created_at=T0 + timedelta(hours=2))

    async def ids(**params: Any) -> list[int]:
        r = await client.get(f"{V4}/reviews", params=params)
        assert r.status_code == 200, r.text
        return [item["id"] for item in r.json()["data"]]

    assert await ids() == [c["id"], d["id"], b["id"], a["id"]]  # newest, ties by id
    assert await ids(sort="rating") == [c["id"], b["id"], a["id"], d["id"]]
    assert await ids(restaurant_id=r1["id"]) == [b["id"], a["id"]]
    assert await ids(user_id=ana.id) == [c["id"], a["id"]]
    assert await ids(min_rating=4) == [c["id"], b["id"]]
    assert await ids(user_id=bob.id, restaurant_id=r2["id"]) == [d["id"]]
    r = await client.get(f"{V4}/reviews", params={"limit": 1, "offset": 1})
    assert [i["id"] for i in r.json()["data"]] == [d["id"]]
    assert r.json()["meta"] == {"total": 4, "limit": 1, "offset": 1, "total_is_estimate": False}


async def test_deleting_a_user_fixes_aggregates(
    client: httpx.AsyncClient, factory: Factory, app: FastAPI
) -> None:
    admin, ana, bob = await factory.user("admin"), await factory.user(), await factory.user()
    r1 = await factory.restaurant()
    r2 = await factory.restaurant()
    r3 = await factory.restaurant()
    await factory.review(ana, r1, 5)
    await factory.review(ana, r2, 1)
    await factory.review(bob, r2, 4)
    await factory.review(bob, r3, 2)

    r = await client.delete(f"{V4}/admin/users/{ana.id}", headers=admin.headers)
    assert r.status_code == 200
    assert await aggregate(app, r1["id"]) == (0, 0, 0.0, 3.0)
    assert await aggregate(app, r2["id"]) == (1, 4, 4.0, pytest.approx(19 / 6))
    assert await aggregate(app, r3["id"]) == (1, 2, 2.0, pytest.approx(17 / 6))
    r = await client.get(f"{V4}/reviews", params={"user_id": ana.id})
    assert r.json()["meta"]["total"] == 0


async def test_no_response_carries_a_password_hash(
    client: httpx.AsyncClient, factory: Factory
) -> None:
    admin, ana = await factory.user("admin"), await factory.user()
    rest = await factory.restaurant()
    await factory.review(ana, rest, 4)
    paths = [
        f"{V4}/restaurants",
        f"{V4}/restaurants/{rest['id']}",
        f"{V4}/reviews",
        f"{V4}/reviews/1",
        f"{V4}/users/me",
        f"{V4}/admin/users",
        f"{V4}/admin/users/{ana.id}",
        f"{V4}/restaurants/search?q=rest",
    ]
    for path in paths:
        r = await client.get(path, headers=admin.headers)
        assert r.status_code == 200, path
        assert "argon2" not in r.text and "password" not in r.text, path
    r = await client.post(
        f"{V4}/reviews",
        json={"restaurant_id": rest["id"], "rating": 5, "text": "x"},
        headers=admin.headers,
    )
    assert r.status_code == 201 and "argon2" not in r.text


@pytest.mark.postgres
async def test_200_concurrent_reviews_keep_the_aggregate_exact(postgres_url: str) -> None:
    async with app_client(postgres_url) as (app, client):
        factory = Factory(app)
        rest = await factory.restaurant()
        users = [await factory.user() for _ in range(200)]
        ratings = [1 + (i * 7) % 5 for i in range(200)]

        async def post(user: Any, rating: int) -> int:
            r = await client.post(
                f"{V4}/reviews",
                json={"restaurant_id": rest["id"], "rating": rating, "text": "concurrent"},
                headers=user.headers,
            )
            return r.status_code

        statuses = await asyncio.gather(*(post(u, x) for u, x in zip(users, ratings, strict=True)))
        assert statuses == [201] * 200
        count, total, avg, score = await aggregate(app, rest["id"])
        assert (count, total) == (200, sum(ratings))
        assert avg == pytest.approx(sum(ratings) / 200, abs=1e-12)
        assert score == pytest.approx((sum(ratings) + 15) / 205, abs=1e-12)
        detail = (await client.get(f"{V4}/restaurants/{rest['id']}")).json()["data"]
        assert detail["review_count"] == 200
        assert detail["rating_avg"] == round(sum(ratings) / 200, 2)


@pytest.mark.postgres
async def test_concurrent_duplicate_reviews_are_one_201_and_409s(postgres_url: str) -> None:
    """No pre-check: the unique constraint decides, and the losers get 409, not 500."""
    async with app_client(postgres_url) as (app, client):
        factory = Factory(app)
        rest = await factory.restaurant()
        ana = await factory.user()
        body = {"restaurant_id": rest["id"], "rating": 4, "text": "twice"}
        responses = await asyncio.gather(
            *(client.post(f"{V4}/reviews", json=body, headers=ana.headers) for _ in range(20))
        )
        statuses = sorted(r.status_code for r in responses)
        assert statuses == [201] + [409] * 19
        assert {r.json()["code"] for r in responses if r.status_code == 409} == {"DUPLICATE_REVIEW"}
        assert (await aggregate(app, rest["id"]))[:2] == (1, 4)


async def test_writes_are_stamped_by_the_app_clock(db_url: str) -> None:
    # Registration, the review and the restaurant's aggregate all take the injected clock.
    moment = datetime(2030, 3, 4, 5, 6, 7, tzinfo=UTC)
    clock = FakeClock(moment)
    async with app_client(db_url, clock=clock) as (app, client):
        restaurant = await Factory(app).restaurant()
        account = {"email": "clock@example.com", "password": "s3cret-pass", "display_name": "C"}
        r = await client.post(f"{V4}/auth/register", json=account)
        assert r.status_code == 201, r.text
        assert r.json()["data"]["created_at"] == "2030-03-04T05:06:07+00:00"
        login = {"email": account["email"], "password": account["password"]}
        r = await client.post(f"{V4}/auth/login", json=login)
        headers = {"Authorization": f"Bearer {r.json()['data']['token']}"}
        clock.advance(60)
        review = {"restaurant_id": restaurant["id"], "rating": 5, "text": "Lovely."}
        r = await client.post(f"{V4}/reviews", json=review, headers=headers)
        assert r.status_code == 201, r.text
        assert r.json()["data"]["created_at"] == "2030-03-04T05:07:07+00:00"
        detail = (await client.get(f"{V4}/restaurants/{restaurant['id']}")).json()["data"]
        assert (detail["review_count"], detail["updated_at"]) == (1, "2030-03-04T05:07:07+00:00")
