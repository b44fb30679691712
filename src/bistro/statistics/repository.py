"""Statistics SQL: totals and the histogram from the trigger-kept counters (a sum over a few
shard rows, whatever the size of the tables), the top restaurants per cuisine from an index."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, cast

from sqlalchemy import CompoundSelect, Table, func, select, text, union_all

from bistro.core.database import Executor
from bistro.restaurants.models import Restaurant
from bistro.restaurants.repository import RATING_ORDER
from bistro.statistics.models import RATINGS, StatisticsCounter

R = cast(Table, Restaurant.__table__)
C = cast(Table, StatisticsCounter.__table__)
TOP_COLUMNS = (R.c.id, R.c.name, R.c.cuisine, R.c.rating_avg, R.c.review_count, R.c.rating_score)


class StatisticsRepository:
    def __init__(self, session: Executor) -> None:
        self.session = session

    async def totals(self) -> tuple[int, int]:
        """(restaurants, users), from statistics_counters."""
        statement = select(
            func.coalesce(func.sum(C.c.restaurants), 0), func.coalesce(func.sum(C.c.users), 0)
        )
        row = (await self.session.execute(statement)).one()
        return int(row[0]), int(row[1])

    async def rating_histogram(self) -> dict[int, int]:
        """Reviews per rating, from statistics_counters."""
        statement = select(*(func.coalesce(func.sum(C.c[f"reviews_{r}"]), 0) for r in RATINGS))
        row = (await self.session.execute(statement)).one()
        return {rating: int(count) for rating, count in zip(RATINGS, row, strict=True)}

    async def cuisines(self) -> list[str]:
        """Distinct cuisines by a skip scan of ix_restaurants_cuisine_rating_order: one index probe
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
        """The best ``per_cuisine`` restaurants of every cuisine, in sort=rating order."""
        cuisines = await self.cuisines()
        if not cuisines:
            return []
        result = await self.session.execute(top_statement(cuisines, per_cuisine))
        rows = [dict(row) for row in result.mappings().all()]
        # UNION ALL keeps no order: put it back (cuisine, then the sort=rating order).
        rows.sort(key=lambda r: (r["cuisine"], -r["rating_score"], -r["review_count"], r["id"]))
        return rows


def top_statement(cuisines: Sequence[str], per_cuisine: int) -> CompoundSelect[Any]:
    """One statement: a UNION ALL of per-cuisine ``ORDER BY ... LIMIT`` reads, each served by
    ix_restaurants_cuisine_rating_order, rather than ranking every restaurant."""
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
    return union_all(*parts)
