"""What the cache needs from a shared (L2) backend; Redis (redis_store.RedisStore) is the one
we run. L1 is the in-process MemoryCache. A backend fails open: it never raises, it answers
"unavailable" and the cache goes to the database instead."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True, slots=True)
class L2Read:
    body: bytes | None
    # The tags' current generations (None when the backend did not answer: then nothing is
    # stored after the load).
    gens: tuple[int, ...] | None
    ttl_left: float = 0.0
    # Set for time-of-day bodies: the wall-clock window they are right for.
    wall: tuple[float, float] | None = None


UNAVAILABLE = L2Read(None, None)


class SharedBackend(Protocol):
    #: The pub/sub channel invalidations travel on.
    channel: str

    @property
    def available(self) -> bool:
        """False while failures make the cache skip the backend."""
        ...

    async def fetch(self, key: str, tags: tuple[str, ...]) -> L2Read: ...

    async def store(
        self,
        key: str,
        body: bytes,
        gens: tuple[int, ...],
        ttl: float,
        wall: tuple[float, float] | None = None,
    ) -> None: ...

    async def bump(self, tags: tuple[str, ...], message: bytes) -> bool:
        """Move the tags' generations and publish ``message``; False if not delivered."""
        ...

    async def ping(self) -> bool: ...

    async def close(self) -> None: ...
