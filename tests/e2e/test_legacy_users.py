"""v3 auth, profile and user-administration routes over HTTP."""

from __future__ import annotations

import httpx

from tests.support import Factory

V3 = "/api/v3"


async def register(
    client: httpx.AsyncClient, email: str = "ana@example.com", **extra: object
) -> httpx.Response:
    body = {"email": email, "password": "s3cret-pass", "display_name": "Ana"} | extra
    return await client.post(f"{V3}/auth/register", json=body)


async def test_register_login_me_update_logout(client: httpx.AsyncClient) -> None:
    r = await register(client, role="admin", id=999)
    assert r.status_code == 201, r.text
    user = r.json()["data"]
    assert user["email"] == "ana@example.com" and user["role"] == "user" and user["id"] != 999
    assert set(user) == {"id", "email", "display_name", "role", "created_at"}

    r = await client.post(
        f"{V3}/auth/login", json={"email": "ANA@example.com", "password": "s3cret-pass"}
    )
    assert r.status_code == 200
    data = r.json()["data"]
    assert data["token_type"] == "bearer" and data["expires_at"] and data["user"] == user
    headers = {"Authorization": f"Bearer {data['token']}"}

    me = await client.get(f"{V3}/users/me", headers=headers)
    assert me.status_code == 200 and me.json()["data"] == user
    assert "argon2" not in me.text and "password" not in me.text

    r = await client.put(
        f"{V3}/users/me", headers=headers, json={"display_name": "  Ana B  ", "role": "admin"}
    )
    assert r.status_code == 200
    assert r.json()["data"] == user | {"display_name": "Ana B"}

    assert (await client.post(f"{V3}/auth/logout", headers=headers)).status_code == 200
    r = await client.get(f"{V3}/users/me", headers=headers)
    assert r.status_code == 401
    assert r.json() == {
        "success": False,
        "status_code": 401,
        "error": "Token is invalid, expired or revoked",
    }


async def test_auth_errors(client: httpx.AsyncClient) -> None:
    assert (await register(client)).status_code == 201
    r = await register(client, email="Ana@Example.com")
    assert r.status_code == 409
    assert r.json() == {
        "success": False,
        "status_code": 409,
        "error": "An account with this email already exists",
    }
    for bad in (
        {"email": "nope"},
        {"password": "short"},
        {"display_name": ""},
        {"display_name": "x" * 81},
        {"email": 5},
    ):
        r = await register(client, **bad)  # type: ignore[arg-type]
        assert r.status_code == 400, (bad, r.text)
    r = await client.post(
        f"{V3}/auth/register", content=b"{not json", headers={"content-type": "application/json"}
    )
    assert r.status_code == 400
    r = await client.post(
        f"{V3}/auth/login", json={"email": "ana@example.com", "password": "nope!"}
    )
    assert r.status_code == 401 and r.json()["error"] == "Wrong email or password"
    r = await client.post(f"{V3}/auth/login", json={"email": "ana@example.com"})
    assert r.status_code == 400
    assert (await client.get(f"{V3}/users/me")).status_code == 401
    assert (
        await client.get(f"{V3}/users/me", headers={"Authorization": "Basic x"})
    ).status_code == 401
    assert (await client.post(f"{V3}/auth/logout")).status_code == 401


async def test_admin_users(client: httpx.AsyncClient, factory: Factory) -> None:
    admin, bob = await factory.user("admin"), await factory.user()
    r = await client.get(f"{V3}/admin/users", headers=bob.headers)
    assert r.status_code == 403
    assert r.json() == {"success": False, "status_code": 403, "error": "Admins only"}

    r = await client.get(f"{V3}/admin/users", headers=admin.headers)
    assert r.status_code == 200
    assert r.json()["meta"] == {"total": 2, "limit": 20, "offset": 0}
    assert [u["id"] for u in r.json()["data"]] == [admin.id, bob.id]
    assert r.json()["data"][1]["email"] == bob.email
    r = await client.get(
        f"{V3}/admin/users", params={"limit": 1, "offset": 1}, headers=admin.headers
    )
    assert [u["id"] for u in r.json()["data"]] == [bob.id]
    assert (
        await client.get(f"{V3}/admin/users", params={"limit": 0}, headers=admin.headers)
    ).status_code == 400

    r = await client.get(f"{V3}/admin/users/{bob.id}", headers=admin.headers)
    assert r.status_code == 200 and r.json()["data"]["role"] == "user"
    assert (await client.get(f"{V3}/admin/users/abc", headers=admin.headers)).status_code == 400
    assert (await client.get(f"{V3}/admin/users/99999", headers=admin.headers)).status_code == 404

    r = await client.put(f"{V3}/admin/users/{bob.id}", json={"role": "root"}, headers=admin.headers)
    assert r.status_code == 400
    r = await client.put(
        f"{V3}/admin/users/{admin.id}", json={"role": "user"}, headers=admin.headers
    )
    assert r.status_code == 403
    r = await client.put(
        f"{V3}/admin/users/{bob.id}", json={"role": "admin"}, headers=admin.headers
    )
    assert r.status_code == 200 and r.json()["data"]["role"] == "admin"
    assert (await client.get(f"{V3}/users/me", headers=bob.headers)).status_code == 401

    assert (
        await client.delete(f"{V3}/admin/users/{admin.id}", headers=admin.headers)
    ).status_code == 403
    assert (
        await client.delete(f"{V3}/admin/users/{bob.id}", headers=admin.headers)
    ).status_code == 200
    assert (
        await client.get(f"{V3}/admin/users/{bob.id}", headers=admin.headers)
    ).status_code == 404
    assert (
        await client.delete(f"{V3}/admin/users/{bob.id}", headers=admin.headers)
    ).status_code == 404


async def test_deleting_a_user_takes_their_reviews_out_of_the_aggregate(
    client: httpx.AsyncClient, factory: Factory
) -> None:
    admin, ana, bob = await factory.user("admin"), await factory.user(), await factory.user()
    body = {
        "name": "R",
        "cuisine": "thai",
        "city": "Lisbon",
        "address": "1 Rua",
        "latitude": 38.7,
        "longitude": -9.1,
        "price_level": 2,
    }
    rids = []
    for _ in range(2):
        r = await client.post(f"{V3}/restaurants", json=body, headers=admin.headers)
        rids.append(r.json()["data"]["id"])
    for user, rating in ((ana, 5), (bob, 2)):
        for rid in rids:
            r = await client.post(
                f"{V3}/reviews",
                headers=user.headers,
                json={"restaurant_id": rid, "rating": rating, "text": "t"},
            )
            assert r.status_code == 201
    assert (
        await client.delete(f"{V3}/admin/users/{ana.id}", headers=admin.headers)
    ).status_code == 200
    for rid in rids:
        data = (await client.get(f"{V3}/restaurants/{rid}")).json()["data"]
        assert (data["review_count"], data["rating_avg"]) == (1, 2.0)
    stats = (await client.get(f"{V3}/statistics")).json()["data"]
    assert stats["total_reviews"] == 2 and stats["average_rating"] == 2.0
