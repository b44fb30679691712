"""Pure ASGI middleware (no BaseHTTPMiddleware: it costs a task and a copy per request)."""

from __future__ import annotations

import os

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from bistro.core.responses import error_body

REQUEST_ID_KEY = "bistro.request_id"
# Headers every response of this request carries, name -> value. Inner middlewares add to it
# (the stable-path router's X-API-Version) instead of wrapping ``send`` once more each.
RESPONSE_HEADERS_KEY = "bistro.response_headers"
# The ResponseSeen of this request: the status and body size that went out, which the metrics
# middleware reads when the app returns. A layer between the two that holds messages back
# (the stable path's validation fallback) must put its own ResponseSeen here for that time.
RESPONSE_SEEN_KEY = "bistro.response_seen"


class ResponseSeen:
    """What went out for one request: the status (500 until a response starts) and body bytes."""

    __slots__ = ("body_bytes", "status")

    def __init__(self) -> None:
        self.status = 500
        self.body_bytes = 0

    def saw(self, message: Message) -> None:
        if message["type"] == "http.response.body":
            self.body_bytes += len(message.get("body", b""))
        elif message["type"] == "http.response.start":
            self.status = message["status"]


class RequestIdMiddleware:
    """Every response carries ``X-Request-ID``: the client's own if it sent a sane one.

    It is also the one layer that wraps ``send`` (a wrapper costs a coroutine per message):
    whatever inner middlewares put in ``scope[RESPONSE_HEADERS_KEY]`` before the response
    starts goes out with it, and ``scope[RESPONSE_SEEN_KEY]`` notes what went out.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = None
        for name, value in scope["headers"]:
            if name == b"x-request-id":
                if 0 < len(value) <= 128 and value.isascii():
                    request_id = value.decode()
                break
        if request_id is None:
            request_id = os.urandom(16).hex()  # as random as uuid4().hex, at a third of the cost
        scope[REQUEST_ID_KEY] = request_id
        extra: dict[bytes, bytes] = {b"x-request-id": request_id.encode()}
        scope[RESPONSE_HEADERS_KEY] = extra
        seen = scope[RESPONSE_SEEN_KEY] = ResponseSeen()

        async def send_with_headers(message: Message) -> None:
            seen.saw(message)
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), *extra.items()]
            await send(message)

        await self.app(scope, receive, send_with_headers)


class BodySizeLimitMiddleware:
    """Refuse request bodies over ``max_bytes`` with a 413 envelope, before anything parses them."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] in ("GET", "HEAD", "OPTIONS"):
            await self.app(scope, receive, send)
            return
        for name, value in scope["headers"]:
            if name == b"content-length":
                try:
                    too_big = int(value) > self.max_bytes
                except ValueError:
                    too_big = False
                if too_big:
                    await self._reject(scope, send)
                    return
                break

        received = 0
        limit = self.max_bytes

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise _BodyTooLarge
            return message

        try:
            await self.app(scope, limited_receive, send)
        except _BodyTooLarge:
            await self._reject(scope, send)

    async def _reject(self, scope: Scope, send: Send) -> None:
        style = "v3" if scope["path"].startswith("/api/v3/") else "v4"
        body = error_body(
            f"Request body larger than {self.max_bytes} bytes",
            413,
            "PAYLOAD_TOO_LARGE",
            {"max_bytes": self.max_bytes},
            style=style,
        )
        await send(
            {
                "type": "http.response.start",
                "status": 413,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(body)).encode()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})


class _BodyTooLarge(Exception):
    pass
