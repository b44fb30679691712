"""v4 restaurant routes over HTTP (ASGI), on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import select

from bistro.app import create_app
from bistro.core.clock import FakeClock
from bistro.restaurants.hours import DAYS
from bistro.restaurants.models import OpeningInterval
from tests.support import Factory, make_settings, running_app

V4 = "/api/v4"
CLOSED: dict[str, list[list[str]]] = {d: [] for d in DAYS}
T0 = datetime(2026, 1, 1, tzinfo=UTC)


def ids(response: httpx.Response) -> list[int]:
    assert response.status_code == 200, response.text
    return [item["id"] for item in response.json()["data"]]


async def seeded(factory: Factory) -> list[dict[str, Any]]:
    """Five restaurants with known values (ids 1..5 in this order)."""
    specs = [
        dict(
            name="Bangkok Nights",
            cuisine="thai",
            city="Lisbon",
            price_level=2,
            rating_avg=4.5,
            review_count=2,
            rating_sum=9,
            rating_score=24 / 7,
            latitude=38.7100,
            longitude=-9.1400,
            created_at=T0,
        ),
        dict(
            name="Sushi Zen",
            cuisine="japanese",
            city="Porto",
            price_level=4,
            rating_avg=4.0,
            review_count=40,
            rating_sum=160,
            rating_score=175 / 45,
            latitude=41.1500,
            longitude=-8.6100,
            created_at=T0 + timedelta(days=3),
        ),
        dict(
            name="Curry 100% House",
            cuisine="indian",
            city="lisbon",
            price_level=1,
            rating_avg=5.0,
            review_count=1,
            rating_sum=5,
            rating_score=20 / 6,
            latitude=38.7200,
            longitude=-9.1400,
            created_at=T0 + timedelta(days=1),
        ),
        dict(
            name="Alfama Tasca",
            cuisine="portuguese",
            city="Lisbon",
            price_level=2,
            rating_avg=0.0,
            review_count=0,
            rating_sum=0,
            rating_score=3.0,
            latitude=38.7100,
            longitude=-9.0000,
            created_at=T0 + timedelta(days=2),
        ),
        dict(
            name="Thai Palace",
            cuisine="thai",
            city="Lisbon",
            price_level=3,
            rating_avg=4.0,
            review_count=40,
            rating_sum=160,
            rating_score=175 / 45,
            latitude=38.7150,
            longitude=-9.1400,
            created_at=T0 + timedelta(days=3),
        ),
    ]
    return [await factory.restaurant(**spec) for spec in specs]


async def test_list_shape_default_sort_and_paging(
    client: httpx.AsyncClient, factory: Factory
) -> None:
    await seeded(factory)
    r = await client.get(f"{V4}/restaurants")
    assert r.status_code == 200
    body = r.json()
    assert body["success"] is True
    assert body["meta"] == {
        "total": 5,
        "limit": 20,
        "offset": 0,
        "total_is_estimate": False,
        "next_cursor": None,  # the last page
    }
    # Bayesian score desc, then review_count desc, then id: 2 and 5 tie on both.
    assert [i["id"] for i in body["data"]] == [2, 5, 1, 3, 4]
    first = body["data"][0]
    assert set(first) == {
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
        "rating_score",
        "created_at",
        "updated_at",
    }
    assert first["hours"] == CLOSED
    assert first["created_at"] == "2026-01-04T00:00:00+00:00"

    r = await client.get(f"{V4}/restaurants", params={"limit": 2, "offset": 1})
    assert ids(r) == [5, 1]
    meta = r.json()["meta"]
    assert meta.pop("next_cursor")  # a full page: there may be more
    assert meta == {"total": 5, "limit": 2, "offset": 1, "total_is_estimate": False}
    r = await client.get(f"{V4}/restaurants", params={"limit": 2, "offset": 10})
    assert ids(r) == [] and r.json()["meta"]["total"] == 5


async def test_sorts(client: httpx.AsyncClient, factory: Factory) -> None:
    await seeded(factory)
    get = lambda sort: client.get(f"{V4}/restaurants", params={"sort": sort})  # noqa: E731
    assert ids(await get("review_count")) == [2, 5, 1, 3, 4]
    assert ids(await get("name")) == [4, 1, 3, 2, 5]
    assert ids(await get("newest")) == [2, 5, 4, 3, 1]


async def test_filters(client: httpx.AsyncClient, factory: Factory) -> None:
    await seeded(factory)

    async def only(**params: Any) -> list[int]:
        r = await client.get(f"{V4}/restaurants", params=params)
        assert r.json()["meta"]["total"] == len(r.json()["data"])
        return sorted(ids(r))

    assert await only(cuisine="thai") == [1, 5]
    assert await only(cuisine=["thai", "Indian"]) == [1, 3, 5]
    assert await only(cuisine="thai,japanese") == [1, 2, 5]
    assert await only(city="LISBON") == [1, 3, 4, 5]
    assert await only(city="lisb") == []
    assert await only(price_min=2, price_max=3) == [1, 4, 5]
    assert await only(price_max=1) == [3]
    assert await only(min_rating=4.5) == [1, 3]
    assert await only(cuisine="thai", min_rating=4.2, city="lisbon") == [1]


async def test_near_radius_and_distance_sort(client: httpx.AsyncClient, factory: Factory) -> None:
    await seeded(factory)
    r = await client.get(f"{V4}/restaurants", params={"near": "38.71,-9.14", "sort": "distance"})
    data = r.json()["data"]
    # Restaurant 4 is 12 km east, 2 is in Porto: both outside the default 5 km.
    assert [i["id"] for i in data] == [1, 5, 3]
    assert [i["distance_km"] for i in data] == [0.0, 0.56, 1.11]
    r = await client.get(
        f"{V4}/restaurants", params={"near": "38.71,-9.14", "radius_km": 20, "sort": "distance"}
    )
    assert ids(r) == [1, 5, 3, 4]
    assert r.json()["data"][-1]["distance_km"] == 12.15
    r = await client.get(f"{V4}/restaurants", params={"near": "38.71,-9.14", "radius_km": 500})
    assert ids(r) == [2, 5, 1, 3, 4]  # default sort stays rating
    r = await client.get(f"{V4}/restaurants", params={"sort": "distance"})
    assert r.status_code == 422 and r.json()["code"] == "NEAR_REQUIRED"


async def test_search(client: httpx.AsyncClient, factory: Factory) -> None:
    await seeded(factory)

    async def search(q: str, **params: Any) -> list[int]:
        return ids(await client.get(f"{V4}/restaurants/search", params={"q": q, **params}))

    assert await search("THAI") == [5, 1]  # name or cuisine, default sort rating
    assert await search("porto") == [2]  # city
    assert await search("SUSHI") == [2]
    assert await search("100%") == [3]  # % is a literal, not a wildcard
    assert await search("_") == []
    assert await search("a", sort="name", limit=2) == [4, 1]
    r = await client.get(f"{V4}/restaurants/search", params={"q": "a", "limit": 2})
    assert r.json()["meta"]["total"] == 5 and r.json()["meta"]["offset"] == 0
    for bad in ({}, {"q": ""}, {"q": "   "}, {"q": "x" * 101}, {"q": "a", "sort": "stars"}):
        r = await client.get(f"{V4}/restaurants/search", params=bad)
        assert r.status_code == 422, bad
        assert r.json()["code"] == "VALIDATION_ERROR"


async def test_near_reaches_across_the_180th_meridian_in_both_versions(
    client: httpx.AsyncClient, factory: Factory
) -> None:
    """Fiji straddles the 180th meridian: 'near' takes longitudes the short way round."""
    east = await factory.restaurant(name="East", latitude=-17.0, longitude=179.97)
    west = await factory.restaurant(name="West", latitude=-17.0, longitude=-179.98)
    await factory.restaurant(name="Far", latitude=-17.0, longitude=178.0)
    for near in ("-17,179.99", "-17,-179.99"):
        seen = {}
        for version in ("v3", "v4"):
            r = await client.get(
                f"/api/{version}/restaurants",
                params={"near": near, "radius_km": "10", "sort": "distance"},
            )
            assert r.status_code == 200, r.text
            seen[version] = [(x["id"], x["distance_km"]) for x in r.json()["data"]]
            assert {x[0] for x in seen[version]} == {east["id"], west["id"]}, (version, near)
            assert all(x[1] < 5 for x in seen[version]), seen  # 0.01 to 0.04 degrees away
        assert seen["v3"] == seen["v4"], near


async def test_search_folds_case_beyond_ascii_like_v3(
    client: httpx.AsyncClient, factory: Factory
) -> None:
    """SQLite's lower() folds ASCII only: v4 lowers the text itself, as v3 does (parity)."""
    cafe = await factory.restaurant(name="Café Atlas")
    await factory.restaurant(name="Thai Garden")
    for q in ("CAFÉ", "café", "Café"):
        for version in ("v3", "v4"):
            r = await client.get(f"/api/{version}/restaurants/search", params={"q": q})
            assert [x["id"] for x in r.json()["data"]] == [cafe["id"]], (version, q)


