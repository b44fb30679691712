"""Pure ASGI middleware (no BaseHTTPMiddleware: it costs a task and a copy per request)."""

from __future__ import annotations

import os

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from bistro.core.context import context_of
from bistro.core.responses import error_body


class RequestIdMiddleware:
    """Every response carries ``X-Request-ID``: the client's own if it sent a sane one.

    It makes the request's context (:mod:`bistro.core.context`) and is the one layer that wraps
    ``send`` (a wrapper costs a coroutine per message): whatever inner layers put in the
    context's ``response_headers`` before the response starts goes out with it, and the
    context notes the status and size of what went out.
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
        context = context_of(scope)
        context.request_id = request_id
        extra = context.response_headers = {b"x-request-id": request_id.encode()}
        saw = context.saw

        async def send_with_headers(message: Message) -> None:
            saw(message)
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), *extra.items()]
            try:
                await send(message)
            except Exception:  # the server could not write: the client went away
                context.send_failed = True
                raise

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
