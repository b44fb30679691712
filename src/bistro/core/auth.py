"""Who is making a request, and the checks every API version applies to it.

Both versions resolve the principal their own way (v3 with its SQL, v4 through the users
service); what they share lives here: the principal itself, reading the bearer token from the
``Authorization`` header, and the sign-in and admin guards.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from bistro.core.errors import Forbidden, Unauthorized


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is making the request (a signed-in user)."""

    id: int
    role: str
    email: str
    display_name: str

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"


# (session or connection, token digest, now) -> the user a live token belongs to. The users
# feature provides it; the app wires it in (``AppState.principals``, the stable-path router).
PrincipalLookup = Callable[
    [AsyncSession | AsyncConnection, str, datetime], Awaitable[Principal | None]
]


def bearer_token(authorization: str | None) -> str | None:
    """The token of an ``Authorization: Bearer <token>`` header; None without the header.

    Any other scheme, or a blank token, is a 401 (the client meant to sign in and got it wrong).
    """
    if not authorization:
        return None
    scheme, _, token = authorization.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthorized("Authorization header must be 'Bearer <token>'", code="BAD_AUTH_HEADER")
    return token.strip()


def invalid_token() -> Unauthorized:
    return Unauthorized("Token is invalid, expired or revoked", code="INVALID_TOKEN")


def require_signed_in(principal: Principal | None) -> Principal:
    """The sign-in check every API version shares."""
    if principal is None:
        raise Unauthorized(
            "Sign in first: send 'Authorization: Bearer <token>'", code="AUTH_REQUIRED"
        )
    return principal


def require_admin(principal: Principal) -> Principal:
    if not principal.is_admin:
        raise Forbidden("Admins only", code="ADMIN_REQUIRED")
    return principal