@pytest.mark.parametrize(
    "params",
    [
        {"limit": 51},
        {"limit": 0},
        {"offset": -1},
        {"sort": "stars"},
        {"price_min": 0},
        {"price_max": 5},
        {"price_min": 3, "price_max": 2},
        {"min_rating": 5.5},
        {"min_rating": "nan"},
        {"near": "38.7"},
        {"near": "x,y"},
        {"near": "91,0"},
        {"near": "38,-9", "radius_km": 501},
        {"near": "38,-9", "radius_km": 0},
        {"city": "x" * 81},
        {"cuisine": "thai;drop"},
        {"cuisine": "x" * 41},
        {"open_now": "maybe"},
        {"limit": "ten"},
    ],
)
async def test_bad_list_parameters_are_422(
    client: httpx.AsyncClient, params: dict[str, Any]
) -> None:
    r = await client.get(f"{V4}/restaurants", params=params)
    assert r.status_code == 422, r.text
    body = r.json()
    assert body["success"] is False and body["status_code"] == 422
    assert body["code"] in ("VALIDATION_ERROR", "NEAR_REQUIRED") and body["details"]["fields"]


async def test_detail_and_bad_ids(client: httpx.AsyncClient, factory: Factory) -> None:
    (first, *_) = await seeded(factory)
    r = await client.get(f"{V4}/restaurants/{first['id']}")
    assert r.status_code == 200
    data = r.json()["data"]
    assert data["name"] == "Bangkok Nights" and data["is_open_now"] is False
    assert data["rating_avg"] == 4.5 and data["review_count"] == 2
    for bad in ("0", "-1", "abc", str(2**31), "1.5"):
        r = await client.get(f"{V4}/restaurants/{bad}")
        assert r.status_code == 422, bad
    r = await client.get(f"{V4}/restaurants/99999")
    assert r.status_code == 404 and r.json()["code"] == "RESTAURANT_NOT_FOUND"


