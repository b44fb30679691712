"""The stable path /api/...: sticky per-subject routing, headers, cookies and kill switches."""

from __future__ import annotations

from typing import Any

import httpx
from fastapi import FastAPI

from bistro.migration.flags import Flag, Stage
from tests.support import Factory

M = "/api/v4/migration"


async def set_flag(app: FastAPI, flag: Flag, stage: Stage, pct: float | None = None) -> None:
    runtime = app.state.bistro.extras["flags"]
    async with runtime.changing() as flags:
        await flags.set_flags([flag], stage=stage, percentage=pct, actor="test")


async def asgi_get(
    app: FastAPI, path: str, headers: dict[str, str] | list[tuple[str, str]]
) -> tuple[int, dict[str, str]]:
    """One GET straight through the ASGI app: the 10,000-client test needs it cheap. A list
    of headers may name one header twice, as a client may."""
    sent: dict[str, Any] = {}
    pairs = headers.items() if isinstance(headers, dict) else headers
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "server": ("testserver", 80),
        "client": ("127.0.0.1", 1234),
        "headers": [(k.lower().encode(), v.encode()) for k, v in pairs],
    }

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            sent["status"] = message["status"]
            sent["headers"] = {k.decode(): v.decode() for k, v in message["headers"]}

    await app(scope, receive, send)
    return sent["status"], sent["headers"]


