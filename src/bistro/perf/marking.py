"""Synthetic traffic: requests a tool sends (``bistro perf``, parity replays) are recorded
under the traffic source ``synthetic``, so the dashboard, the alerts and the rollout
controller, which judge client traffic only, never act on them.

A request asks for it with ``X-Bistro-Source: synthetic`` and proves it may with an admin's
bearer token, in ``X-Bistro-Source-Token`` (so the load itself stays anonymous to the routes
and measures what anonymous clients get) or in ``Authorization``. From anyone else the header
is ignored: an anonymous client must not be able to hide its traffic from the controller.

Whether a token is an admin's is looked up once per ``ttl`` seconds (a digest -> bool cache),
not per request: a load test must not add a token query to every request it measures. A
demoted admin's token can thus mark traffic for at most ``ttl`` seconds more; it never grants
any access, which the routes still decide for themselves.
"""

from __future__ import annotations

import hashlib
from collections import OrderedDict
from datetime import datetime
from typing import Any

from starlette.types import ASGIApp, Receive, Scope, Send

from bistro.core.clock import Clock, SystemClock
from bistro.core.context import context_of
from bistro.migration.subjects import PrincipalLookup
from bistro.monitoring.recorder import SYNTHETIC, mark_source

SOURCE_HEADER = b"x-bistro-source"
TOKEN_HEADER = b"x-bistro-source-token"
_NEGATIVE_TTL = 5.0


def _credentials(headers: list[tuple[bytes, bytes]]) -> tuple[bool, str | None]:
    wanted, token, bearer = False, None, None
    for name, value in headers:
        if name == SOURCE_HEADER:
            wanted = value.strip().lower() == SYNTHETIC.encode()
        elif name == TOKEN_HEADER:
            token = value.strip().decode("latin-1") or None
        elif name == b"authorization":
            scheme, _, rest = value.partition(b" ")
            if scheme.lower() == b"bearer" and rest.strip():
                bearer = rest.strip().decode("latin-1")
    return wanted, token or bearer


class SyntheticSourceMarker:
    """Pure ASGI: marks an admin's ``X-Bistro-Source: synthetic`` requests; costs one header
    scan for every other request."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        lookup: PrincipalLookup,
        ttl: float = 30.0,
        max_entries: int = 1024,
        clock: Clock | None = None,
    ) -> None:
        self.app = app
        self.lookup = lookup
        self.ttl = ttl
        self.max_entries = max_entries
        self.clock = clock or SystemClock()
        self._admins: OrderedDict[str, tuple[float, bool]] = OrderedDict()
        self.lookups = 0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            wanted, token = _credentials(scope["headers"])
            if wanted and token is not None and await self._is_admin(scope, token):
                mark_source(scope, SYNTHETIC)
        await self.app(scope, receive, send)

    async def _is_admin(self, scope: Scope, token: str) -> bool:
        context = context_of(scope)
        if context.principal_resolved:  # the stable-path router looked this request's token up
            principal = context.principal
            if principal is not None and _bearer_is(scope, token):
                return bool(principal.is_admin)
        digest = hashlib.sha256(token.encode()).hexdigest()
        now = self.clock.monotonic()
        hit = self._admins.get(digest)
        if hit is not None and hit[0] > now:
            return hit[1]
        state: Any = scope["app"].state.bistro
        self.lookups += 1
        async with state.db.engine.connect() as conn:
            found = await self.lookup(conn, digest, _now(state))
        is_admin = found is not None and found.is_admin
        self._admins[digest] = (
            now + (self.ttl if is_admin else min(self.ttl, _NEGATIVE_TTL)),
            is_admin,
        )
        self._admins.move_to_end(digest)
        while len(self._admins) > self.max_entries:
            self._admins.popitem(last=False)
        return is_admin


def _bearer_is(scope: Scope, token: str) -> bool:
    """Whether ``token`` is the request's Authorization bearer (the one the router resolved)."""
    _, bearer = _credentials([(n, v) for n, v in scope["headers"] if n == b"authorization"])
    return bearer == token


def _now(state: Any) -> datetime:
    clock: Clock = state.clock
    return clock.now()