@pytest.fixture
async def clocked(db_url: str) -> AsyncIterator[tuple[FastAPI, httpx.AsyncClient, FakeClock]]:
    """An app whose clock the test moves, in BISTRO_TIMEZONE=Europe/Lisbon (UTC in winter)."""
    clock = FakeClock(datetime(2026, 1, 5, 10, 0, tzinfo=UTC))  # a Monday
    app = create_app(make_settings(db_url, timezone="Europe/Lisbon"), clock=clock)
    async with running_app(app):
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            yield app, client, clock


async def test_open_now_and_is_open_now(
    clocked: tuple[FastAPI, httpx.AsyncClient, FakeClock],
) -> None:
    app, client, clock = clocked
    factory = Factory(app)
    day = await factory.restaurant(hours=CLOSED | {"mon": [["09:00", "22:00"]]})
    late = await factory.restaurant(hours=CLOSED | {"sun": [["20:00", "02:00"]]})
    await factory.restaurant(hours=CLOSED)

    async def open_ids() -> list[int]:
        return sorted(ids(await client.get(f"{V4}/restaurants", params={"open_now": "true"})))

    assert await open_ids() == [day["id"]]  # Monday 10:00
    assert (await client.get(f"{V4}/restaurants/{day['id']}")).json()["data"]["is_open_now"]
    assert len(ids(await client.get(f"{V4}/restaurants", params={"open_now": "false"}))) == 3
    clock.advance(-9 * 3600)  # Monday 01:00: Sunday's late shift runs past midnight
    assert await open_ids() == [late["id"]]
    r = await client.get(f"{V4}/restaurants/{late['id']}")
    assert r.json()["data"]["is_open_now"] is True
    clock.advance(3600)  # 02:00: closed (close is exclusive)
    assert await open_ids() == []


