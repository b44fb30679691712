"""The cache-hit fast path: a GET whose answer is in L1 is sent before FastAPI routes it.

A cached v4 read (detail, list, search, statistics, reviews) spends most of its time in
FastAPI's routing and dependency resolution, only to send bytes the cache already holds. The
answer of such a route depends only on its path and query string (the cache key is made
from them) and is always the cached body, as is (:func:`bistro.core.cache.cached_response`).
So when a route answers through the cache, :class:`FastPathIndex` notes which key that
(path, query string) reads; the next GET with the same (path, query string) is answered by
:class:`CacheHitFastPath` from L1 directly, if the body is there and the cache may answer.

It sits innermost, after every layer that must see every request (request id, the stable-path
router and its flag decisions, metrics and access log, fault drills): they run as they do for
the slow path, and the metrics see the same route as FastAPI would have matched (it is noted
with the key). Anything else falls through to FastAPI unchanged: a request never answered
through the cache, an L1 miss (the slow path loads and fills it), a cache switched off for
this request (``api_v4_cache``), any method but GET. L1 is read through the same check the
slow path uses (TTL, tag generations, trusted only while invalidations from other instances
arrive), so TTLs and cross-instance invalidation are the same.
"""

from __future__ import annotations

from typing import Any

from starlette.types import ASGIApp, Receive, Scope, Send

from bistro.core.cache.two_level import Cache
from bistro.core.context import CONTEXT_KEY, RequestContext

_JSON = b"application/json"


class FastPathIndex:
    """(path, query string) of a GET a cached route answered -> (its cache key, its route).

    Bounded: cleared whole when full (it refills from the next slow-path answers).
    """

    __slots__ = ("_entries", "answered", "cache", "max_entries")

    def __init__(self, max_entries: int = 65_536) -> None:
        self.max_entries = max_entries
        self._entries: dict[tuple[str, bytes], tuple[str, tuple[Any, Any]]] = {}
        self.cache: Cache | None = None  # attached when the app starts
        self.answered = 0  # requests the fast path answered

    def __len__(self) -> int:
        return len(self._entries)

    def note(self, scope: Scope, key: str) -> None:
        """A cached route is answering this request from ``key``'s body."""
        if scope["method"] != "GET":
            return
        entries = self._entries
        if len(entries) >= self.max_entries:
            entries.clear()
        # What the route's match left in the scope: the metrics read the route label there.
        route = (scope.get("route"), scope.get("effective_route_context"))
        entries[(scope["path"], scope["query_string"])] = (key, route)

    def lookup(self, path: str, query_string: bytes) -> tuple[str, tuple[Any, Any]] | None:
        return self._entries.get((path, query_string))


class CacheHitFastPath:
    def __init__(self, app: ASGIApp, index: FastPathIndex) -> None:
        self.app = app
        self.index = index

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] == "GET":
            known = self.index.lookup(scope["path"], scope["query_string"])
            if known is not None:
                context: RequestContext | None = scope.get(CONTEXT_KEY)
                cache = self.index.cache
                if cache is not None and (context is None or not context.cache_bypass):
                    body = cache.peek(known[0])
                    if body is not None:
                        self.index.answered += 1
                        scope["route"], scope["effective_route_context"] = known[1]
                        await send(
                            {
                                "type": "http.response.start",
                                "status": 200,
                                # As JSONBytes sends them (Starlette's order).
                                "headers": [
                                    (b"content-length", str(len(body)).encode()),
                                    (b"content-type", _JSON),
                                ],
                            }
                        )
                        await send({"type": "http.response.body", "body": body})
                        return
        await self.app(scope, receive, send)
