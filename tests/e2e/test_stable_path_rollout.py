"""Acceptance: 10,000 anonymous clients on /api/restaurants, and the cache kill switch."""

from __future__ import annotations

import httpx
import pytest
from fastapi import FastAPI

from bistro.migration.flags import Flag, Stage
from tests.e2e.test_stable_path import asgi_get, set_flag
from tests.support import Factory


async def test_cache_off_bypasses_the_v4_cache(
    app: FastAPI, client: httpx.AsyncClient, factory: Factory
) -> None:
    restaurant = await factory.restaurant()
    await set_flag(app, Flag.RESTAURANTS, Stage.FULL)
    stats = app.state.bistro.extras["cache"].stats
    path = f"/api/restaurants/{restaurant['id']}"
    await client.get(path)
    loads = stats.loads
    await client.get(path)
    assert stats.loads == loads  # served from the cache
    await set_flag(app, Flag.CACHE, Stage.DISABLED)
    bypassed = stats.bypassed
    for _ in range(3):
        assert (await client.get(path)).status_code == 200
    assert stats.bypassed == bypassed + 3


@pytest.mark.slow
@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
async def test_ten_thousand_clients_at_30_then_50_percent(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    """Acceptance: 30 % +- 1.5 % on v4, sticky per id, and 30 -> 50 moves nobody back to v3."""
    ids = [f"client-{i:05d}" for i in range(10_000)]

    async def versions() -> dict[str, str]:
        seen = {}
        for cid in ids:
            status, headers = await asgi_get(app, "/api/restaurants", {"X-Client-ID": cid})
            seen[cid] = headers["x-api-version"]
            assert status == 200
        return seen

    await set_flag(app, Flag.RESTAURANTS, Stage.PARTIAL, 30)
    at_30 = await versions()
    share = sum(v == "v4" for v in at_30.values()) / len(ids)
    assert 0.285 <= share <= 0.315, share
    assert await versions() == at_30  # every id, same version, every request

    await set_flag(app, Flag.RESTAURANTS, Stage.PARTIAL, 50)
    at_50 = await versions()
    assert not [cid for cid in ids if at_30[cid] == "v4" and at_50[cid] == "v3"]
    share_50 = sum(v == "v4" for v in at_50.values()) / len(ids)
    assert 0.485 <= share_50 <= 0.515, share_50

    assert (
        sum(
            n
            for (_, g), n in app.state.bistro.extras["flags"].served.total.items()
            if g == "restaurants"
        )
        == 30_000
    )
