"""v3's SQL for accounts, sign-in tokens (stored as SHA-256 only) and user administration."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.engine import RowMapping
from sqlalchemy.exc import IntegrityError

from bistro.core.errors import Conflict
from bistro.core.rating import bayesian_score_sql
from bistro.legacy.sql import UTC_DATETIME, SQLBase, sql

USER_COLUMNS = "u.id, u.email, u.display_name, u.role, u.created_at"
_USER_TYPES = {"created_at": UTC_DATETIME}

_PRINCIPAL = sql(
    "SELECT u.id, u.email, u.display_name, u.role FROM auth_tokens t "
    "JOIN users u ON u.id = t.user_id "
    "WHERE t.token_hash = :digest AND t.revoked_at IS NULL AND t.expires_at > :now",
    binds={"now": UTC_DATETIME},
)
_REVOKE_ALL = sql(
    "UPDATE auth_tokens SET revoked_at = :now WHERE user_id = :uid AND revoked_at IS NULL",
    binds={"now": UTC_DATETIME},
)


def _email_taken() -> Conflict:
    return Conflict("An account with this email already exists", code="EMAIL_TAKEN")


class UserSQL(SQLBase):
    async def principal(self, digest: str, now: datetime) -> RowMapping | None:
        result = await self.conn.execute(_PRINCIPAL, {"digest": digest, "now": now})
        return result.mappings().first()

    async def user_by_email(self, email: str) -> RowMapping | None:
        result = await self.conn.execute(
            sql(
                f"SELECT {USER_COLUMNS}, u.password_hash FROM users u WHERE u.email = :email",
                columns=_USER_TYPES,
            ),
            {"email": email},
        )
        return result.mappings().first()

    async def get_user(self, user_id: int) -> RowMapping | None:
        result = await self.conn.execute(
            sql(f"SELECT {USER_COLUMNS} FROM users u WHERE u.id = :id", columns=_USER_TYPES),
            {"id": user_id},
        )
        return result.mappings().first()

    async def create_user(
        self, email: str, password_hash: str, display_name: str, now: datetime
    ) -> RowMapping:
        if await self.user_by_email(email) is not None:
            raise _email_taken()
        statement = sql(
            "INSERT INTO users (email, password_hash, display_name, role, created_at, updated_at) "
            "VALUES (:email, :hash, :name, 'user', :now, :now) "
            "RETURNING id, email, display_name, role, created_at",
            binds={"now": UTC_DATETIME},
            columns=_USER_TYPES,
        )
        params = {"email": email, "hash": password_hash, "name": display_name, "now": now}
        try:
            return (await self.conn.execute(statement, params)).mappings().one()
        except IntegrityError as exc:  # a concurrent registration won the race
            raise _email_taken() from exc

    async def add_token(
        self, user_id: int, digest: str, now: datetime, expires_at: datetime
    ) -> None:
        await self.conn.execute(
            sql(
                "INSERT INTO auth_tokens (user_id, token_hash, created_at, expires_at) "
                "VALUES (:uid, :digest, :now, :expires)",
                binds={"now": UTC_DATETIME, "expires": UTC_DATETIME},
            ),
            {"uid": user_id, "digest": digest, "now": now, "expires": expires_at},
        )

    async def revoke_token(self, digest: str, now: datetime) -> None:
        await self.conn.execute(
            sql(
                "UPDATE auth_tokens SET revoked_at = :now "
                "WHERE token_hash = :digest AND revoked_at IS NULL",
                binds={"now": UTC_DATETIME},
            ),
            {"digest": digest, "now": now},
        )

    async def update_user(
        self, user_id: int, changes: dict[str, Any], now: datetime
    ) -> RowMapping | None:
        assignments = ", ".join(f"{name} = :{name}" for name in changes)
        statement = sql(
            f"UPDATE users SET {assignments}, updated_at = :now WHERE id = :id "
            "RETURNING id, email, display_name, role, created_at",
            binds={"now": UTC_DATETIME},
            columns=_USER_TYPES,
        )
        result = await self.conn.execute(statement, changes | {"id": user_id, "now": now})
        return result.mappings().first()

    async def revoke_all_tokens(self, user_id: int, now: datetime) -> None:
        await self.conn.execute(_REVOKE_ALL, {"uid": user_id, "now": now})

    async def list_users(self, limit: int, offset: int) -> tuple[list[RowMapping], int]:
        rows = await self.conn.execute(
            sql(
                f"SELECT {USER_COLUMNS} FROM users u ORDER BY u.id LIMIT :limit OFFSET :offset",
                columns=_USER_TYPES,
            ),
            {"limit": limit, "offset": offset},
        )
        items = list(rows.mappings())
        total = await self.conn.execute(sql("SELECT count(*) FROM users"))
        return items, int(total.scalar_one())

    async def delete_user(self, user_id: int, now: datetime) -> None:
        """Delete a user and their reviews, taking their ratings out of the aggregates first."""
        # Lock the user (a new review of theirs needs a key-share lock on it) and their reviews,
        # so none is added or re-rated between these UPDATEs and the delete (PostgreSQL;
        # SQLite has one writer at a time anyway).
        lock = self.for_update()
        await self.conn.execute(
            sql("SELECT id FROM users WHERE id = :uid" + lock), {"uid": user_id}
        )
        await self.conn.execute(
            sql("SELECT id FROM reviews WHERE user_id = :uid" + lock), {"uid": user_id}
        )
        # At most one review per (user, restaurant): two set-based UPDATEs, whatever the count.
        touched = "id IN (SELECT restaurant_id FROM reviews WHERE user_id = :uid)"
        await self.conn.execute(
            sql(
                "UPDATE restaurants SET "
                "review_count = review_count - 1, "
                "rating_sum = rating_sum - (SELECT v.rating FROM reviews v "
                "WHERE v.user_id = :uid AND v.restaurant_id = restaurants.id) "
                f"WHERE {touched}"
            ),
            {"uid": user_id},
        )
        await self.conn.execute(
            sql(
                "UPDATE restaurants SET "
                "rating_avg = CASE WHEN review_count > 0 "
                "THEN rating_sum * 1.0 / review_count ELSE 0.0 END, "
                f"rating_score = {bayesian_score_sql('rating_sum', 'review_count')}, "
                "updated_at = :now "
                f"WHERE {touched}",
                binds={"now": UTC_DATETIME},
            ),
            {"uid": user_id, "now": now},
        )
        # Tokens and reviews go with the user (ON DELETE CASCADE).
        await self.conn.execute(sql("DELETE FROM users WHERE id = :id"), {"id": user_id})
