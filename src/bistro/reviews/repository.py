"""Review SQL, and the one place the restaurant rating aggregate is written.

Every review write changes ``restaurants.(review_count, rating_sum, rating_avg,
rating_score)`` with a single ``UPDATE ... SET col = col + :delta`` in the same transaction
as the review row, so concurrent writers never lose an update (the row lock serialises them
and each adds its own delta to the committed value).
"""

from __future__ import annotations

import functools
import operator
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any, cast

from sqlalchemy import (
    ColumnElement,
    Float,
    Table,
    bindparam,
    case,
    delete,
    func,
    insert,
    literal,
    select,
    update,
)
from sqlalchemy import cast as sql_cast
from sqlalchemy.exc import IntegrityError

from bistro.core.database import Executor
from bistro.core.integrity import violation
from bistro.core.rating import bayesian_score
from bistro.core.totals import Total, capped_total
from bistro.restaurants.models import Restaurant
from bistro.reviews.errors import author_not_found, duplicate_review, restaurant_not_found
from bistro.reviews.models import Review
from bistro.statistics.models import StatisticsCounter

R = cast(Table, Restaurant.__table__)
V = cast(Table, Review.__table__)
C = cast(Table, StatisticsCounter.__table__)

COLUMNS = (
    V.c.id,
    V.c.restaurant_id,
    V.c.user_id,
    V.c.rating,
    V.c.text,
    V.c.created_at,
    V.c.updated_at,
)
_BY_ID = select(*COLUMNS).where(V.c.id == bindparam("review_id"))
_BY_ID_FOR_UPDATE = _BY_ID.with_for_update()
_ORDERS: dict[str, tuple[Any, ...]] = {
    "newest": (V.c.created_at.desc(), V.c.id.asc()),
    "rating": (V.c.rating.desc(), V.c.created_at.desc(), V.c.id.asc()),
}


def aggregate_changes(
    count_delta: ColumnElement[Any] | int, sum_delta: ColumnElement[Any] | int, now: datetime
) -> dict[Any, Any]:
    """SET clauses moving a restaurant's aggregate by (count_delta, sum_delta), stamped ``now``
    (the service's clock, as v3 does; not the column's wall-clock ``onupdate``).

    Every right-hand side reads the row's *old* values (SQL semantics), so average and
    Bayesian score are computed from the same new count and sum.
    """
    new_count = R.c.review_count + count_delta
    new_sum = R.c.rating_sum + sum_delta
    return {
        R.c.review_count: new_count,
        R.c.rating_sum: new_sum,
        R.c.rating_avg: case((new_count > 0, sql_cast(new_sum, Float) / new_count), else_=0.0),
        R.c.rating_score: bayesian_score(new_sum, new_count),
        R.c.updated_at: now,
    }


# The constraints a review insert can break, by the names the schema gives them.
_AUTHOR_KEY = "fk_reviews_user_id_users"


class ReviewRepository:
    def __init__(self, session: Executor) -> None:
        self.session = session

    async def page(
        self,
        *,
        restaurant_id: int | None,
        user_id: int | None,
        min_rating: int | None,
        sort: str,
        limit: int,
        offset: int,
    ) -> tuple[Sequence[Mapping[str, Any]], Total]:
        """A page of reviews and the total (exact up to core.totals.EXACT_TOTAL_LIMIT)."""
        where: list[ColumnElement[bool]] = []
        if restaurant_id is not None:
            where.append(V.c.restaurant_id == restaurant_id)
        if user_id is not None:
            where.append(V.c.user_id == user_id)
        if min_rating is not None:
            where.append(V.c.rating >= min_rating)
        statement = select(*COLUMNS).where(*where).order_by(*_ORDERS[sort])
        result = await self.session.execute(statement.limit(limit).offset(offset))
        rows = cast("Sequence[Mapping[str, Any]]", result.mappings().all())
        if len(rows) < limit and (rows or offset == 0):
            # The last page: the total is known without a COUNT.
            return rows, Total(offset + len(rows))
        if restaurant_id is None and user_id is None:
            # All reviews, or all from a rating up: the trigger-kept counters are exact.
            ratings = range(min_rating or 1, 6)
            per_rating = [func.coalesce(func.sum(C.c[f"reviews_{r}"]), 0) for r in ratings]
            counted = select(functools.reduce(operator.add, per_rating))
            return rows, Total(int((await self.session.execute(counted)).scalar_one()))
        matching = select(literal(1)).select_from(V).where(*where)
        return rows, (await capped_total(self.session, matching)).at_least(offset + len(rows))

    async def get(self, review_id: int, *, for_update: bool = False) -> Mapping[str, Any] | None:
        # FOR UPDATE serialises concurrent edits of one review (a no-op on SQLite).
        statement = _BY_ID_FOR_UPDATE if for_update else _BY_ID
        params = {"review_id": review_id}
        row = (await self.session.execute(statement, params)).mappings().one_or_none()
        return cast("Mapping[str, Any] | None", row)

    async def create(self, values: Mapping[str, Any]) -> int:
        """Insert a review. The constraints check what a client may get wrong: a second review
        of the restaurant by the same author (unique key: ``Conflict``), a restaurant that is
        not there (foreign key: ``NotFound``); nothing is read beforehand."""
        try:
            result = await self.session.execute(insert(V).values(**values).returning(V.c.id))
        except IntegrityError as exc:
            found = violation(exc)
            if found.kind == "unique":
                raise duplicate_review(values["restaurant_id"]) from None
            if found.kind == "foreign_key":
                # SQLite does not say which key; the author is signed in, so it is the
                # restaurant unless PostgreSQL names the author's key (deleted meanwhile).
                if found.constraint == _AUTHOR_KEY:
                    raise author_not_found(values["user_id"]) from None
                raise restaurant_not_found(values["restaurant_id"]) from None
            raise
        return int(result.scalar_one())

    async def update(self, review_id: int, values: Mapping[str, Any]) -> None:
        await self.session.execute(update(V).where(V.c.id == review_id).values(**values))

    async def delete(self, review_id: int) -> None:
        await self.session.execute(delete(V).where(V.c.id == review_id))

    async def apply_rating_delta(
        self, restaurant_id: int, count_delta: int, sum_delta: int, now: datetime
    ) -> None:
        """Move one restaurant's aggregate: the single atomic UPDATE every review write uses."""
        changes = aggregate_changes(count_delta, sum_delta, now)
        await self.session.execute(update(R).where(R.c.id == restaurant_id).values(changes))

    async def remove_user_contributions(self, user_id: int, now: datetime) -> None:
        """Take a user's reviews out of every aggregate they are in, in one UPDATE.

        Called before the user row is deleted (its reviews go by ON DELETE CASCADE), with the
        user row locked by the caller (the users feature); their reviews are locked here, so
        none of theirs is added or re-rated between this UPDATE and the delete (PostgreSQL;
        SQLite has one writer anyway).
        """
        await self.session.execute(select(V.c.id).where(V.c.user_id == user_id).with_for_update())
        mine = V.c.user_id == user_id
        count = (
            select(func.count())
            .select_from(V)
            .where(V.c.restaurant_id == R.c.id, mine)
            .correlate(R)
            .scalar_subquery()
        )
        total = (
            select(func.coalesce(func.sum(V.c.rating), 0))
            .where(V.c.restaurant_id == R.c.id, mine)
            .correlate(R)
            .scalar_subquery()
        )
        await self.session.execute(
            update(R)
            .where(R.c.id.in_(select(V.c.restaurant_id).where(mine)))
            .values(aggregate_changes(-count, -total, now))
        )
