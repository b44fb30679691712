"""``migration test``: call every v4 endpoint of a running service and say which ones work.

It signs up a throwaway user, writes and deletes one review (and, with an admin token, one
restaurant, then deletes the throwaway user), so it leaves the data as it found it. Without
an admin token the admin endpoints are checked to refuse anonymous callers (401).
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

import httpx

V4 = "/api/v4"
_HOURS = {day: [["09:00", "22:00"]] for day in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")}


@dataclass
class CheckResult:
    endpoint: str
    outcome: str  # pass | fail | skip
    status: int | None
    detail: str
    ms: float

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


class _Run:
    def __init__(self, client: httpx.AsyncClient) -> None:
        self.client = client
        self.results: list[CheckResult] = []

    async def check(
        self,
        endpoint: str,
        method: str,
        path: str,
        expect: int,
        validate: Callable[[Any], str | None] | None = None,
        **kwargs: Any,
    ) -> Any:
        """Call once; pass when the status and the envelope are as expected. Returns the body."""
        started = time.perf_counter()
        try:
            response = await self.client.request(method, V4 + path, **kwargs)
        except httpx.HTTPError as exc:
            self._add(endpoint, "fail", None, f"{type(exc).__name__}: {exc}", started)
            return None
        try:
            body = response.json()
        except ValueError:
            self._add(endpoint, "fail", response.status_code, "body is not JSON", started)
            return None
        problem = None
        if response.status_code != expect:
            problem = f"expected {expect}, got {response.status_code}: {str(body)[:120]}"
        elif not isinstance(body, dict) or body.get("success") is not (expect < 400):
            problem = "response is not the API envelope"
        elif validate is not None:
            problem = validate(body)
        self._add(
            endpoint, "fail" if problem else "pass", response.status_code, problem or "ok", started
        )
        return None if problem else body

    def skip(self, endpoint: str, why: str) -> None:
        self.results.append(CheckResult(endpoint, "skip", None, why, 0.0))

    def _add(
        self, endpoint: str, outcome: str, status: int | None, detail: str, started: float
    ) -> None:
        ms = round((time.perf_counter() - started) * 1000, 2)
        self.results.append(CheckResult(endpoint, outcome, status, detail, ms))


def _is_list(body: Any) -> str | None:
    ok = isinstance(body.get("data"), list) and "total" in body.get("meta", {})
    return None if ok else "data is not a list with meta.total"


def _has(*fields: str) -> Callable[[Any], str | None]:
    def validate(body: Any) -> str | None:
        data = body.get("data")
        missing = [f for f in fields if not isinstance(data, dict) or f not in data]
        return f"data lacks {', '.join(missing)}" if missing else None

    return validate


async def run_endpoint_checks(
    client: httpx.AsyncClient, admin_token: str | None = None
) -> list[CheckResult]:
    run = _Run(client)
    admin = {"Authorization": f"Bearer {admin_token}"} if admin_token else None
    body = await run.check("GET /restaurants", "GET", "/restaurants?limit=5", 200, _is_list)
    restaurant_id = body["data"][0]["id"] if body and body["data"] else None
    await run.check("GET /restaurants/search", "GET", "/restaurants/search?q=a", 200, _is_list)
    if restaurant_id is not None:
        await run.check(
            "GET /restaurants/{id}",
            "GET",
            f"/restaurants/{restaurant_id}",
            200,
            _has("id", "name", "hours", "is_open_now"),
        )
    else:
        await run.check("GET /restaurants/{id}", "GET", "/restaurants/2147483646", 404)
    await run.check("GET /reviews", "GET", "/reviews?limit=5", 200, _is_list)
    await run.check(
        "GET /statistics",
        "GET",
        "/statistics",
        200,
        _has("total_restaurants", "total_reviews", "rating_histogram"),
    )

    email = f"migration-test-{uuid.uuid4().hex[:12]}@example.com"
    password = uuid.uuid4().hex
    user = await run.check(
        "POST /auth/register",
        "POST",
        "/auth/register",
        201,
        _has("id"),
        json={"email": email, "password": password, "display_name": "Migration test"},
    )
    login = await run.check(
        "POST /auth/login",
        "POST",
        "/auth/login",
        200,
        _has("token"),
        json={"email": email, "password": password},
    )
    me = {"Authorization": f"Bearer {login['data']['token']}"} if login else None
    if me is None:
        for name in ("GET /users/me", "PUT /users/me", "POST /reviews", "POST /auth/logout"):
            run.skip(name, "no signed-in user (login failed)")
    else:
        await run.check("GET /users/me", "GET", "/users/me", 200, _has("email"), headers=me)
        await run.check(
            "PUT /users/me",
            "PUT",
            "/users/me",
            200,
            _has("display_name"),
            headers=me,
            json={"display_name": "Migration test 2"},
        )
        await _review_checks(run, me, restaurant_id)

    await _admin_checks(run, admin, user["data"]["id"] if user else None)
    if me is not None:
        await run.check("POST /auth/logout", "POST", "/auth/logout", 200, headers=me)
        await run.check("GET /users/me (after logout)", "GET", "/users/me", 401, headers=me)
    if admin is not None and user is not None:
        await run.check(
            "DELETE /admin/users/{id}",
            "DELETE",
            f"/admin/users/{user['data']['id']}",
            200,
            headers=admin,
        )
    return run.results


async def _review_checks(run: _Run, me: dict[str, str], restaurant_id: int | None) -> None:
    if restaurant_id is None:
        for name in (
            "POST /reviews",
            "GET /reviews/{id}",
            "PUT /reviews/{id}",
            "DELETE /reviews/{id}",
        ):
            run.skip(name, "no restaurant to review")
        return
    review = await run.check(
        "POST /reviews",
        "POST",
        "/reviews",
        201,
        _has("id", "rating"),
        headers=me,
        json={
            "restaurant_id": restaurant_id,
            "rating": 4,
            "text": "Checked by bistro migration test",
        },
    )
    if review is None:
        return
    path = f"/reviews/{review['data']['id']}"
    await run.check("GET /reviews/{id}", "GET", path, 200, _has("id", "text"))
    await run.check(
        "PUT /reviews/{id}", "PUT", path, 200, _has("rating"), headers=me, json={"rating": 5}
    )
    await run.check("DELETE /reviews/{id}", "DELETE", path, 200, headers=me)


async def _admin_checks(run: _Run, admin: dict[str, str] | None, user_id: int | None) -> None:
    if admin is None:
        # Without an admin token, check that the admin endpoints refuse anonymous callers.
        await run.check("GET /admin/users (refuses anonymous)", "GET", "/admin/users", 401)
        await run.check(
            "POST /restaurants (refuses anonymous)", "POST", "/restaurants", 401, json={}
        )
        return
    await run.check("GET /admin/users", "GET", "/admin/users", 200, _is_list, headers=admin)
    if user_id is not None:
        await run.check(
            "GET /admin/users/{id}",
            "GET",
            f"/admin/users/{user_id}",
            200,
            _has("email"),
            headers=admin,
        )
        await run.check(
            "PUT /admin/users/{id}",
            "PUT",
            f"/admin/users/{user_id}",
            200,
            _has("role"),
            headers=admin,
            json={"role": "user"},
        )
    created = await run.check(
        "POST /restaurants",
        "POST",
        "/restaurants",
        201,
        _has("id"),
        headers=admin,
        json={
            "name": "Migration test bistro",
            "cuisine": "thai",
            "city": "Lisbon",
            "address": "1 Test Street",
            "latitude": 38.7,
            "longitude": -9.1,
            "price_level": 2,
            "hours": _HOURS,
        },
    )
    if created is None:
        run.skip("PUT /restaurants/{id}", "restaurant not created")
        run.skip("DELETE /restaurants/{id}", "restaurant not created")
        return
    path = f"/restaurants/{created['data']['id']}"
    await run.check(
        "PUT /restaurants/{id}",
        "PUT",
        path,
        200,
        _has("name"),
        headers=admin,
        json={"name": "Migration test bistro 2"},
    )
    await run.check("DELETE /restaurants/{id}", "DELETE", path, 200, headers=admin)
