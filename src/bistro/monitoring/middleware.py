"""Pure ASGI metrics middleware: one recorder call (and one access-log line) per request.

It reads the route after the app has routed the request: Starlette updates the scope in
place, so ``scope["route"]`` (the matched template) and any ``scope["path"]`` rewrite by the
stable-path router are visible here whichever order the middlewares were added in. The served
version and the endpoint group come from the request context, where the stable-path router
put them (:mod:`bistro.core.context`); only a request it did not classify (the control plane,
docs, /metrics, or no router in front) is classified here, from its path.

Each request is recorded under its traffic source (``stable`` when the stable-path router
routed it, else ``direct``, unless a layer marked it ``shadow`` or ``synthetic`` with
``recorder.mark_source``) and its outcome: the status class, or ``client_abort`` when the
client went away before its response was complete. The latency recorded is the server's:
from the request to the response's first byte (``http.response.start``), less the time the
app spent waiting in ``receive`` for a slow client's body. A slow reader or a slow uploader
does not inflate it; the access log also carries the total time.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

import structlog
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from bistro.core.context import RequestContext, context_of
from bistro.monitoring.access_log import AccessLog
from bistro.monitoring.recorder import (
    CLIENT_ABORT,
    DIRECT,
    STABLE,
    Recorder,
    SeriesKey,
    classify,
    status_class,
)

UNMATCHED = "unmatched"
# Requests without a body: their ``receive`` is not watched (a wrapper per request costs, and
# the API's GETs never call it). A GET whose client leaves mid-answer is recorded as answered,
# with the server's time to its first byte, which is what the server did.
_NO_BODY = frozenset(("GET", "HEAD", "OPTIONS"))


class MetricsMiddleware:
    def __init__(
        self,
        app: ASGIApp,
        recorder: Recorder,
        *,
        access_log: bool = True,
        timer: Callable[[], float] = time.perf_counter,
        writer: AccessLog | None = None,
    ) -> None:
        self.app = app
        self.recorder = recorder
        self.timer = timer
        # With a writer, access-log lines are queued and written off the request path.
        self.writer = writer
        # One logger per app, bound after the app configured logging; when its level filters
        # info out, the call is skipped altogether (building its arguments costs too).
        self.log = structlog.get_logger("bistro.access").bind()
        self.access_log = access_log and self.log.is_enabled_for(logging.INFO)
        # (route template, served version, group, source, outcome) -> series key: bounded
        # by the routes.
        self._keys: dict[tuple[str, str | None, str | None, str, int | str], SeriesKey] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        # Behind the request-id middleware its send wrapper notes the status, size and first
        # byte in the context (one wrapper per request, not two); alone, this middleware
        # watches ``send``.
        context = context_of(scope)
        if context.response_headers is None:
            send = _watching(send, context)
        timer = context.timer = self.timer
        if scope["method"] not in _NO_BODY:
            receive = _watching_receive(receive, context)
        started = timer()
        try:
            await self.app(scope, receive, send)
        finally:
            ended = timer()
            first_byte = context.first_byte_at
            # The server's time: to the first byte (or to the end when nothing was sent),
            # less what the app spent waiting for the client's body.
            latency = (ended if first_byte is None else first_byte) - started - context.waited
            status, sent = context.status, context.body_bytes
            aborted = context.send_failed or context.disconnected  # see client_aborted
            key = self._key(scope, context, CLIENT_ABORT if aborted else status)
            self.recorder.record(key, latency, sent)
            if self.access_log and self.writer is not None:
                self.writer.record(
                    time.time(),
                    (
                        context.request_id,
                        scope["method"],
                        scope["path"],
                        key[0],
                        key[1],
                        key[3],
                        status,
                        key[4],
                        round(latency * 1000, 3),
                        round((ended - started) * 1000, 3),
                        sent,
                        context.stable_path,
                        context.flag_reason,
                    ),
                )
            elif self.access_log:
                self.log.info(
                    "request",
                    request_id=context.request_id,
                    method=scope["method"],
                    path=scope["path"],
                    source=key[0],
                    version=key[1],
                    route=key[3],
                    status=status,
                    outcome=key[4],
                    latency_ms=round(latency * 1000, 3),
                    total_ms=round((ended - started) * 1000, 3),
                    bytes=sent,
                    # A stable-path request: the path the client asked for and why that version.
                    stable_path=context.stable_path,
                    flag_reason=context.flag_reason,
                )

    def _key(self, scope: Scope, context: RequestContext, outcome: int | str) -> SeriesKey:
        source = context.source or (DIRECT if context.stable_path is None else STABLE)
        # FastAPI >= 0.16x keeps the route as declared (without the include prefix) in
        # scope["route"] and the full template in scope["effective_route_context"].
        route_context = scope.get("effective_route_context")
        template = (
            route_context.path
            if route_context is not None
            else getattr(scope.get("route"), "path", None)
        )
        version, group = context.version, context.group
        if template is None:
            # No route matched (404/405): keep the label set bounded.
            if group is None:
                version, group, _ = classify(scope["path"], version)
            return source, version or "none", group, UNMATCHED, _outcome(outcome)
        cache_key = (template, version, group, source, outcome)
        key = self._keys.get(cache_key)
        if key is None:
            if group is not None and version is not None:
                # The router decided: the label is the template without its /api/vN prefix.
                label = template[7:] if template[:8] in ("/api/v3/", "/api/v4/") else template
            else:
                if template[:5] != "/api/":
                    path = scope["path"]
                    if path[:8] in ("/api/v3/", "/api/v4/"):
                        template = path[:7] + template
                version, group, label = classify(template, version)
            key = self._keys[cache_key] = (source, version, group, label, _outcome(outcome))
        return key


def _outcome(outcome: int | str) -> str:
    return outcome if isinstance(outcome, str) else status_class(outcome)


def _watching(send: Send, context: RequestContext) -> Send:
    saw = context.saw

    async def send_watched(message: Message) -> None:
        saw(message)
        try:
            await send(message)
        except Exception:  # the server could not write: the client went away
            context.send_failed = True
            raise

    return send_watched


def _watching_receive(receive: Receive, context: RequestContext) -> Receive:
    """``receive`` noting a disconnect and the time spent waiting for the client."""

    async def receive_watched() -> Message:
        timer = context.timer
        began = timer()
        message = await receive()
        if context.first_byte_at is None:
            context.waited += timer() - began
        if message["type"] == "http.disconnect" and not context.complete:
            context.disconnected = True
        return message

    return receive_watched
