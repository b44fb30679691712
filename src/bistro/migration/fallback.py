"""The ``api_v4_validation`` kill switch on the stable path: v4 first, v3 for what v4 refuses.

A request v4's stricter validation rejects (422) is served by v3 instead, whose validation is
v3's: v4 behaviour for everything v4 accepts, v3's answer for input only v3 accepts. Nothing
is written by a 422, so the retry is safe; the request body is replayed. ``/api/v4`` callers
asked for v4 explicitly and keep its 422 (this runs on the stable path only).
"""

from __future__ import annotations

from collections.abc import Callable

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from bistro.core.context import RequestContext

REASON = "api_v4_validation off: v4 rejected the input, served by v3"
V3_PREFIX = "/api/v3/"


async def serve_with_v3_validation(
    app: ASGIApp,
    scope: Scope,
    receive: Receive,
    send: Send,
    context: RequestContext,
    rest: str,
    served: Callable[[str], None],
) -> None:
    """Run ``app`` on the v4 path in ``scope``; on a 422, again on ``/api/v3/<rest>``.

    ``served(version)`` is told which version answered (once). Every layer inside this one
    (the metrics) sees both attempts; the client sees only the answer that counts.
    """
    recorded: list[Message] = []
    rejected = False
    # A rejected attempt's messages stop here, before the layer that notes what goes out:
    # they are noted in the context here, so the metrics count the attempt as v4's 422; the
    # facts start again for v3's answer.
    watched = context.response_headers is not None

    async def recording_receive() -> Message:
        message = await receive()
        recorded.append(message)
        return message

    async def unless_rejected(message: Message) -> None:
        nonlocal rejected
        if message["type"] == "http.response.start" and message["status"] == 422:
            rejected = True
        if not rejected:
            await send(message)
        elif watched:
            context.saw(message)

    try:
        await app(scope, recording_receive, unless_rejected)
    finally:
        served("v3" if rejected else "v4")
    if not rejected:
        return
    context.forget_response()  # v3's answer goes all the way out
    context.cache_bypass = False
    context.error_style = None
    context.flag_reason = REASON
    context.version = "v3"
    scope["path"] = V3_PREFIX + rest
    extra = context.response_headers
    if extra is not None and b"x-api-version" in extra:
        extra[b"x-api-version"] = b"v3"

    async def replay() -> Message:
        if recorded:
            return recorded.pop(0)
        return await receive()

    await app(scope, replay, send)
