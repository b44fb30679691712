"""The request context: the one scope entry the layers share, filled by the layer that knows."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from starlette.types import ASGIApp, Receive, Scope, Send

from bistro.core.context import CONTEXT_KEY, RequestContext
from bistro.migration.flags import Flag, Stage, Version
from tests.e2e.test_stable_path import set_flag
from tests.support import Factory


class KeepScope:
    """Outermost layer: remembers the scope of each request after the app has answered."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.scopes: list[Scope] = []

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self.app(scope, receive, send)
        self.scopes.append(scope)


async def _get(app: ASGIApp, path: str, headers: dict[str, str]) -> dict[str, Any]:
    sent: dict[str, Any] = {"body": b""}
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
        "headers": [(k.lower().encode(), v.encode()) for k, v in headers.items()],
    }

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            sent["status"] = message["status"]
            sent["headers"] = dict(message["headers"])
        else:
            sent["body"] += message.get("body", b"")

    await app(scope, receive, send)
    return sent


def _context(scope: Scope) -> RequestContext:
    # Nothing else of Bistro's is left in the scope: one key, one typed object.
    assert [k for k in scope if k.startswith("bistro")] == [CONTEXT_KEY]
    context = scope[CONTEXT_KEY]
    assert isinstance(context, RequestContext)
    return context


async def test_each_layer_fills_its_part_of_the_context(app: FastAPI, factory: Factory) -> None:
    tasca = await factory.restaurant()
    user = await factory.user()
    await set_flag(app, Flag.ENABLED, Stage.FULL)
    await set_flag(app, Flag.RESTAURANTS, Stage.FULL)
    kept = KeepScope(app)

    sent = await _get(kept, f"/api/restaurants/{tasca['id']}", {"X-Client-ID": "phone-1"})
    context = _context(kept.scopes[-1])
    assert (context.version, context.group, context.subject) == ("v4", "restaurants", None)
    assert context.stable_path == f"/api/restaurants/{tasca['id']}"
    assert context.flag_reason is not None and "full" in context.flag_reason
    assert context.request_id == sent["headers"][b"x-request-id"].decode()
    assert (context.status, context.body_bytes) == (200, len(sent["body"]))
    assert context.principal is None and not context.cache_bypass

    await _get(kept, "/api/v3/reviews", {"Authorization": f"Bearer {user.token}"})
    context = _context(kept.scopes[-1])
    assert (context.version, context.group, context.stable_path) == ("v3", "reviews", None)
    assert context.principal is None  # the v3 list does not authenticate

    await _get(kept, "/api/v4/users/me", {"Authorization": f"Bearer {user.token}"})
    context = _context(kept.scopes[-1])
    assert (context.version, context.group, context.status) == ("v4", "users", 200)
    assert context.principal is not None and context.principal.id == user.id

    await _get(kept, "/api/v4/migration/status", {})
    context = _context(kept.scopes[-1])
    assert (context.version, context.group) == (None, None)  # the control plane: not traffic


async def test_cache_switch_off_for_one_subject_reaches_the_cache(
    app: FastAPI, factory: Factory
) -> None:
    tasca = await factory.restaurant()
    runtime = app.state.bistro.extras["flags"]
    async with runtime.changing() as flags:
        await flags.set_override(Flag.CACHE, "phone-9", Version.V3, actor="test")
    await set_flag(app, Flag.ENABLED, Stage.FULL)
    await set_flag(app, Flag.RESTAURANTS, Stage.FULL)
    kept = KeepScope(app)
    await _get(kept, f"/api/restaurants/{tasca['id']}", {"X-Client-ID": "phone-9"})
    assert _context(kept.scopes[-1]).cache_bypass
    await _get(kept, f"/api/restaurants/{tasca['id']}", {"X-Client-ID": "phone-8"})
    assert not _context(kept.scopes[-1]).cache_bypass