async def test_anonymous_client_gets_a_cookie_and_keeps_its_version(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    await set_flag(app, Flag.RESTAURANTS, Stage.PARTIAL, 50)
    first = await client.get("/api/restaurants")
    assert first.status_code == 200, first.text
    cookie = first.cookies.get("bistro_client_id")
    assert cookie and len(cookie) == 32
    assert "HttpOnly" in first.headers["set-cookie"]
    version = first.headers["x-api-version"]
    assert first.headers["x-request-id"]
    for _ in range(5):
        again = await client.get("/api/restaurants")  # httpx sends the cookie back
        assert again.headers["x-api-version"] == version
        assert "set-cookie" not in again.headers


async def test_x_client_id_and_signed_in_user_are_subjects(
    app: FastAPI, client: httpx.AsyncClient, factory: Factory
) -> None:
    user = await factory.user()
    await set_flag(app, Flag.USERS, Stage.TESTING)
    runtime = app.state.bistro.extras["flags"]
    async with runtime.changing() as flags:
        from bistro.migration.flags import Version

        await flags.set_override(Flag.USERS, str(user.id), Version.V4, "test")
        await flags.set_override(Flag.USERS, "tester-client", Version.V4, "test")
    me = await client.get("/api/users/me", headers=user.headers)
    assert (me.status_code, me.headers["x-api-version"]) == (200, "v4")
    assert me.json()["data"]["id"] == user.id
    assert "set-cookie" not in me.headers
    anon = await client.get("/api/users/me", headers={"X-Client-ID": "someone-else"})
    assert anon.headers["x-api-version"] == "v3"
    tester = await client.get("/api/users/me", headers={"X-Client-ID": "tester-client"})
    assert tester.headers["x-api-version"] == "v4"
    # A signed-in user is their user id, whatever client id they send.
    both = await client.get(
        "/api/users/me", headers={**user.headers, "X-Client-ID": "someone-else"}
    )
    assert both.headers["x-api-version"] == "v4"


async def test_master_switch_off_sends_everyone_to_v3(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    await set_flag(app, Flag.RESTAURANTS, Stage.FULL)
    assert (await client.get("/api/restaurants")).headers["x-api-version"] == "v4"
    await set_flag(app, Flag.ENABLED, Stage.DISABLED)
    assert (await client.get("/api/restaurants")).headers["x-api-version"] == "v3"


async def test_groups_and_unknown_paths(app: FastAPI, client: httpx.AsyncClient) -> None:
    await set_flag(app, Flag.USERS, Stage.FULL)
    for path in ("/api/auth/login", "/api/users/me", "/api/admin/users"):
        r = await client.request("POST" if "login" in path else "GET", path, json={})
        assert r.headers["x-api-version"] == "v4", path
    r = await client.get("/api/restaurants")
    assert r.headers["x-api-version"] == "v3"
    r = await client.get("/api/bookings")
    assert r.status_code == 404 and r.json()["code"] == "NOT_FOUND"
    assert "x-api-version" not in r.headers
    r = await client.get("/api/migration/status")
    assert r.status_code == 404
    direct = await client.get("/api/v4/restaurants")
    assert direct.status_code == 200 and "x-api-version" not in direct.headers


async def test_error_handling_off_renders_v3_error_body(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    await set_flag(app, Flag.RESTAURANTS, Stage.FULL)
    r = await client.get("/api/restaurants/2147483000")
    assert r.status_code == 404 and set(r.json()) >= {"code", "details"}
    await set_flag(app, Flag.ERROR_HANDLING, Stage.DISABLED)
    for path in ("/api/restaurants/2147483000", "/api/v4/restaurants/2147483000"):
        r = await client.get(path)
        assert r.status_code == 404
        assert set(r.json()) == {"success", "error", "status_code"}, path


async def test_validation_off_serves_v4_rejections_through_v3(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    await set_flag(app, Flag.RESTAURANTS, Stage.FULL)
    bad = "/api/restaurants?limit=500"
    r = await client.get(bad)
    assert (r.status_code, r.headers["x-api-version"]) == (422, "v4")
    await set_flag(app, Flag.VALIDATION, Stage.DISABLED)
    r = await client.get(bad)
    assert r.headers["x-api-version"] == "v3"
    assert r.status_code != 422
    ok = await client.get("/api/restaurants?limit=5")
    assert (ok.status_code, ok.headers["x-api-version"]) == (200, "v4")
    # /api/v4 callers asked for v4: they keep v4's answer.
    assert (await client.get("/api/v4/restaurants?limit=500")).status_code == 422


async def test_logout_drops_the_cached_subject(
    app: FastAPI, client: httpx.AsyncClient, factory: Factory
) -> None:
    user = await factory.user()
    await set_flag(app, Flag.USERS, Stage.PARTIAL, 50)
    tokens = app.state.bistro.extras["flags"].tokens
    await client.get("/api/users/me", headers=user.headers)
    lookups = tokens.lookups
    await client.get("/api/users/me", headers=user.headers)
    assert tokens.lookups == lookups  # cached
    await set_flag(app, Flag.USERS, Stage.FULL)
    assert (await client.post("/api/auth/logout", headers=user.headers)).status_code == 200
    await set_flag(app, Flag.USERS, Stage.PARTIAL, 50)
    r = await client.get("/api/users/me", headers=user.headers)
    assert r.status_code == 401  # whichever version serves it, the token is dead
    assert tokens.lookups == lookups + 1  # looked up again: the logout dropped the entry


async def test_a_client_id_cookie_in_a_second_cookie_header_is_read(app: FastAPI) -> None:
    """HTTP/2 clients may split cookies over several Cookie headers: they are joined."""
    await set_flag(app, Flag.RESTAURANTS, Stage.PARTIAL, 50)
    status, first = await asgi_get(app, "/api/restaurants", {})
    assert status == 200
    client_id = first["set-cookie"].split(";")[0].split("=", 1)[1]
    split = [("cookie", f"bistro_client_id={client_id}"), ("cookie", "theme=dark")]
    for _ in range(3):  # the second and third answers come from the router's memo
        status, again = await asgi_get(app, "/api/restaurants", split)
        assert status == 200
        assert "set-cookie" not in again  # recognised: no new id
        assert again["x-api-version"] == first["x-api-version"]
    # The id's header alone is a different request: also recognised, same version.
    status, alone = await asgi_get(app, "/api/restaurants", split[:1])
    assert "set-cookie" not in alone and alone["x-api-version"] == first["x-api-version"]


async def test_served_counter_counts_the_version_that_answered(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    served = app.state.bistro.extras["flags"].served
    await set_flag(app, Flag.RESTAURANTS, Stage.FULL)
    await set_flag(app, Flag.VALIDATION, Stage.DISABLED)
    before = served.total
    assert (await client.get("/api/restaurants?limit=5")).headers["x-api-version"] == "v4"
    assert (await client.get("/api/restaurants?limit=500")).headers["x-api-version"] == "v3"
    after = served.total
    for key in (("v4", "restaurants"), ("v3", "restaurants")):
        assert after.get(key, 0) - before.get(key, 0) == 1, key


async def test_metrics_see_the_rejected_v4_attempt_and_the_v3_answer(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    """The validation fallback holds v4's 422 back from the client; the metrics still count
    it as v4's, and the v3 answer as v3's, with the bytes each sent (no phantom 500)."""
    from bistro.monitoring.runtime import STATE_KEY

    recorder = app.state.bistro.extras[STATE_KEY].pipeline.recorder
    await set_flag(app, Flag.RESTAURANTS, Stage.FULL)
    await set_flag(app, Flag.VALIDATION, Stage.DISABLED)
    recorder.drain()
    r = await client.get("/api/restaurants?limit=500")
    assert (r.status_code, r.headers["x-api-version"]) == (400, "v3")  # v3's own limit check
    series = recorder.drain()
    assert {key[:2] for key in series} == {("stable", "v3"), ("stable", "v4")}
    v4 = [
        s
        for key, s in series.items()
        if key == ("stable", "v4", "restaurants", "/restaurants", "4xx")
    ]
    v3 = [
        s
        for key, s in series.items()
        if key == ("stable", "v3", "restaurants", "/restaurants", "4xx")
    ]
    assert len(series) == 2 and len(v4) == 1 and len(v3) == 1, series
    assert v4[0].requests == v3[0].requests == 1
    assert v4[0].bytes_out > 0
    assert v3[0].bytes_out == len(r.content)
