"""L1: a per-process, bounded LRU of serialised bodies with a TTL, checked against tag generations.

Invalidation is by generation, not by scanning: each entry remembers the local generation of
its tags when its body was loaded; bumping a tag (a local write, or a message from another
instance) makes every older entry of that tag stale at once, in O(number of tags).
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass

from bistro.core.cache.stats import CacheStats
from bistro.core.clock import Clock


class Generations:
    """Per-process generation counters, one per tag (absent = 0)."""

    __slots__ = ("_gens",)

    def __init__(self) -> None:
        self._gens: dict[str, int] = {}

    def snapshot(self, tags: tuple[str, ...]) -> tuple[int, ...]:
        gens = self._gens
        return tuple([gens.get(t, 0) for t in tags])

    def bump(self, tags: Iterable[str]) -> None:
        gens = self._gens
        for tag in tags:
            gens[tag] = gens.get(tag, 0) + 1


@dataclass(slots=True)
class _Entry:
    body: bytes
    expires: float  # clock.monotonic() deadline
    tags: tuple[str, ...]
    gens: tuple[int, ...]
    # For bodies that depend on the time of day: the wall-clock seconds they are right for
    # (a wall clock set back or forward must not serve them outside it).
    wall: tuple[float, float] | None = None


class MemoryCache:
    def __init__(
        self, max_entries: int, clock: Clock, stats: CacheStats, generations: Generations
    ) -> None:
        self.max_entries = max_entries
        self.clock = clock
        self.stats = stats
        self.generations = generations
        self._entries: OrderedDict[str, _Entry] = OrderedDict()

    def __len__(self) -> int:
        return len(self._entries)

    def peek(self, key: str) -> bytes | None:
        """The body :meth:`get` would return now (counted as the hit it is), else None with
        nothing counted or dropped: the caller then asks :meth:`get`, which does that."""
        entry = self._entries.get(key)
        if (
            entry is None
            or entry.expires <= self.clock.monotonic()
            or (entry.wall is not None and not (entry.wall[0] <= self.clock.time() < entry.wall[1]))
            or self.generations.snapshot(entry.tags) != entry.gens
        ):
            return None
        self._entries.move_to_end(key)
        self.stats.l1_hits += 1
        return entry.body

    def get(self, key: str) -> bytes | None:
        entry = self._entries.get(key)
        if entry is None:
            self.stats.l1_misses += 1
            return None
        if entry.expires <= self.clock.monotonic():
            del self._entries[key]
            self.stats.l1_misses += 1
            return None
        if entry.wall is not None and not (entry.wall[0] <= self.clock.time() < entry.wall[1]):
            del self._entries[key]
            self.stats.l1_misses += 1
            return None
        if self.generations.snapshot(entry.tags) != entry.gens:
            del self._entries[key]
            self.stats.l1_stale += 1
            self.stats.l1_misses += 1
            return None
        self._entries.move_to_end(key)
        self.stats.l1_hits += 1
        return entry.body

    def set(
        self,
        key: str,
        body: bytes,
        ttl: float,
        tags: tuple[str, ...],
        gens: tuple[int, ...],
        wall: tuple[float, float] | None = None,
    ) -> None:
        """Store ``body`` loaded when the tags' generations were ``gens`` (taken before loading)."""
        if self.max_entries <= 0 or ttl <= 0:
            return
        if self.generations.snapshot(tags) != gens:
            return  # invalidated while it was loading: never store a body older than a write
        self._entries[key] = _Entry(body, self.clock.monotonic() + ttl, tags, gens, wall)
        self._entries.move_to_end(key)
        while len(self._entries) > self.max_entries:
            self._entries.popitem(last=False)
            self.stats.l1_evictions += 1

    def clear(self) -> None:
        self._entries.clear()
