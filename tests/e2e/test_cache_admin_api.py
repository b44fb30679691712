"""The cache admin endpoints ``bistro perf`` uses: counters and flush, admins only.

Runs on both backends: SQLite with an L1-only cache, PostgreSQL with L1 + Redis L2.
"""

from __future__ import annotations

import httpx
from fastapi import FastAPI

from tests.support import Factory

BASE = "/api/v4/migration/cache"


async def counters(client: httpx.AsyncClient, headers: dict[str, str]) -> dict[str, int]:
    response = await client.get(BASE, headers=headers)
    assert response.status_code == 200
    return dict(response.json()["data"]["counters"])


async def test_only_admins_read_or_flush_the_cache(
    client: httpx.AsyncClient, factory: Factory
) -> None:
    user = await factory.user()
    for method, path in (("GET", BASE), ("POST", f"{BASE}/flush")):
        assert (await client.request(method, path)).status_code == 401
        response = await client.request(method, path, headers=user.headers)
        assert response.status_code == 403
        assert response.json()["code"] == "ADMIN_REQUIRED"
    admin = await factory.user(role="admin")
    bad = await client.post(f"{BASE}/flush", params={"scope": "everything"}, headers=admin.headers)
    assert bad.status_code == 422


async def test_flush_makes_the_next_read_a_miss_and_local_flush_keeps_redis(
    app: FastAPI, client: httpx.AsyncClient, factory: Factory, backend: str
) -> None:
    admin = await factory.user(role="admin")
    restaurant = await factory.restaurant()
    path = f"/api/v4/restaurants/{restaurant['id']}"
    assert (await client.get(path)).status_code == 200  # cached now
    before = await counters(client, admin.headers)
    await client.get(path)
    after_hit = await counters(client, admin.headers)
    assert after_hit["l1_hits"] == before["l1_hits"] + 1
    assert after_hit["loads"] == before["loads"]

    flushed = await client.post(f"{BASE}/flush", headers=admin.headers)
    body = flushed.json()["data"]
    assert flushed.status_code == 200 and body["flushed"] == "all"
    assert body["ttl_seconds"]["restaurants"] == 30 * 60
    assert body["l2"] is (backend == "postgres")
    await client.get(path)
    after_flush = await counters(client, admin.headers)
    assert after_flush["loads"] == after_hit["loads"] + 1  # a miss: back to the database

    local = await client.post(f"{BASE}/flush", params={"scope": "local"}, headers=admin.headers)
    assert local.json()["data"]["flushed"] == "local"
    await client.get(path)
    after_local = await counters(client, admin.headers)
    if backend == "postgres":
        # L1 emptied, Redis kept: answered by L2 without a query.
        assert after_local["l2_hits"] == after_flush["l2_hits"] + 1
        assert after_local["loads"] == after_flush["loads"]
    else:
        assert after_local["loads"] == after_flush["loads"] + 1
