"""Monitoring inside the migration status (HTTP and CLI), and metrics of stable-path traffic
labelled with the version the router chose."""

from __future__ import annotations

import asyncio

import orjson
from typer.testing import CliRunner

from bistro.cli.main import app as cli_app
from bistro.monitoring.runtime import STATE_KEY, Monitoring
from tests.support import Factory, app_client

M = "/api/v4/migration"


async def test_stable_path_requests_are_labelled_with_the_served_version(db_url: str) -> None:
    async with app_client(db_url) as (app, client):
        monitoring: Monitoring = app.state.bistro.extras[STATE_KEY]
        admin = await Factory(app).user("admin")
        await Factory(app).restaurant()
        headers = {"X-Client-ID": "client-1"}
        # Every routing flag disabled: the stable path serves v3.
        for _ in range(3):
            r = await client.get("/api/restaurants", headers=headers)
            assert r.status_code == 200 and r.headers["x-api-version"] == "v3"
        r = await client.post(
            f"{M}/full", headers=admin.headers, json={"reason": "test", "flag": None}
        )
        assert r.status_code == 200, r.text
        await app.state.bistro.extras["flags"].refresh()
        for _ in range(2):
            r = await client.get("/api/restaurants", headers=headers)
            assert r.status_code == 200 and r.headers["x-api-version"] == "v4", r.headers
        assert await monitoring.flush()

        r = await client.get(f"{M}/status?window=10m", headers=admin.headers)
        assert r.status_code == 200, r.text
        data = r.json()["data"]
        v3 = data["metrics"]["versions"]["v3"]["groups"]["restaurants"]
        v4 = data["metrics"]["versions"]["v4"]["groups"]["restaurants"]
        assert (v3["requests"], v4["requests"]) == (3, 2)
        assert data["alerts"] == {"active": [], "recent": []}
        assert data["rollout"]["controller"] is None
        assert {f["name"] for f in data["flags"]} >= {"api_v4_enabled", "api_v4_restaurants"}

        r = await client.get(f"{M}/status?window=forever", headers=admin.headers)
        assert r.status_code == 422 and r.json()["code"] == "VALIDATION_ERROR"
        r = await client.get(f"{M}/status?window=\u0663m", headers=admin.headers)  # ASCII only
        assert r.status_code == 422 and r.json()["code"] == "VALIDATION_ERROR"

        # The dashboard's endpoint carries the flags too (it is viewable in demo mode).
        r = await client.get(f"{M}/monitoring", headers=admin.headers)
        flags = {f["name"]: f for f in r.json()["data"]["flags"]}
        assert flags["api_v4_restaurants"]["stage"] == "full"
        # ...and the parity panel's figures (no shadow comparisons here).
        parity = r.json()["data"]["parity"]
        assert (parity["overall"]["compared"], parity["overall"]["mismatch_rate"]) == (0, None)


async def test_migration_status_cli_adds_metrics_and_alerts(db_url: str) -> None:
    async with app_client(db_url) as (app, _client):
        monitoring: Monitoring = app.state.bistro.extras[STATE_KEY]
        for i in range(20):
            status = "5xx" if i < 2 else "2xx"
            monitoring.pipeline.recorder.record(
                ("direct", "v4", "statistics", "/statistics", status), 0.004, 100
            )
        assert await monitoring.flush()

    def run(*args: str) -> object:
        return CliRunner().invoke(cli_app, ["migration", "status", *args, "--database-url", db_url])

    result = await asyncio.to_thread(run, "--json", "--window", "15m")
    assert result.exit_code == 0, result.output  # type: ignore[attr-defined]
    data = orjson.loads(result.stdout)  # type: ignore[attr-defined]
    stats = data["metrics"]["versions"]["v4"]["groups"]["statistics"]
    assert (stats["requests"], stats["errors_5xx"]) == (20, 2)
    assert data["metrics"]["window_seconds"] == 900
    assert "flags" in data and data["alerts"]["active"] == []

    human = await asyncio.to_thread(run)
    assert human.exit_code == 0  # type: ignore[attr-defined]
    out = human.stdout  # type: ignore[attr-defined]
    assert "api_v4_restaurants" in out and "statistics" in out and "10.00%" in out

    bad = await asyncio.to_thread(run, "--window", "5 minutes")
    assert bad.exit_code == 2  # type: ignore[attr-defined]
