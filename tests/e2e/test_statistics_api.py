"""GET /api/v4/statistics over HTTP, on SQLite and PostgreSQL."""

from __future__ import annotations

import httpx

from tests.support import Factory

V4 = "/api/v4"


async def test_statistics_empty(client: httpx.AsyncClient) -> None:
    r = await client.get(f"{V4}/statistics")
    assert r.status_code == 200
    assert r.json()["data"] == {
        "total_restaurants": 0,
        "total_reviews": 0,
        "total_users": 0,
        "average_rating": 0.0,
        "rating_histogram": {"1": 0, "2": 0, "3": 0, "4": 0, "5": 0},
        "top_restaurants_by_cuisine": {},
    }


async def test_statistics_counts_histogram_and_top_per_cuisine(
    client: httpx.AsyncClient, factory: Factory
) -> None:
    users = [await factory.user() for _ in range(4)]
    thai = [await factory.restaurant(cuisine="thai", name=f"Thai {i}") for i in range(4)]
    sushi = await factory.restaurant(cuisine="japanese", name="Sushi")
    # thai[0]: one 5 (score 20/6=3.33); thai[1]: 4,4,4,5 (score 32/9=3.56);
    # thai[2]: 1 (score 16/6=2.67); thai[3]: none (3.0); sushi: 3,3 (3.0)
    await factory.review(users[0], thai[0], 5)
    for user, rating in zip(users, (4, 4, 4, 5), strict=True):
        await factory.review(user, thai[1], rating)
    await factory.review(users[0], thai[2], 1)
    await factory.review(users[0], sushi, 3)
    await factory.review(users[1], sushi, 3)

    r = await client.get(f"{V4}/statistics")
    assert r.status_code == 200, r.text
    data = r.json()["data"]
    assert data["total_restaurants"] == 5
    assert data["total_users"] == 4
    assert data["total_reviews"] == 8
    assert data["rating_histogram"] == {"1": 1, "2": 0, "3": 2, "4": 3, "5": 2}
    assert data["average_rating"] == round(29 / 8, 2)
    assert data["top_restaurants_by_cuisine"] == {
        "japanese": [{"id": sushi["id"], "name": "Sushi", "rating_avg": 3.0, "review_count": 2}],
        "thai": [
            {"id": thai[1]["id"], "name": "Thai 1", "rating_avg": 4.25, "review_count": 4},
            {"id": thai[0]["id"], "name": "Thai 0", "rating_avg": 5.0, "review_count": 1},
            {"id": thai[3]["id"], "name": "Thai 3", "rating_avg": 0.0, "review_count": 0},
        ],
    }
    # The same order as the list endpoint's sort=rating.
    listed = await client.get(f"{V4}/restaurants", params={"cuisine": "thai", "limit": 3})
    assert [i["id"] for i in listed.json()["data"]] == [
        t["id"] for t in data["top_restaurants_by_cuisine"]["thai"]
    ]
    spec = (await client.get("/openapi.json")).json()
    assert "/api/v4/statistics" in spec["paths"]
