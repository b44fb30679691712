"""Statistics SQL: a few small aggregate queries, each answered from an index."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, cast

from sqlalchemy import Table, func, select, text, union_all

from bistro.core.database import Executor
from bistro.restaurants.models import Restaurant
from bistro.restaurants.repository import RATING_ORDER
from bistro.reviews.models import Review
from bistro.users.models import User

R = cast(Table, Restaurant.__table__)
V = cast(Table, Review.__table__)
U = cast(Table, User.__table__)
TOP_COLUMNS = (R.c.id, R.c.name, R.c.cuisine, R.c.rating_avg, R.c.review_count, R.c.rating_score)


class StatisticsRepository:
    def __init__(self, session: Executor) -> None:
        self.session = session

    async def totals(self) -> tuple[int, int]:
        """(restaurants, users) in one round trip."""
        statement = select(
            select(func.count()).select_from(R).scalar_subquery(),
            select(func.count()).select_from(U).scalar_subquery(),
        )
        row = (await self.session.execute(statement)).one()
        return int(row[0]), int(row[1])

    async def rating_histogram(self) -> dict[int, int]:
        """Reviews per rating (ix_reviews_rating)."""
        statement = select(V.c.rating, func.count()).group_by(V.c.rating)
        rows = (await self.session.execute(statement)).all()
        return {int(rating): int(count) for rating, count in rows}

    async def cuisines(self) -> list[str]:
        """Distinct cuisines by a skip scan of ix_restaurants_cuisine_score: one index probe
        per cuisine instead of reading every restaurant."""
        statement = text(
            "WITH RECURSIVE c(cuisine) AS ("
            " SELECT min(cuisine) FROM restaurants"
            " UNION ALL"
            " SELECT (SELECT min(cuisine) FROM restaurants WHERE cuisine > c.cuisine)"
            " FROM c WHERE c.cuisine IS NOT NULL"
            ") SELECT cuisine FROM c WHERE cuisine IS NOT NULL"
        )
        return [str(row[0]) for row in (await self.session.execute(statement)).all()]

    async def top_by_cuisine(self, per_cuisine: int) -> Sequence[Mapping[str, Any]]:
        """The best ``per_cuisine`` restaurants of every cuisine, in sort=rating order.

        One statement: a UNION ALL of per-cuisine ``ORDER BY ... LIMIT`` reads, each served by
        the (cuisine, rating_score) index, rather than ranking every restaurant.
        """
        cuisines = await self.cuisines()
        if not cuisines:
            return []
        parts = []
        for cuisine in cuisines:
            best = (
                select(*TOP_COLUMNS)
                .where(R.c.cuisine == cuisine)
                .order_by(*RATING_ORDER)
                .limit(per_cuisine)
                .subquery()
            )
            parts.append(select(best))
        result = await self.session.execute(union_all(*parts))
        rows = [dict(row) for row in result.mappings().all()]
        # UNION ALL keeps no order: put it back (cuisine, then the sort=rating order).
        rows.sort(key=lambda r: (r["cuisine"], -r["rating_score"], -r["review_count"], r["id"]))
        return rows
