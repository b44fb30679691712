"""Auth and user routes over HTTP (ASGI), on SQLite and PostgreSQL."""

from __future__ import annotations

import httpx

from tests.support import Factory

V4 = "/api/v4"


async def register(
    client: httpx.AsyncClient, email: str = "ana@example.com", **extra: object
) -> httpx.Response:
    body = {"email": email, "password": "s3cret-pass", "display_name": "Ana"} | extra
    return await client.post(f"{V4}/auth/register", json=body)


async def test_register_login_me_logout(client: httpx.AsyncClient) -> None:
    r = await register(client)
    assert r.status_code == 201, r.text
    assert r.json()["data"]["email"] == "ana@example.com"

    r = await client.post(
        f"{V4}/auth/login", json={"email": "ANA@example.com", "password": "s3cret-pass"}
    )
    assert r.status_code == 200
    data = r.json()["data"]
    headers = {"Authorization": f"Bearer {data['token']}"}
    assert data["expires_at"]

    me = await client.get(f"{V4}/users/me", headers=headers)
    assert me.status_code == 200
    assert me.json()["data"]["email"] == "ana@example.com"
    assert "password_hash" not in me.text and "argon2" not in me.text

    out = await client.post(f"{V4}/auth/logout", headers=headers)
    assert out.status_code == 200
    again = await client.get(f"{V4}/users/me", headers=headers)
    assert again.status_code == 401
    assert again.json()["code"] == "INVALID_TOKEN"


async def test_duplicate_email_is_409(client: httpx.AsyncClient) -> None:
    assert (await register(client)).status_code == 201
    r = await register(client, email="Ana@Example.com")
    assert r.status_code == 409
    assert r.json() == {
        "success": False,
        "error": "An account with this email already exists",
        "status_code": 409,
        "code": "EMAIL_TAKEN",
        "details": {},
    }


async def test_register_ignores_mass_assigned_role(client: httpx.AsyncClient) -> None:
    r = await register(client, role="admin", id=999)
    assert r.status_code == 201
    assert r.json()["data"]["role"] == "user"
    assert r.json()["data"]["id"] != 999


async def test_bad_input_gets_422_envelope(client: httpx.AsyncClient) -> None:
    r = await client.post(
        f"{V4}/auth/register", json={"email": "nope", "password": "x", "display_name": ""}
    )
    assert r.status_code == 422
    body = r.json()
    assert body["success"] is False and body["code"] == "VALIDATION_ERROR"
    fields = {f["field"] for f in body["details"]["fields"]}
    assert {"email", "password", "display_name"} <= fields

    r = await client.post(
        f"{V4}/auth/register", content=b"{not json", headers={"content-type": "application/json"}
    )
    assert r.status_code == 422

    r = await register(client, display_name="x" * 81)
    assert r.status_code == 422


async def test_oversized_body_is_413(client: httpx.AsyncClient) -> None:
    r = await client.post(
        f"{V4}/auth/register",
        content=b"x" * 2_000_000,
        headers={"content-type": "application/json"},
    )
    assert r.status_code == 413
    assert r.json()["code"] == "PAYLOAD_TOO_LARGE"


async def test_wrong_password_and_bad_header_are_401(client: httpx.AsyncClient) -> None:
    await register(client)
    r = await client.post(
        f"{V4}/auth/login", json={"email": "ana@example.com", "password": "wrong-pass"}
    )
    assert r.status_code == 401 and r.json()["code"] == "INVALID_CREDENTIALS"
    r = await client.get(f"{V4}/users/me", headers={"Authorization": "Basic abc"})
    assert r.status_code == 401
    r = await client.get(f"{V4}/users/me")
    assert r.status_code == 401 and r.json()["code"] == "AUTH_REQUIRED"


async def test_admin_routes(client: httpx.AsyncClient, factory: Factory) -> None:
    admin = await factory.user("admin")
    bob = await factory.user()

    r = await client.get(f"{V4}/admin/users", headers=bob.headers)
    assert r.status_code == 403 and r.json()["code"] == "ADMIN_REQUIRED"
    assert (
        await client.delete(f"{V4}/admin/users/{admin.id}", headers=bob.headers)
    ).status_code == 403

    r = await client.get(f"{V4}/admin/users", headers=admin.headers)
    assert r.status_code == 200
    assert r.json()["meta"] == {"total": 2, "limit": 20, "offset": 0}
    assert all("password" not in str(u) for u in r.json()["data"])

    r = await client.put(
        f"{V4}/admin/users/{bob.id}", json={"role": "admin"}, headers=admin.headers
    )
    assert r.status_code == 200 and r.json()["data"]["role"] == "admin"
    # The role change revoked bob's tokens at once.
    assert (await client.get(f"{V4}/users/me", headers=bob.headers)).status_code == 401

    r = await client.put(f"{V4}/admin/users/{bob.id}", json={"role": "root"}, headers=admin.headers)
    assert r.status_code == 422
    assert (await client.get(f"{V4}/admin/users/0", headers=admin.headers)).status_code == 422
    assert (await client.get(f"{V4}/admin/users/abc", headers=admin.headers)).status_code == 422
    assert (await client.get(f"{V4}/admin/users/99999", headers=admin.headers)).status_code == 404

    r = await client.delete(f"{V4}/admin/users/{bob.id}", headers=admin.headers)
    assert r.status_code == 200
    assert (
        await client.get(f"{V4}/admin/users/{bob.id}", headers=admin.headers)
    ).status_code == 404
    assert (
        await client.delete(f"{V4}/admin/users/{admin.id}", headers=admin.headers)
    ).status_code == 403


async def test_operational_endpoints(client: httpx.AsyncClient) -> None:
    assert (await client.get("/healthz")).status_code == 200
    r = await client.get("/readyz")
    assert r.status_code == 200
    assert r.headers["x-request-id"]
    r = await client.get("/healthz", headers={"X-Request-ID": "abc-123"})
    assert r.headers["x-request-id"] == "abc-123"
    r = await client.get("/api/v4/nope")
    assert r.status_code == 404 and r.json()["code"] == "NOT_FOUND"
