"""How v4 routes use the cache.

Reads::

    return await cached_response(request, make_key("restaurant", restaurant_id),
                                 loader, entity="restaurants", tags=[tags.restaurant(id)])

where ``loader`` returns the finished response body (``success_body(...)``): a hit sends the
stored bytes as they are, without validating or encoding anything again.

Writes: ``invalidate_after_commit(request, *tags)`` during the request; the request's unit of
work (``core.deps.get_session``) commits, then calls :func:`flush_invalidations`, before the
response is sent. Invalidating before the commit would let a concurrent read cache the old
row under the new generation.

The ``api_v4_cache`` kill switch sets the request context's ``cache_bypass``: the read goes to
the database and fills nothing (writes still invalidate).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Annotated

from fastapi import Depends, Request

from bistro.core.cache.fastpath import FastPathIndex
from bistro.core.cache.two_level import Cache, Loader
from bistro.core.context import CONTEXT_KEY, RequestContext, context_of
from bistro.core.responses import JSONBytes

_EXTRA = "cache"


FAST_PATH_INDEX = "fast_path_index"


def get_cache(request: Request) -> Cache:
    cache: Cache = request.app.state.bistro.extras[_EXTRA]
    return cache


CacheDep = Annotated[Cache, Depends(get_cache)]


def bypass_cache(request: Request) -> bool:
    context: RequestContext | None = request.scope.get(CONTEXT_KEY)
    return context is not None and context.cache_bypass


async def cached_response(
    request: Request,
    key: str,
    loader: Loader,
    *,
    entity: str,
    tags: Iterable[str] = (),
    ttl: float | None = None,
) -> JSONBytes:
    extras = request.app.state.bistro.extras
    cache: Cache = extras[_EXTRA]
    bypass = bypass_cache(request)
    if not bypass:
        index: FastPathIndex | None = extras.get(FAST_PATH_INDEX)
        if index is not None:
            index.note(request.scope, key)  # the next GET like this one can skip the routing
    body = await cache.get_or_load(
        key,
        loader,
        ttl=cache.ttl(entity) if ttl is None else ttl,
        tags=tags,
        bypass=bypass,
    )
    return JSONBytes(body)


def invalidate_after_commit(request: Request, *tags: str) -> None:
    context = context_of(request.scope)
    if context.invalidations is None:
        context.invalidations = set()
    context.invalidations.update(tags)


async def flush_invalidations(request: Request) -> None:
    context: RequestContext | None = request.scope.get(CONTEXT_KEY)
    if context is None:
        return
    pending, context.invalidations = context.invalidations, None
    if pending:
        await get_cache(request).invalidate(pending)
