"""Drive known traffic through the real metrics middleware with a fake timer."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import parse_qs

from starlette.types import Receive, Scope, Send

from bistro.monitoring.middleware import MetricsMiddleware
from bistro.monitoring.recorder import Recorder


class FakeTimer:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


@dataclass(frozen=True)
class _Route:
    path: str


def traffic_app(timer: FakeTimer) -> MetricsMiddleware:
    """A tiny ASGI app that routes like Starlette (sets scope["route"]), takes as long as the
    query asks (on the fake timer) and answers with the asked status."""

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        query = parse_qs(scope["query_string"].decode())
        scope["route"] = _Route(scope["path"].rsplit("/", 1)[0] + "/{restaurant_id}")
        timer.now += int(query["latency_us"][0]) / 1_000_000
        status = int(query["status"][0])
        body = b'{"ok": true}' if status < 400 else b'{"ok": false, "error": "boom"}'
        await send({"type": "http.response.start", "status": status, "headers": []})
        await send({"type": "http.response.body", "body": body})

    return app  # type: ignore[return-value]


async def drive(recorder: Recorder, requests: list[tuple[str, int, int]]) -> None:
    """Send (path, status, latency in us) requests through a MetricsMiddleware."""
    timer = FakeTimer()
    middleware = MetricsMiddleware(traffic_app(timer), recorder, access_log=False, timer=timer)
    sent: list[dict[str, object]] = []

    async def receive() -> dict[str, object]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, object]) -> None:
        sent.append(message)

    for path, status, latency_us in requests:
        scope = {
            "type": "http",
            "method": "GET",
            "path": path,
            "headers": [],
            "query_string": f"status={status}&latency_us={latency_us}".encode(),
        }
        await middleware(scope, receive, send)  # type: ignore[arg-type]
