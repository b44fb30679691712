"""v3's review SQL. Every write moves the restaurant's aggregate in the same transaction."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.exc import IntegrityError

from bistro.core.errors import Conflict, Forbidden, NotFound
from bistro.core.rating import bayesian_score_sql
from bistro.legacy.sql import (
    REVIEW_COLUMNS,
    REVIEW_RETURNING,
    TIMESTAMPS,
    UTC_DATETIME,
    SQLBase,
    review_out,
    sql,
)

REVIEW_ORDER = {
    "newest": "v.created_at DESC, v.id ASC",
    "rating": "v.rating DESC, v.created_at DESC, v.id ASC",
}

# One UPDATE, relative to the row's current values, so concurrent writers stay exact
# (PostgreSQL takes the row lock; SQLite has one writer at a time).
_AGGREGATE = sql(
    "UPDATE restaurants SET "
    "review_count = review_count + :dc, "
    "rating_sum = rating_sum + :ds, "
    "rating_avg = CASE WHEN review_count + :dc > 0 "
    "THEN (rating_sum + :ds) * 1.0 / (review_count + :dc) ELSE 0.0 END, "
    f"rating_score = {bayesian_score_sql('rating_sum + :ds', 'review_count + :dc')}"
    ", updated_at = :now WHERE id = :rid",
    binds={"now": UTC_DATETIME},
)


class ReviewSQL(SQLBase):
    async def list_reviews(
        self,
        *,
        restaurant_id: int | None,
        user_id: int | None,
        min_rating: int | None,
        sort: str,
        limit: int,
        offset: int,
    ) -> tuple[list[dict[str, Any]], int]:
        where: list[str] = []
        params: dict[str, Any] = {}
        if restaurant_id is not None:
            where.append("v.restaurant_id = :restaurant_id")
            params["restaurant_id"] = restaurant_id
        if user_id is not None:
            where.append("v.user_id = :user_id")
            params["user_id"] = user_id
        if min_rating is not None:
            where.append("v.rating >= :min_rating")
            params["min_rating"] = min_rating
        clause = f" WHERE {' AND '.join(where)}" if where else ""
        rows = await self.conn.execute(
            sql(
                f"SELECT {REVIEW_COLUMNS} FROM reviews v{clause} ORDER BY {REVIEW_ORDER[sort]} "
                "LIMIT :limit OFFSET :offset",
                columns=TIMESTAMPS,
            ),
            params | {"limit": limit, "offset": offset},
        )
        items = [review_out(row) for row in rows.mappings()]
        total = await self.conn.execute(sql(f"SELECT count(*) FROM reviews v{clause}"), params)
        return items, int(total.scalar_one())

    async def get_review(self, review_id: int, *, lock: bool = False) -> dict[str, Any] | None:
        statement = sql(
            f"SELECT {REVIEW_COLUMNS} FROM reviews v WHERE v.id = :id"
            + (self.for_update() if lock else ""),
            columns=TIMESTAMPS,
        )
        row = (await self.conn.execute(statement, {"id": review_id})).mappings().first()
        return review_out(row) if row is not None else None

    async def create_review(
        self, user_id: int, restaurant_id: int, rating: int, text: str, now: datetime
    ) -> dict[str, Any]:
        exists = await self.conn.execute(
            sql("SELECT 1 FROM restaurants WHERE id = :id"),
            {"id": restaurant_id},
        )
        if exists.first() is None:
            raise _restaurant_missing(restaurant_id)
        duplicate = await self.conn.execute(
            sql("SELECT 1 FROM reviews WHERE user_id = :uid AND restaurant_id = :rid"),
            {"uid": user_id, "rid": restaurant_id},
        )
        if duplicate.first() is not None:
            raise _duplicate()
        statement = sql(
            "INSERT INTO reviews (restaurant_id, user_id, rating, text, created_at, updated_at) "
            f"VALUES (:rid, :uid, :rating, :text, :now, :now) RETURNING {REVIEW_RETURNING}",
            binds={"now": UTC_DATETIME},
            columns=TIMESTAMPS,
        )
        params = {"rid": restaurant_id, "uid": user_id, "rating": rating, "text": text, "now": now}
        try:
            row = (await self.conn.execute(statement, params)).mappings().one()
        except IntegrityError as exc:
            # A concurrent twin won the race (unique), or the restaurant just went (foreign key).
            if "unique" in str(exc.orig).lower():
                raise _duplicate() from exc
            raise _restaurant_missing(restaurant_id) from exc
        await self.conn.execute(
            _AGGREGATE, {"dc": 1, "ds": rating, "rid": restaurant_id, "now": now}
        )
        return review_out(row)

    async def update_review(
        self,
        review_id: int,
        actor_id: int,
        actor_is_admin: bool,
        changes: dict[str, Any],
        now: datetime,
    ) -> dict[str, Any]:
        current = await self._owned_review(review_id, actor_id, actor_is_admin)
        assignments = ", ".join(f"{name} = :{name}" for name in changes)
        assignments = f"{assignments}, updated_at = :now" if assignments else "updated_at = :now"
        statement = sql(
            f"UPDATE reviews SET {assignments} WHERE id = :id RETURNING {REVIEW_RETURNING}",
            binds={"now": UTC_DATETIME},
            columns=TIMESTAMPS,
        )
        row = (
            (await self.conn.execute(statement, changes | {"id": review_id, "now": now}))
            .mappings()
            .one()
        )
        delta = int(row["rating"]) - current["rating"]
        if delta:
            await self.conn.execute(
                _AGGREGATE, {"dc": 0, "ds": delta, "rid": current["restaurant_id"], "now": now}
            )
        return review_out(row)

    async def delete_review(
        self, review_id: int, actor_id: int, actor_is_admin: bool, now: datetime
    ) -> int:
        """Delete the review; returns its restaurant's id."""
        current = await self._owned_review(review_id, actor_id, actor_is_admin)
        await self.conn.execute(sql("DELETE FROM reviews WHERE id = :id"), {"id": review_id})
        await self.conn.execute(
            _AGGREGATE,
            {"dc": -1, "ds": -current["rating"], "rid": current["restaurant_id"], "now": now},
        )
        return int(current["restaurant_id"])

    async def _owned_review(
        self, review_id: int, actor_id: int, actor_is_admin: bool
    ) -> dict[str, Any]:
        current = await self.get_review(review_id, lock=True)
        if current is None:
            raise NotFound(f"Review {review_id} not found", code="REVIEW_NOT_FOUND")
        if current["user_id"] != actor_id and not actor_is_admin:
            raise Forbidden(
                "Only the author or an admin may change this review", code="NOT_REVIEW_AUTHOR"
            )
        return current


def _restaurant_missing(restaurant_id: int) -> NotFound:
    return NotFound(f"Restaurant {restaurant_id} not found", code="RESTAURANT_NOT_FOUND")


def _duplicate() -> Conflict:
    return Conflict(
        "You have already reviewed this restaurant; edit that review instead",
        code="DUPLICATE_REVIEW",
    )
