"""The v4 two-level cache (L1 per process, L2 Redis). See two_level.py for the design."""

from bistro.core.cache import tags
from bistro.core.cache.backend import SharedBackend
from bistro.core.cache.keys import make_key
from bistro.core.cache.stats import CacheStats
from bistro.core.cache.two_level import Cache, Loaded, Loader, multiworker_problem
from bistro.core.cache.web import (
    CacheDep,
    bypass_cache,
    cached_response,
    flush_invalidations,
    get_cache,
    invalidate_after_commit,
)

__all__ = [
    "Cache",
    "CacheDep",
    "CacheStats",
    "Loaded",
    "Loader",
    "SharedBackend",
    "bypass_cache",
    "cached_response",
    "flush_invalidations",
    "get_cache",
    "invalidate_after_commit",
    "make_key",
    "multiworker_problem",
    "tags",
]
