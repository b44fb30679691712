from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import delete, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from bistro.core.auth import Principal
from bistro.core.errors import Conflict
from bistro.core.integrity import violation
from bistro.core.repository import Repository
from bistro.users.models import AuthToken, User


async def principal_for_token(
    executor: AsyncSession | AsyncConnection, token_hash: str, now: datetime
) -> Principal | None:
    """The user a live (unrevoked, unexpired) token belongs to: the one live-token query.

    A Core select of four columns (no ORM object): the stable-path router runs it on its own
    connection, the v4 routes in the request's session.
    """
    statement = (
        select(User.id, User.role, User.email, User.display_name)
        .join(AuthToken, AuthToken.user_id == User.id)
        .where(
            AuthToken.token_hash == token_hash,
            AuthToken.revoked_at.is_(None),
            AuthToken.expires_at > now,
        )
    )
    row = (await executor.execute(statement)).first()
    return Principal(row[0], row[1], row[2], row[3]) if row is not None else None


def email_taken() -> Conflict:
    return Conflict("An account with this email already exists", code="EMAIL_TAKEN")


class UserRepository(Repository[User]):
    model = User

    async def add(self, obj: User) -> User:
        """Insert or save a user; a taken email (the unique key) is a ``Conflict``."""
        try:
            return await super().add(obj)
        except IntegrityError as exc:
            if violation(exc).kind == "unique":
                raise email_taken() from None
            raise

    async def by_email(self, email: str) -> User | None:
        result = await self.session.execute(select(User).where(User.email == email.lower()))
        return result.scalar_one_or_none()

    async def page(self, limit: int, offset: int) -> tuple[Sequence[User], int]:
        rows = await self.all(select(User).order_by(User.id).limit(limit).offset(offset))
        total = (await self.session.execute(select(func.count(User.id)))).scalar_one()
        return rows, int(total)


class TokenRepository(Repository[AuthToken]):
    model = AuthToken

    async def principal(self, token_hash: str, now: datetime) -> Principal | None:
        """The user a live (unrevoked, unexpired) token belongs to."""
        return await principal_for_token(self.session, token_hash, now)

    async def revoke(self, token_hash: str, now: datetime) -> None:
        await self.session.execute(
            update(AuthToken)
            .where(AuthToken.token_hash == token_hash, AuthToken.revoked_at.is_(None))
            .values(revoked_at=now)
        )

    async def revoke_all(self, user_id: int, now: datetime) -> None:
        await self.session.execute(
            update(AuthToken)
            .where(AuthToken.user_id == user_id, AuthToken.revoked_at.is_(None))
            .values(revoked_at=now)
        )

    async def purge_expired(self, now: datetime) -> int:
        result = await self.session.execute(delete(AuthToken).where(AuthToken.expires_at <= now))
        return int(getattr(result, "rowcount", 0) or 0)
