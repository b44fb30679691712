"""Pure ASGI metrics middleware: one recorder call (and one access-log line) per request.

It reads the route after the app has routed the request: Starlette updates the scope in
place, so ``scope["route"]`` (the matched template) and any ``scope["path"]`` rewrite by the
stable-path router are visible here whichever order the middlewares were added in. The served
version comes from ``scope["bistro.api_version"]`` when the router set it, else from the prefix.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

import structlog
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from bistro.core.middleware import REQUEST_ID_KEY, RESPONSE_SEEN_KEY, ResponseSeen
from bistro.monitoring.recorder import Recorder, SeriesKey, classify, status_class

API_VERSION_KEY = "bistro.api_version"
# Set by the stable-path router: (path as requested, endpoint group, flag reason, subject).
ROUTING_KEY = "bistro.routing"
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
        # (route template, served version, status) -> series key: bounded by the route table.
        self._keys: dict[tuple[str, str | None, int], SeriesKey] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        # Behind the request-id middleware its send wrapper notes the status and size (one
        # wrapper per request, not two); on its own, this middleware watches ``send`` itself.
        seen: ResponseSeen | None = scope.get(RESPONSE_SEEN_KEY)
        if seen is None:
            seen = ResponseSeen()
            send = _watching(send, seen)
        timer = self.timer
        started = timer()
        try:
            await self.app(scope, receive, send)
        finally:
            latency = timer() - started
            status, sent = seen.status, seen.body_bytes
            key = self._key(scope, status)
            self.recorder.record(key, latency, sent)
            if self.access_log:
                routing = scope.get(ROUTING_KEY)
                self.log.info(
                    "request",
                    request_id=scope.get(REQUEST_ID_KEY),
                    method=scope["method"],
                    path=scope["path"],
                    version=key[0],
                    route=key[2],
                    status=status,
                    latency_ms=round(latency * 1000, 3),
                    bytes=sent,
                    # A stable-path request: the path the client asked for and why that version.
                    stable_path=routing[0] if routing else None,
                    flag_reason=routing[2] if routing else None,
                )

    def _key(self, scope: Scope, status: int) -> SeriesKey:
        # FastAPI >= 0.16x keeps the route as declared (without the include prefix) in
        # scope["route"] and the full template in scope["effective_route_context"].
        context = scope.get("effective_route_context")
        template = (
            context.path if context is not None else getattr(scope.get("route"), "path", None)
        )
        served = scope.get(API_VERSION_KEY)
        if template is None:
            # No route matched (404/405): keep the label set bounded.
            version, group, _ = classify(scope["path"], served)
            return version, group, UNMATCHED, status_class(status)
        if template[:5] != "/api/":
            path = scope["path"]
            if path[:8] in ("/api/v3/", "/api/v4/"):
                template = path[:7] + template
        cache_key = (template, served, status)
        key = self._keys.get(cache_key)
        if key is None:
            version, group, label = classify(template, served)
            key = self._keys[cache_key] = (version, group, label, status_class(status))
        return key


def _watching(send: Send, seen: ResponseSeen) -> Send:
    async def send_watched(message: Message) -> None:
        seen.saw(message)
        await send(message)

    return send_watched
