"""The admin API under /api/v4/migration: changes, audit, validation, rollback, status."""

from __future__ import annotations

import httpx
import pytest

from bistro.app import create_app
from bistro.migration.env import EnvPinError
from tests.support import Factory, UserHandle, app_client, make_settings

M = "/api/v4/migration"


@pytest.fixture
async def admin(factory: Factory) -> UserHandle:
    return await factory.user("admin")


def flag_of(status: dict, name: str) -> dict:
    return next(f for f in status["data"]["flags"] if f["name"] == name)


async def test_admin_only(client: httpx.AsyncClient, factory: Factory) -> None:
    user = await factory.user()
    assert (await client.get(f"{M}/status")).status_code == 401
    r = await client.get(f"{M}/status", headers=user.headers)
    assert r.status_code == 403 and r.json()["code"] == "ADMIN_REQUIRED"
    r = await client.post(f"{M}/rollback", json={}, headers=user.headers)
    assert r.status_code == 403


async def test_partial_is_applied_audited_and_shown(
    client: httpx.AsyncClient, admin: UserHandle
) -> None:
    r = await client.post(
        f"{M}/partial",
        headers=admin.headers,
        json={"flag": "api_v4_restaurants", "percentage": 30, "reason": "first step"},
    )
    assert r.status_code == 200, r.text
    assert r.json()["data"]["changed"] == [
        {
            "flag": "api_v4_restaurants",
            "old": {"stage": "disabled", "percentage": 0.0},
            "new": {"stage": "partial", "percentage": 30.0},
        }
    ]
    status = (await client.get(f"{M}/status", headers=admin.headers)).json()
    flag = flag_of(status, "api_v4_restaurants")
    assert (flag["stage"], flag["percentage"]) == ("partial", 30.0)
    assert flag["source"] == {"stage": "database", "percentage": "database"}
    assert flag["overrides"] == 0
    assert flag_of(status, "api_v4_reviews")["stage"] == "disabled"
    assert "stable_path_traffic" in status["data"]

    history = (
        await client.get(f"{M}/history?flag=api_v4_restaurants", headers=admin.headers)
    ).json()["data"]
    assert len(history) == 1
    entry = history[0]
    assert entry["actor"].startswith(f"admin:{admin.id}:")
    assert entry["old"] == {"stage": "disabled", "percentage": 0.0}
    assert entry["new"] == {"stage": "partial", "percentage": 30.0}
    assert entry["reason"] == "first step" and entry["at"]


async def test_every_routing_flag_at_once_then_rollback_is_idempotent(
    client: httpx.AsyncClient, admin: UserHandle
) -> None:
    r = await client.post(f"{M}/full", headers=admin.headers, json={})
    assert len(r.json()["data"]["changed"]) == 4
    status = (await client.get(f"{M}/status", headers=admin.headers)).json()
    assert {f["name"]: f["stage"] for f in status["data"]["flags"] if f["routing"]} == {
        "api_v4_restaurants": "full",
        "api_v4_reviews": "full",
        "api_v4_users": "full",
        "api_v4_statistics": "full",
    }

    first = await client.post(f"{M}/rollback", headers=admin.headers, json={"reason": "errors"})
    assert first.status_code == 200 and len(first.json()["data"]["changed"]) == 4
    again = await client.post(f"{M}/rollback", headers=admin.headers, json={})
    assert again.status_code == 200 and again.json()["data"]["changed"] == []
    status = (await client.get(f"{M}/status", headers=admin.headers)).json()
    assert all(f["stage"] == "disabled" for f in status["data"]["flags"] if f["routing"])
    # Master switch and sub-features are not routing flags: untouched.
    assert flag_of(status, "api_v4_enabled")["stage"] == "full"
    history = (await client.get(f"{M}/history", headers=admin.headers)).json()["data"]
    assert [h["action"] for h in history].count("rollback") == 4


@pytest.mark.parametrize(
    ("path", "body", "says"),
    [
        ("/partial", {"flag": "api_v4_restaurants", "percentage": 150}, "between 0 and 100"),
        ("/partial", {"flag": "api_v4_restaurants", "percentage": -5}, "between 0 and 100"),
        ("/partial", {"flag": "api_v4_restaurants"}, "needs a percentage"),
        ("/partial", {"flag": "api_v4_bookings", "percentage": 5}, "unknown flag"),
        ("/full", {"flag": "api_v4_reviews", "percentage": 5}, "takes no percentage"),
        ("/partial", {"percentage": "lots"}, "Invalid input"),
        ("/partial", {"percentage": 5, "role": "admin"}, "Invalid input"),
    ],
)
async def test_invalid_migration_steps_are_422(
    client: httpx.AsyncClient, admin: UserHandle, path: str, body: dict, says: str
) -> None:
    r = await client.post(M + path, headers=admin.headers, json=body)
    assert r.status_code == 422, r.text
    assert says in r.json()["error"]
    history = (await client.get(f"{M}/history", headers=admin.headers)).json()["data"]
    assert history == []


