"""Who a stable-path request is, for sticky assignment: signed-in user, else client id.

A bearer token is resolved to its user id through a small TTL cache (token digest -> user id),
so signed-in traffic costs one query per token per ``token_cache_ttl``. A stale entry can never
grant access: the v3 or v4 route that serves the request authenticates the token itself; the
cache only picks which implementation answers. A logout seen by this instance drops the entry
at once; role changes keep the same user id, and a deleted user's token fails in the route.
"""

from __future__ import annotations

import hashlib
import re
import uuid
from collections import OrderedDict

from bistro.core.clock import Clock, SystemClock, utcnow
from bistro.core.database import Database
from bistro.migration.store.repository import user_id_for_token

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

    def __init__(self, ttl: float, max_entries: int, clock: Clock | None = None) -> None:
        self.clock = clock or SystemClock()
        self.ttl = ttl
        self.max_entries = max_entries
        self._entries: OrderedDict[str, tuple[float, int | None]] = OrderedDict()
        self.lookups = 0

    @staticmethod
    def digest(token: str) -> str:
        return hashlib.sha256(token.encode()).hexdigest()

    async def user_id(self, db: Database, token: str) -> int | None:
        key = self.digest(token)
        now = self.clock.monotonic()
        hit = self._entries.get(key)
        if hit is not None and hit[0] > now:
            return hit[1]
        self.lookups += 1
        async with db.engine.connect() as conn:
            user_id = await user_id_for_token(conn, key, utcnow())
        if self.max_entries and self.ttl:
            ttl = self.ttl if user_id is not None else min(self.ttl, _NEGATIVE_TTL)
            self._entries[key] = (now + ttl, user_id)
            self._entries.move_to_end(key)
            while len(self._entries) > self.max_entries:
                self._entries.popitem(last=False)
        return user_id

    def forget(self, token: str) -> None:
        self._entries.pop(self.digest(token), None)
