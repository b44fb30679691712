"""The admin API under /api/v4/migration/rollout, the rollout status section and /metrics."""

from __future__ import annotations

import httpx
import pytest

from tests.support import Factory, UserHandle

R = "/api/v4/migration/rollout"


@pytest.fixture
async def admin(factory: Factory) -> UserHandle:
    return await factory.user("admin")


async def test_admin_only(client: httpx.AsyncClient, factory: Factory) -> None:
    user = await factory.user()
    assert (await client.get(R)).status_code == 401
    r = await client.post(f"{R}/start", json={}, headers=user.headers)
    assert r.status_code == 403 and r.json()["code"] == "ADMIN_REQUIRED"
    r = await client.post(f"{R}/force", json={"percentage": 0}, headers=user.headers)
    assert r.status_code == 403


async def test_start_steer_and_report(client: httpx.AsyncClient, admin: UserHandle) -> None:
    r = await client.post(
        f"{R}/start",
        headers=admin.headers,
        json={"flags": ["api_v4_statistics"], "config": {"steps": [10, 50, 100]}},
    )
    assert r.status_code == 200, r.text
    (started,) = r.json()["data"]["started"]
    assert started == {
        "flag": "api_v4_statistics",
        "action": "start",
        "state": "running",
        "from_percentage": 0.0,
        "to_percentage": 10.0,
        "reason": "rollout started at 10 %",
        "flag_changed": True,
    }
    r = await client.post(
        f"{R}/start", headers=admin.headers, json={"flags": ["api_v4_statistics"]}
    )
    assert r.status_code == 409 and r.json()["code"] == "ROLLOUT_REFUSED"
    assert "already has an active rollout" in r.json()["error"]

    for verb, state in (("pause", "paused"), ("resume", "running"), ("promote", "running")):
        r = await client.post(
            f"{R}/{verb}", headers=admin.headers, json={"flag": "api_v4_statistics"}
        )
        assert r.status_code == 200, r.text
        assert r.json()["data"]["applied"][0]["state"] == state
    r = await client.post(f"{R}/resume", headers=admin.headers, json={})
    assert r.status_code == 409 and "cannot resume: the rollout is running" in r.json()["error"]

    status = (await client.get(R, headers=admin.headers)).json()["data"]
    (rollout,) = status["rollouts"]
    assert (rollout["flag"], rollout["state"], rollout["percentage"]) == (
        "api_v4_statistics",
        "running",
        50.0,
    )
    assert [d["action"] for d in status["decisions"]] == ["promote", "resume", "pause", "start"]
    assert status["decisions"][0]["actor"].startswith("admin:")

    r = await client.post(
        f"{R}/force", headers=admin.headers, json={"flag": "api_v4_statistics", "percentage": 0}
    )
    assert r.status_code == 200
    assert r.json()["data"]["applied"][0]["action"] == "emergency_rollback"
    flags = (await client.get("/api/v4/migration/flags", headers=admin.headers)).json()["data"]
    assert {f["name"]: f["stage"] for f in flags}["api_v4_statistics"] == "disabled"

    report = await client.get(f"{R}/report?flag=api_v4_statistics", headers=admin.headers)
    assert report.status_code == 200
    assert [d["action"] for d in report.json()["data"]["decisions"]] == [
        "start",
        "pause",
        "resume",
        "promote",
        "emergency_rollback",
    ]
    md = await client.get(f"{R}/report?flag=api_v4_statistics&format=md", headers=admin.headers)
    assert md.json()["data"]["markdown"].startswith("# Rollout of api_v4_statistics")
    missing = await client.get(f"{R}/report?flag=api_v4_users", headers=admin.headers)
    assert missing.status_code == 404 and missing.json()["code"] == "ROLLOUT_NOT_FOUND"


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"config": {"initial_percentage": 0}}, "initial-percentage"),
        ({"config": {"monitoring_period": "forever"}}, "not a duration"),
        ({"config": {"speed": "fast"}}, "unknown setting 'speed'"),
        ({"flags": ["api_v4_cache"]}, "not a routing flag"),
        ({"config": {"steps": [50, 10]}}, "strictly increasing"),
    ],
)
async def test_bad_configuration_is_a_422_with_the_reason(
    client: httpx.AsyncClient, admin: UserHandle, body: dict, message: str
) -> None:
    r = await client.post(f"{R}/start", headers=admin.headers, json=body)
    assert r.status_code == 422, r.text
    assert r.json()["success"] is False
    assert message in r.json()["error"]


async def test_force_takes_a_percentage_in_range(
    client: httpx.AsyncClient, admin: UserHandle
) -> None:
    r = await client.post(f"{R}/force", headers=admin.headers, json={"percentage": 150})
    assert r.status_code == 422
    r = await client.post(f"{R}/pause", headers=admin.headers, json={})
    assert r.status_code == 409 and r.json()["error"] == "No active rollout"


async def test_status_section_dashboard_and_metrics(
    client: httpx.AsyncClient, admin: UserHandle
) -> None:
    r = await client.post(
        f"{R}/start", headers=admin.headers, json={"flags": ["api_v4_users"], "config": {}}
    )
    assert r.status_code == 200
    status = (await client.get("/api/v4/migration/status", headers=admin.headers)).json()["data"]
    (rollout,) = status["rollout"]["rollouts"]
    assert rollout["flag"] == "api_v4_users" and rollout["state"] == "running"
    assert rollout["next"]["action"].startswith("evaluate; move to 15 %")
    dashboard = (await client.get("/api/v4/migration/monitoring", headers=admin.headers)).json()[
        "data"
    ]
    assert dashboard["rollout"]["rollouts"][0]["flag"] == "api_v4_users"
    metrics = (await client.get("/metrics", headers=admin.headers)).text
    assert 'bistro_rollout_percentage{flag="api_v4_users"} 5.0' in metrics
    assert 'bistro_rollout_decisions_total{action="start",flag="api_v4_users"} 1.0' in metrics
