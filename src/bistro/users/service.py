"""Registration, sign-in and user administration."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any, Protocol

from bistro.core.auth import Principal
from bistro.core.clock import Clock, SystemClock
from bistro.core.errors import Forbidden, NotFound, Unauthorized
from bistro.core.security import PasswordHashing, new_token, token_digest
from bistro.users.models import AuthToken, User


def user_representation(user: User, *, viewer: Principal | None) -> dict[str, Any]:
    """A user as the API shows it; the email only to the user and to admins."""
    data: dict[str, Any] = {
        "id": user.id,
        "display_name": user.display_name,
        "role": user.role,
        "created_at": user.created_at,
    }
    if viewer is not None and (viewer.is_admin or viewer.id == user.id):
        data["email"] = user.email
    return data


class UserRepo(Protocol):
    async def get(self, id_: int, *, for_update: bool = False) -> User | None: ...
    async def by_email(self, email: str) -> User | None: ...
    async def add(self, obj: User) -> User: ...
    async def delete(self, obj: User) -> None: ...
    async def page(self, limit: int, offset: int) -> tuple[Any, int]: ...


class TokenRepo(Protocol):
    async def add(self, obj: AuthToken) -> AuthToken: ...
    async def principal(self, token_hash: str, now: datetime) -> Principal | None: ...
    async def revoke(self, token_hash: str, now: datetime) -> None: ...
    async def revoke_all(self, user_id: int, now: datetime) -> None: ...


class ReviewContributions(Protocol):
    async def remove_user_contributions(self, user_id: int, now: datetime) -> None: ...


class UserService:
    def __init__(
        self,
        users: UserRepo,
        tokens: TokenRepo,
        hashing: PasswordHashing,
        token_ttl: timedelta,
        clock: Clock | None = None,
        *,
        reviews: ReviewContributions,
    ) -> None:
        self.users = users
        self.tokens = tokens
        self.reviews = reviews
        self.hashing = hashing
        self.token_ttl = token_ttl
        self.clock = clock or SystemClock()

    async def register(self, email: str, password: str, display_name: str) -> User:
        email = email.strip().lower()
        now = self.clock.now()
        user = User(
            email=email,
            password_hash=await self.hashing.hash(password),
            display_name=display_name,
            role="user",
            created_at=now,
            updated_at=now,
        )
        # A taken email is refused by the unique key: the repository raises the Conflict.
        return await self.users.add(user)

    async def login(self, email: str, password: str) -> tuple[str, datetime, User]:
        user = await self.users.by_email(email.strip().lower())
        ok = await self.hashing.verify(user.password_hash if user else None, password)
        if user is None or not ok:
            raise Unauthorized("Wrong email or password", code="INVALID_CREDENTIALS")
        token = new_token()
        expires_at = self.clock.now() + self.token_ttl
        await self.tokens.add(
            AuthToken(user_id=user.id, token_hash=token_digest(token), expires_at=expires_at)
        )
        return token, expires_at, user

    async def authenticate(self, token: str) -> Principal | None:
        return await self.tokens.principal(token_digest(token), self.clock.now())

    async def logout(self, token: str) -> None:
        await self.tokens.revoke(token_digest(token), self.clock.now())

    async def get(self, user_id: int) -> User:
        user = await self.users.get(user_id)
        if user is None:
            raise NotFound(f"User {user_id} not found", code="USER_NOT_FOUND")
        return user

    async def update_profile(self, principal: Principal, display_name: str) -> User:
        user = await self.get(principal.id)
        user.display_name = display_name
        await self.users.add(user)
        return user

    async def list(self, limit: int, offset: int) -> tuple[Any, int]:
        return await self.users.page(limit, offset)

    async def change_role(self, actor: Principal, user_id: int, role: str) -> User:
        user = await self.get(user_id)
        if user.id == actor.id and role != "admin":
            raise Forbidden("Admins cannot demote themselves", code="SELF_DEMOTION")
        if user.role != role:
            user.role = role
            await self.users.add(user)
            # A role change takes effect at once: every token of the user stops working.
            await self.tokens.revoke_all(user.id, self.clock.now())
        return user

    async def delete(self, actor: Principal, user_id: int) -> None:
        # Locked (PostgreSQL): no review of theirs can be added until the row is gone.
        user = await self.users.get(user_id, for_update=True)
        if user is None:
            raise NotFound(f"User {user_id} not found", code="USER_NOT_FOUND")
        if user.id == actor.id:
            raise Forbidden("Admins cannot delete themselves", code="SELF_DELETION")
        await self.tokens.revoke_all(user.id, self.clock.now())
        # Their reviews go with them (ON DELETE CASCADE): take them out of every restaurant's
        # rating aggregate first, in the same transaction.
        await self.reviews.remove_user_contributions(user.id, self.clock.now())
        await self.users.delete(user)
