"""Acceptance: known traffic through two app instances sharing one database is reported
exactly (counts) and closely (p95) by the status endpoint, and old buckets are pruned."""

from __future__ import annotations

import math
from datetime import timedelta

from bistro.core.clock import FakeClock
from bistro.monitoring.runtime import STATE_KEY, Monitoring
from tests.integration.monitoring_helpers import drive
from tests.support import Factory, app_client

V4 = "/api/v4"


def known_traffic(version: str, error_every: int, n: int = 1000) -> list[tuple[str, int, int]]:
    """n requests; every ``error_every``-th one is a 503; latencies spread 2 ms .. ~600 ms."""
    out = []
    for i in range(n):
        latency_us = 2_000 + (i * 7919) % 1000 * (300 if version == "v4" else 200)
        status = 503 if i % error_every == 0 else 200
        out.append((f"/api/{version}/restaurants/{i % 7 + 1}", status, latency_us))
    return out


def nearest_rank(values: list[int], q: float) -> float:
    ordered = sorted(values)
    return ordered[math.ceil(q * len(ordered)) - 1] / 1000  # ms


async def test_two_instances_merge_exactly(db_url: str) -> None:
    clock = FakeClock()
    v3 = known_traffic("v3", 50)  # 2 % 5xx
    v4 = known_traffic("v4", 10)  # 10 % 5xx
    async with (
        app_client(db_url, clock=clock) as (app_a, client_a),
        app_client(db_url, clock=clock) as (app_b, _client_b),
    ):
        mon_a: Monitoring = app_a.state.bistro.extras[STATE_KEY]
        mon_b: Monitoring = app_b.state.bistro.extras[STATE_KEY]
        assert mon_a.instance != mon_b.instance
        # Each instance serves half of each version's traffic, over two flush intervals.
        for start in (0, 250):
            await drive(mon_a.pipeline.recorder, v3[start : start + 250] + v4[start : start + 250])
            await drive(
                mon_b.pipeline.recorder,
                v3[start + 500 : start + 750] + v4[start + 500 : start + 750],
            )
            assert await mon_a.flush() and await mon_b.flush()
            clock.advance(5)

        admin = await Factory(app_a).user(role="admin")
        r = await client_a.get(f"{V4}/migration/monitoring?window=5m", headers=admin.headers)
        assert r.status_code == 200, r.text
        data = r.json()["data"]
        for version, traffic, errors in (("v3", v3, 20), ("v4", v4, 100)):
            entry = data["versions"][version]
            assert entry["requests"] == 1000
            assert entry["errors_5xx"] == errors
            assert entry["error_rate"] == errors / 1000
            assert entry["rps"] == round(1000 / 300, 3)
            latencies = [lat for _, _, lat in traffic]
            assert entry["latency_ms"]["avg"] == round(sum(latencies) / 1000 / 1000, 3)
            for q, name in ((0.5, "p50"), (0.95, "p95"), (0.99, "p99")):
                truth = nearest_rank(latencies, q)
                assert abs(entry["latency_ms"][name] - truth) / truth < 0.05, (version, name)
            group = entry["groups"]["restaurants"]
            assert group["requests"] == 1000 and group["errors_5xx"] == errors
        # The same numbers from the other instance: the store is shared.
        assert (await mon_b.pipeline.summary(300))["versions"]["v4"]["requests"] == 1000
        # Charts get points over time for both versions.
        series = data["timeseries"]["series"]
        assert sum(series["v3"]["requests"]) == 1000
        assert sum(series["v4"]["requests"]) == 1000

        # Outside the window, nothing; past retention, the rows are gone.
        clock.advance(600)
        assert (await mon_a.pipeline.summary(300))["versions"]["v4"]["requests"] == 0
        clock.advance(timedelta(hours=25).total_seconds())
        mon_a.pipeline._last_prune = None
        assert await mon_a.flush()
        assert (await mon_a.pipeline.summary(7 * 86400))["versions"]["v4"]["requests"] == 0


async def test_monitoring_status_needs_an_admin_and_a_sane_window(db_url: str) -> None:
    async with app_client(db_url) as (app, client):
        factory = Factory(app)
        user = await factory.user()
        admin = await factory.user(role="admin")
        url = f"{V4}/migration/monitoring"
        assert (await client.get(url)).status_code == 401
        assert (await client.get(url, headers=user.headers)).status_code == 403
        for bad in ("5x", "0m", "99999999h", "-1m", ""):
            r = await client.get(url, params={"window": bad}, headers=admin.headers)
            assert r.status_code == 422, bad
            assert r.json()["code"] == "VALIDATION_ERROR"
        r = await client.get(url, params={"window": "90s", "step": 10}, headers=admin.headers)
        assert r.status_code == 200
        assert len(r.json()["data"]["timeseries"]["times"]) == 9


async def test_demo_mode_opens_monitoring_without_sign_in(sqlite_url: str) -> None:
    import httpx

    from bistro.app import create_app
    from tests.support import make_settings, running_app

    app = create_app(make_settings(sqlite_url, demo=True))
    async with running_app(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            r = await client.get(f"{V4}/migration/monitoring")
            assert r.status_code == 200
            page = await client.get("/dashboard")
            assert page.status_code == 200 and "text/html" in page.headers["content-type"]
