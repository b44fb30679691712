"""Who a stable-path request is, for sticky assignment: signed-in user, else client id.

A bearer token is resolved to its user id through a small TTL cache (token digest -> user id),
so signed-in traffic costs one query per token per ``token_cache_ttl``. A stale entry can never
grant access: the v3 or v4 route that serves the request authenticates the token itself; the
cache only picks which implementation answers. A logout seen by this instance drops the entry
at once; role changes keep the same user id, and a deleted user's token fails in the route.

When the cache misses, the lookup finds the whole principal (the users feature's query, given
by the app's wiring) and puts it in the request context: the route then takes it from there
instead of querying the token a second time in the same request. Only a fresh lookup is
shared, never a cached one, so access is still decided by the database at request time.
"""

from __future__ import annotations

import hashlib
import re
import uuid
from collections import OrderedDict

from bistro.core.auth import PrincipalLookup
from bistro.core.clock import Clock, SystemClock
from bistro.core.context import RequestContext
from bistro.core.database import Database

COOKIE_NAME = "bistro_client_id"
COOKIE_MAX_AGE = 400 * 24 * 3600  # the longest browsers keep a cookie
MAX_CLIENT_ID_LENGTH = 128
_NEGATIVE_TTL = 5.0


# Visible ASCII except the separators '"' ',' ';' '\\' (space and controls excluded too).
_CLIENT_ID = re.compile(rb"[\x21\x23-\x2b\x2d-\x3a\x3c-\x5b\x5d-\x7e]{1,%d}" % MAX_CLIENT_ID_LENGTH)


def valid_client_id(raw: bytes) -> str | None:
    """A client id we accept: 1-128 visible ASCII characters, no separators."""
    if _CLIENT_ID.fullmatch(raw) is None:
        return None
    return raw.decode("ascii")


def cookie_client_id(cookie_header: bytes) -> str | None:
    for part in cookie_header.split(b";"):
        name, _, value = part.strip().partition(b"=")
        if name == COOKIE_NAME.encode():
            return valid_client_id(value.strip())
    return None


def new_client_id() -> str:
    return uuid.uuid4().hex


def set_cookie_header(client_id: str) -> tuple[bytes, bytes]:
    value = f"{COOKIE_NAME}={client_id}; Max-Age={COOKIE_MAX_AGE}; Path=/; HttpOnly; SameSite=Lax"
    return (b"set-cookie", value.encode())


def bearer_token(authorization: bytes) -> str | None:
    scheme, _, token = authorization.partition(b" ")
    if scheme.lower() != b"bearer":
        return None
    token = token.strip()
    return token.decode("latin-1") if token else None


class TokenSubjects:
    """Bounded TTL cache of token digest -> user id (or None for an unknown token)."""

    def __init__(
        self,
        ttl: float,
        max_entries: int,
        clock: Clock | None = None,
        lookup: PrincipalLookup | None = None,
    ) -> None:
        self.clock = clock or SystemClock()
        # Set by the app's wiring (the users feature owns the tokens); without it, no token
        # is resolved and signed-in requests route by their client id.
        self.lookup = lookup
        self.ttl = ttl
        self.max_entries = max_entries
        self._entries: OrderedDict[str, tuple[float, int | None]] = OrderedDict()
        self.lookups = 0

    @staticmethod
    def digest(token: str) -> str:
        return hashlib.sha256(token.encode()).hexdigest()

    async def user_id(
        self, db: Database, token: str, context: RequestContext | None = None
    ) -> int | None:
        """The user id of a live token; a fresh lookup's principal goes into ``context``."""
        key = self.digest(token)
        now = self.clock.monotonic()
        hit = self._entries.get(key)
        if hit is not None and hit[0] > now:
            return hit[1]
        if self.lookup is None:
            return None
        self.lookups += 1
        async with db.engine.connect() as conn:
            principal = await self.lookup(conn, key, self.clock.now())
        if context is not None:
            context.principal = principal
            context.principal_resolved = True
        user_id = principal.id if principal is not None else None
        if self.max_entries and self.ttl:
            ttl = self.ttl if user_id is not None else min(self.ttl, _NEGATIVE_TTL)
            self._entries[key] = (now + ttl, user_id)
            self._entries.move_to_end(key)
            while len(self._entries) > self.max_entries:
                self._entries.popitem(last=False)
        return user_id

    def forget(self, token: str) -> None:
        self._entries.pop(self.digest(token), None)