async def test_flag_set_validation(client: httpx.AsyncClient, admin: UserHandle) -> None:
    bad = [
        ("api_v4_cache", {"stage": "halfway"}, "unknown stage"),
        ("api_v4_cache", {"stage": "full", "percentage": 40}, "partial only"),
        ("nope", {"stage": "full"}, "unknown flag"),
        ("api_v4_cache", {}, "Give a stage"),
        ("api_v4_cache", {"percentage": 12.345}, "two decimals"),
    ]
    for name, body, says in bad:
        r = await client.put(f"{M}/flags/{name}", headers=admin.headers, json=body)
        assert r.status_code == 422, (name, body, r.text)
        assert says in r.json()["error"]
    r = await client.put(
        f"{M}/flags/api_v4_cache", headers=admin.headers, json={"percentage": 12.5}
    )
    assert r.status_code == 200
    assert r.json()["data"]["changed"][0]["new"] == {"stage": "partial", "percentage": 12.5}


async def test_overrides(client: httpx.AsyncClient, admin: UserHandle) -> None:
    url = f"{M}/flags/api_v4_reviews/overrides/client-7"
    r = await client.put(url, headers=admin.headers, json={"version": "v5"})
    assert r.status_code == 422 and "v3 or v4" in r.json()["error"]
    r = await client.put(url, headers=admin.headers, json={"version": "v4", "reason": "tester"})
    assert r.status_code == 200
    listed = (
        await client.get(f"{M}/flags/api_v4_reviews/overrides", headers=admin.headers)
    ).json()["data"]
    assert [(o["subject"], o["version"], o["reason"]) for o in listed] == [
        ("client-7", "v4", "tester")
    ]
    status = (await client.get(f"{M}/status", headers=admin.headers)).json()
    assert flag_of(status, "api_v4_reviews")["overrides"] == 1
    assert (await client.delete(url, headers=admin.headers)).status_code == 200
    r = await client.delete(url, headers=admin.headers)
    assert r.status_code == 404 and r.json()["code"] == "OVERRIDE_NOT_FOUND"
    actions = [
        h["action"]
        for h in (await client.get(f"{M}/history", headers=admin.headers)).json()["data"]
    ]
    assert actions == ["override_removed", "override"]


async def test_testing_step_adds_testers(client: httpx.AsyncClient, admin: UserHandle) -> None:
    r = await client.post(
        f"{M}/testing",
        headers=admin.headers,
        json={"flag": "api_v4_statistics", "testers": ["qa-1", "qa-2"]},
    )
    assert r.status_code == 200
    assert len(r.json()["data"]["changed"]) == 3
    for subject, version in (("qa-1", "v4"), ("someone", "v3")):
        served = await client.get("/api/statistics", headers={"X-Client-ID": subject})
        assert served.headers["x-api-version"] == version


async def test_environment_pins_show_as_source(
    db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("API_V4_REVIEWS_ROLLOUT", "25")
    monkeypatch.setenv("API_V4_USERS", "false")
    async with app_client(db_url) as (app, client):
        admin = await Factory(app).user("admin")
        status = (await client.get(f"{M}/status", headers=admin.headers)).json()
    reviews, users = flag_of(status, "api_v4_reviews"), flag_of(status, "api_v4_users")
    assert (reviews["stage"], reviews["percentage"]) == ("partial", 25.0)
    assert reviews["source"]["percentage"] == "env:API_V4_REVIEWS_ROLLOUT"
    assert reviews["database"] == {"stage": "disabled", "percentage": 0.0}
    assert users["stage"] == "disabled" and users["source"]["stage"] == "env:API_V4_USERS"


def test_bad_environment_value_stops_start_up(
    sqlite_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("API_V4_RESTAURANTS_ROLLOUT", "150")
    with pytest.raises(EnvPinError, match="API_V4_RESTAURANTS_ROLLOUT"):
        create_app(make_settings(sqlite_url))


async def test_report(client: httpx.AsyncClient, admin: UserHandle) -> None:
    await client.post(f"{M}/partial", headers=admin.headers, json={"percentage": 10})
    report = (await client.get(f"{M}/report", headers=admin.headers)).json()["data"]
    assert report["generated_at"]
    assert len(report["history"]) == 4
    assert {f["stage"] for f in report["status"]["flags"] if f["routing"]} == {"partial"}


async def test_endpoint_checks_pass_on_a_working_v4(
    client: httpx.AsyncClient, admin: UserHandle, factory: Factory
) -> None:
    await factory.restaurant()
    r = await client.post(f"{M}/test", headers=admin.headers)
    assert r.status_code == 200
    results = r.json()["data"]["results"]
    failed = [x for x in results if x["outcome"] != "pass"]
    assert failed == []
    endpoints = {x["endpoint"] for x in results}
    assert {
        "GET /restaurants",
        "GET /restaurants/{id}",
        "POST /reviews",
        "DELETE /reviews/{id}",
        "GET /statistics",
        "POST /restaurants",
        "GET /admin/users",
        "POST /auth/logout",
    } <= endpoints
    assert r.json()["data"]["passed"] is True


async def test_endpoint_checks_without_admin_or_data(client: httpx.AsyncClient) -> None:
    from bistro.migration.smoke import run_endpoint_checks

    # Without an admin token and without restaurants: admin endpoints must refuse (401)
    # and the review checks are skipped.
    results = await run_endpoint_checks(client)
    outcome = {r.endpoint: r.outcome for r in results}
    assert outcome["GET /admin/users (refuses anonymous)"] == "pass"
    assert outcome["POST /reviews"] == "skip"
    assert outcome["GET /restaurants/{id}"] == "pass"  # 404 envelope for a missing id