async def test_admin_create_update_delete(
    client: httpx.AsyncClient, factory: Factory, app: FastAPI
) -> None:
    admin = await factory.user("admin")
    bob = await factory.user()
    body = {
        "name": "  Tasca do Ze ",
        "cuisine": "Portuguese",
        "city": "Lisbon",
        "address": "Rua 1",
        "latitude": 38.7,
        "longitude": -9.1,
        "price_level": 2,
        "hours": CLOSED | {"fri": [["19:00", "01:00"]]},
        # Mass assignment: none of these may land.
        "id": 777,
        "rating_avg": 5.0,
        "review_count": 99,
        "rating_score": 5.0,
        "created_at": "2000-01-01T00:00:00+00:00",
    }
    assert (await client.post(f"{V4}/restaurants", json=body)).status_code == 401
    r = await client.post(f"{V4}/restaurants", json=body, headers=bob.headers)
    assert r.status_code == 403 and r.json()["code"] == "ADMIN_REQUIRED"

    r = await client.post(f"{V4}/restaurants", json=body, headers=admin.headers)
    assert r.status_code == 201, r.text
    data = r.json()["data"]
    rid = data["id"]
    assert rid != 777 and data["name"] == "Tasca do Ze" and data["cuisine"] == "portuguese"
    assert data["rating_avg"] == 0.0 and data["review_count"] == 0 and data["rating_score"] == 3.0
    assert not data["created_at"].startswith("2000")
    assert data["hours"]["fri"] == [["19:00", "01:00"]] and "is_open_now" in data

    async def intervals() -> list[tuple[int, int]]:
        async with app.state.bistro.db.unit_of_work() as session:
            rows = await session.execute(
                select(OpeningInterval.open_minute, OpeningInterval.close_minute)
                .where(OpeningInterval.restaurant_id == rid)
                .order_by(OpeningInterval.open_minute)
            )
            return [tuple(row) for row in rows.all()]

    assert await intervals() == [(4 * 1440 + 1140, 5 * 1440), (5 * 1440, 5 * 1440 + 60)]

    r = await client.put(f"{V4}/restaurants/{rid}", json={"price_level": 3}, headers=bob.headers)
    assert r.status_code == 403
    r = await client.put(
        f"{V4}/restaurants/{rid}",
        json={"price_level": 4, "hours": CLOSED | {"mon": [["08:00", "09:00"]]}, "review_count": 5},
        headers=admin.headers,
    )
    assert r.status_code == 200, r.text
    data = r.json()["data"]
    assert data["price_level"] == 4 and data["name"] == "Tasca do Ze" and data["review_count"] == 0
    assert await intervals() == [(480, 540)]
    r = await client.put(f"{V4}/restaurants/{rid}", json={"name": "Renamed"}, headers=admin.headers)
    assert r.json()["data"]["hours"]["mon"] == [["08:00", "09:00"]]
    assert await intervals() == [(480, 540)]

    bad_bodies = [
        {"price_level": 5},
        {"price_level": "2"},
        {"latitude": 91},
        {"name": ""},
        {"name": "x" * 121},
        {"address": "x" * 201},
        {"cuisine": "??"},
        {"hours": {"mon": []}},
        {"hours": CLOSED | {"mon": [["25:00", "26:00"]]}},
    ]
    for bad in bad_bodies:
        r = await client.put(f"{V4}/restaurants/{rid}", json=bad, headers=admin.headers)
        assert r.status_code == 422, bad
        assert r.json()["code"] == "VALIDATION_ERROR"
    r = await client.post(f"{V4}/restaurants", json={"name": "x"}, headers=admin.headers)
    assert r.status_code == 422
    r = await client.put(f"{V4}/restaurants/99999", json={"name": "x"}, headers=admin.headers)
    assert r.status_code == 404
    r = await client.put(f"{V4}/restaurants/0", json={}, headers=admin.headers)
    assert r.status_code == 422

    assert (await client.delete(f"{V4}/restaurants/{rid}", headers=bob.headers)).status_code == 403
    r = await client.delete(f"{V4}/restaurants/{rid}", headers=admin.headers)
    assert r.status_code == 200 and r.json()["data"] is None
    assert (await client.get(f"{V4}/restaurants/{rid}")).status_code == 404
    assert await intervals() == []
    r = await client.delete(f"{V4}/restaurants/{rid}", headers=admin.headers)
    assert r.status_code == 404


async def test_openapi_documents_restaurant_routes(client: httpx.AsyncClient) -> None:
    spec = (await client.get("/openapi.json")).json()
    listing = spec["paths"]["/api/v4/restaurants"]["get"]
    assert {p["name"] for p in listing["parameters"]} >= {
        "cuisine",
        "city",
        "price_min",
        "price_max",
        "min_rating",
        "open_now",
        "near",
        "radius_km",
        "sort",
        "limit",
        "offset",
    }
    assert "422" in listing["responses"]
    assert "404" in spec["paths"]["/api/v4/restaurants/{restaurant_id}"]["get"]["responses"]
