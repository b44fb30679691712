"""Cache counters, kept as plain integers on the cache so reading them costs nothing.

The monitoring feature exports them (per level: hits and misses), so they are cumulative
since the process started and never reset.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass


@dataclass(slots=True)
class CacheStats:
    l1_hits: int = 0
    l1_misses: int = 0
    # An L1 entry found but older than its tags' generation (invalidated): counted as a miss too.
    l1_stale: int = 0
    l1_evictions: int = 0
    l2_hits: int = 0
    l2_misses: int = 0
    l2_stale: int = 0
    # Redis failed (error or timeout) or was skipped by the open circuit breaker: a miss.
    l2_errors: int = 0
    l2_skipped: int = 0
    # Loader calls (database queries behind the cache) and requests that waited on another's load.
    loads: int = 0
    coalesced: int = 0
    bypassed: int = 0
    invalidations: int = 0
    remote_invalidations: int = 0

    def snapshot(self) -> dict[str, int]:
        return asdict(self)

    @property
    def l1_hit_rate(self) -> float:
        total = self.l1_hits + self.l1_misses
        return self.l1_hits / total if total else 0.0

    @property
    def hit_rate(self) -> float:
        """Requests answered by either level, over all cache lookups."""
        lookups = self.l1_hits + self.l1_misses
        return (self.l1_hits + self.l2_hits) / lookups if lookups else 0.0
