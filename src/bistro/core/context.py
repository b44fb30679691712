"""The one piece of per-request state the layers share: a typed, slotted object in the scope.

Every layer that needs to tell another something about the request (the stable-path router
telling the metrics which version served it, the flags telling the cache to skip itself, the
request-id layer noting what went out) reads and writes a field of :class:`RequestContext`
under ``scope[CONTEXT_KEY]``, instead of keys of its own in the ASGI scope. The fields say
who writes them; anything not yet decided is ``None``.

Starlette's ``Request`` wraps the same scope dict, so routes and dependencies reach it with
``context_of(request.scope)``, as pure ASGI layers do with their scope.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from starlette.types import Message, Scope

from bistro.core.auth import Principal

CONTEXT_KEY = "bistro"


class RequestContext:
    """What the layers know about one request. Slotted: it is made once per request."""

    __slots__ = (
        "body_bytes",
        "cache_bypass",
        "complete",
        "disconnected",
        "error_style",
        "first_byte_at",
        "flag_reason",
        "group",
        "invalidations",
        "principal",
        "principal_resolved",
        "request_id",
        "response_headers",
        "send_failed",
        "source",
        "stable_path",
        "status",
        "subject",
        "timer",
        "version",
        "waited",
    )

    def __init__(self) -> None:
        # The request-id layer: the id, and headers every response of this request carries
        # (name -> value; inner layers add to it instead of wrapping ``send`` once more each).
        # ``response_headers`` stays None when no outer layer adds them: a layer that has
        # headers to add, or needs the response facts, then watches ``send`` itself.
        self.request_id: str | None = None
        self.response_headers: dict[bytes, bytes] | None = None
        # Response facts, noted as the messages go out: status (500 until a response starts),
        # body bytes, when the response started (on ``timer``: the metrics' time to first
        # byte) and whether its last byte went out. The metrics and the access log read them
        # when the app returns.
        self.status = 500
        self.body_bytes = 0
        self.first_byte_at: float | None = None
        self.complete = False
        self.timer: Callable[[], float] = time.perf_counter
        # The client's side (the metrics' outcome ``client_abort``): it disconnected before
        # the response was complete, or a ``send`` failed because it went away; and how long
        # the app waited in ``receive`` for its body before the response started (the
        # client's time, not the server's).
        self.disconnected = False
        self.send_failed = False
        self.waited = 0.0
        # Where the request came from, when a layer says so (``bistro.monitoring.recorder``
        # SOURCES, set with its ``mark_source``): a parity shadow call, synthetic traffic.
        # None: ``stable`` when the stable-path router routed it, else ``direct``.
        self.source: str | None = None
        # The stable-path router: the implementation serving the request ("v3"/"v4", also
        # for /api/v3 and /api/v4), its endpoint group, and on the stable path the path as the
        # client asked for it, why that version, and the subject it was decided for.
        self.version: str | None = None
        self.group: str | None = None
        self.stable_path: str | None = None
        self.flag_reason: str | None = None
        self.subject: str | None = None
        # The signed-in user, once the router or a dependency has looked the bearer token up
        # in the database for this request (``principal_resolved``; ``principal`` None: the
        # token is not live). A route's dependency then takes it instead of asking again.
        self.principal: Principal | None = None
        self.principal_resolved = False
        # v4 sub-feature switches for this request (the flags): skip the cache; render
        # errors in v3's style.
        self.cache_bypass = False
        self.error_style: str | None = None
        # Cache tags the request's writes touched, invalidated after its commit.
        self.invalidations: set[str] | None = None

    def saw(self, message: Message) -> None:
        """Note a response message going out (status, body size, first byte, last byte)."""
        kind = message["type"]
        if kind == "http.response.body":
            self.body_bytes += len(message.get("body", b""))
            if not message.get("more_body", False):
                self.complete = True
        elif kind == "http.response.start":
            self.status = message["status"]
            self.first_byte_at = self.timer()

    def forget_response(self) -> None:
        """Start the response facts again (a layer retrying the request with another app)."""
        self.status = 500
        self.body_bytes = 0
        self.first_byte_at = None
        self.complete = False
        self.waited = 0.0

    @property
    def client_aborted(self) -> bool:
        """The client went away before the whole response was handed to the server (the
        metrics note ``disconnected`` only for a disconnect that came before the last byte)."""
        return self.send_failed or self.disconnected


def context_of(scope: Scope) -> RequestContext:
    """The request's context, made here if no outer layer has made it yet."""
    context: RequestContext | None = scope.get(CONTEXT_KEY)
    if context is None:
        context = scope[CONTEXT_KEY] = RequestContext()
    return context
