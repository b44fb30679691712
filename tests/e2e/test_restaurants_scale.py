"""What keeps a restaurant page's cost flat as the table grows, checked for its answers:
keyset cursors, totals exact up to a limit then estimated, and sort=distance from the
smallest circle that holds the page. On SQLite and PostgreSQL, v4 against v3's answers."""

from __future__ import annotations

import random
from typing import Any

import httpx
import pytest

from bistro.core import totals
from bistro.restaurants import repository
from tests.support import Factory

V3, V4 = "/api/v3", "/api/v4"
CUISINES = ("thai", "sushi", "italian")


async def many(factory: Factory, n: int, *, lat: float = 38.72, lon: float = -9.14) -> None:
    rng = random.Random(n)
    users = [await factory.user() for _ in range(3)]
    for i in range(n):
        place = await factory.restaurant(
            name=f"Place {rng.randint(0, 9)}",  # names repeat: ties broken by id
            cuisine=CUISINES[i % 3],
            latitude=lat + rng.uniform(-0.05, 0.05),
            longitude=(lon + rng.uniform(-0.05, 0.05) + 180) % 360 - 180,
            price_level=1 + i % 4,
        )
        for user in users[: i % 4]:
            await factory.review(user, place, rng.randint(1, 5))


async def ids(client: httpx.AsyncClient, path: str, **params: Any) -> list[int]:
    response = await client.get(path, params=params)
    assert response.status_code == 200, response.text
    return [item["id"] for item in response.json()["data"]]


@pytest.mark.parametrize(
    "params",
    [
        {"sort": "rating"},
        {"sort": "review_count"},
        {"sort": "name"},
        {"sort": "newest"},
        {"sort": "rating", "cuisine": "thai,sushi", "price_max": 3},
        {"sort": "distance", "near": "38.72,-9.14", "radius_km": 4},
    ],
)
async def test_a_cursor_walk_gives_the_offset_pages(
    client: httpx.AsyncClient, factory: Factory, params: dict[str, Any]
) -> None:
    await many(factory, 45)
    everything = await ids(client, f"{V3}/restaurants", limit=50, **params)
    assert len(everything) > 20
    walked: list[int] = []
    cursor = None
    while True:
        extra = {"cursor": cursor} if cursor else {}
        response = await client.get(f"{V4}/restaurants", params={"limit": 7, **params, **extra})
        assert response.status_code == 200, response.text
        body = response.json()
        walked += [item["id"] for item in body["data"]]
        cursor = body["meta"]["next_cursor"]
        assert body["meta"]["total"] == len(everything)
        if cursor is None:
            break
    assert walked == everything


async def test_a_cursor_belongs_to_its_query(client: httpx.AsyncClient, factory: Factory) -> None:
    await many(factory, 12)
    first = (await client.get(f"{V4}/restaurants", params={"limit": 5})).json()
    cursor = first["meta"]["next_cursor"]
    for params in (
        {"cursor": cursor, "sort": "name"},
        {"cursor": cursor, "cuisine": "thai"},
        {"cursor": cursor, "offset": 5},
        {"cursor": "bm90IGpzb24"},
        {"cursor": "%%%"},
        {"cursor": "eyJzIjoicmF0aW5nIn0"},  # {"s":"rating"}: no key
    ):
        response = await client.get(f"{V4}/restaurants", params=params)
        assert response.status_code == 422, (params, response.text)
        assert response.json()["code"] in ("INVALID_CURSOR", "VALIDATION_ERROR")
    search = await client.get(
        f"{V4}/restaurants/search", params={"q": "place", "limit": 5, "cursor": cursor}
    )
    assert search.status_code == 422  # another query (q)


async def test_totals_are_exact_up_to_the_limit_then_estimated(
    client: httpx.AsyncClient, factory: Factory, monkeypatch: pytest.MonkeyPatch
) -> None:
    await many(factory, 30)
    monkeypatch.setattr(totals, "EXACT_TOTAL_LIMIT", 8)
    thai = await client.get(f"{V4}/restaurants", params={"cuisine": "thai", "limit": 3})
    meta = thai.json()["meta"]
    assert meta["total_is_estimate"] is True and meta["total"] >= 9
    small = await client.get(
        f"{V4}/restaurants", params={"cuisine": "thai", "price_max": 1, "limit": 2}
    )
    v3 = await client.get(f"{V3}/restaurants", params={"cuisine": "thai", "price_max": 1})
    assert small.json()["meta"]["total_is_estimate"] is False
    assert small.json()["meta"]["total"] == v3.json()["meta"]["total"] <= 8
    # Deep in an estimated list, the total is never below what the client was shown.
    deep = await client.get(
        f"{V4}/restaurants", params={"cuisine": "thai", "limit": 3, "offset": 6}
    )
    assert deep.json()["meta"]["total"] >= 9
    # No filter: the trigger-kept counter is exact at any size.
    everything = (await client.get(f"{V4}/restaurants", params={"limit": 2})).json()["meta"]
    assert everything == {**everything, "total": 30, "total_is_estimate": False}
    reviews = (await client.get(f"{V4}/reviews", params={"limit": 2})).json()["meta"]
    v3_reviews = (await client.get(f"{V3}/reviews", params={"limit": 2})).json()["meta"]
    assert reviews["total"] == v3_reviews["total"] > 8 and reviews["total_is_estimate"] is False
    some = (await client.get(f"{V4}/reviews", params={"min_rating": 4, "limit": 1})).json()
    v3_some = (await client.get(f"{V3}/reviews", params={"min_rating": 4, "limit": 1})).json()
    assert some["meta"]["total"] == v3_some["meta"]["total"]


@pytest.mark.parametrize("near", ["38.72,-9.14", "38.76,-9.10", "0.0,179.99"])
async def test_distance_pages_from_a_small_circle_match_the_full_sort(
    client: httpx.AsyncClient, factory: Factory, monkeypatch: pytest.MonkeyPatch, near: str
) -> None:
    await many(factory, 40)
    await many(factory, 25, lat=0.0, lon=179.97)  # across the 180th meridian
    monkeypatch.setattr(repository, "RING_SEARCH_FROM", 5)
    for params in (
        {"limit": 5},
        {"limit": 10, "offset": 10},
        {"limit": 3, "open_now": "false", "cuisine": "thai"},
        {"limit": 50},
    ):
        query = {"near": near, "radius_km": 8, "sort": "distance", **params}
        v3 = await client.get(f"{V3}/restaurants", params=query)
        v4 = await client.get(f"{V4}/restaurants", params=query)
        assert v3.status_code == v4.status_code == 200
        assert [i["id"] for i in v4.json()["data"]] == [i["id"] for i in v3.json()["data"]]
        assert v4.json()["data"], query
        assert v4.json()["meta"]["total"] == v3.json()["meta"]["total"]
