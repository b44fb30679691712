"""Statistics SQL: four small aggregate queries, each answered from an index or one scan."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, cast

from sqlalchemy import Table, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from bistro.restaurants.models import Restaurant
from bistro.restaurants.repository import RATING_ORDER
from bistro.reviews.models import Review
from bistro.users.models import User

R = cast(Table, Restaurant.__table__)
V = cast(Table, Review.__table__)
U = cast(Table, User.__table__)


class StatisticsRepository:
    def __init__(self, session: AsyncSession) -> None:
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

    async def top_by_cuisine(self, per_cuisine: int) -> Sequence[Mapping[str, Any]]:
        """The best ``per_cuisine`` restaurants of every cuisine, in sort=rating order."""
        ranked = select(
            R.c.id,
            R.c.name,
            R.c.cuisine,
            R.c.rating_avg,
            R.c.review_count,
            func.row_number().over(partition_by=R.c.cuisine, order_by=RATING_ORDER).label("rank"),
        ).subquery()
        statement = (
            select(ranked.c.id, ranked.c.name, ranked.c.cuisine, ranked.c.rating_avg,
                   ranked.c.review_count)
            .where(ranked.c.rank <= per_cuisine)
            .order_by(ranked.c.cuisine, ranked.c.rank)
        )
        result = await self.session.execute(statement)
        return cast("Sequence[Mapping[str, Any]]", result.mappings().all())
