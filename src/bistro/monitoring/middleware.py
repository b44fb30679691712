"""Pure ASGI metrics middleware: one recorder call (and one access-log line) per request.

It reads the route after the app has routed the request: Starlette updates the scope in
place, so ``scope["route"]`` (the matched template) and any ``scope["path"]`` rewrite by the
stable-path router are visible here whichever order the middlewares were added in. The served
version and the endpoint group come from the request context, where the stable-path router
put them (:mod:`bistro.core.context`); only a request it did not classify (the control plane,
docs, /metrics, or no router in front) is classified here, from its path.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

import structlog
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from bistro.core.context import RequestContext, context_of
from bistro.monitoring.recorder import Recorder, SeriesKey, classify, status_class

UNMATCHED = "unmatched"


class MetricsMiddleware:
    def __init__(
        self,
        app: ASGIApp,
        recorder: Recorder,
        *,
        access_log: bool = True,
        timer: Callable[[], float] = time.perf_counter,
    ) -> None:
        self.app = app
        self.recorder = recorder
        self.timer = timer
        # One logger per app, bound after the app configured logging; when its level filters
        # info out, the call is skipped altogether (building its arguments costs too).
        self.log = structlog.get_logger("bistro.access").bind()
        self.access_log = access_log and self.log.is_enabled_for(logging.INFO)
        # (route template, served version, group, status) -> series key: bounded by the routes.
        self._keys: dict[tuple[str, str | None, str | None, int], SeriesKey] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        # Behind the request-id middleware its send wrapper notes the status and size in the
        # context (one wrapper per request, not two); alone, this middleware watches ``send``.
        context = context_of(scope)
        if context.response_headers is None:
            send = _watching(send, context)
        timer = self.timer
        started = timer()
        try:
            await self.app(scope, receive, send)
        finally:
            latency = timer() - started
            status, sent = context.status, context.body_bytes
            key = self._key(scope, context, status)
            self.recorder.record(key, latency, sent)
            if self.access_log:
                self.log.info(
                    "request",
                    request_id=context.request_id,
                    method=scope["method"],
                    path=scope["path"],
                    version=key[0],
                    route=key[2],
                    status=status,
                    latency_ms=round(latency * 1000, 3),
                    bytes=sent,
                    # A stable-path request: the path the client asked for and why that version.
                    stable_path=context.stable_path,
                    flag_reason=context.flag_reason,
                )

    def _key(self, scope: Scope, context: RequestContext, status: int) -> SeriesKey:
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
            return version or "none", group, UNMATCHED, status_class(status)
        cache_key = (template, version, group, status)
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
            key = self._keys[cache_key] = (version, group, label, status_class(status))
        return key


def _watching(send: Send, context: RequestContext) -> Send:
    saw = context.saw

    async def send_watched(message: Message) -> None:
        saw(message)
        await send(message)

    return send_watched
