"""v3's statistics: three aggregate queries, no cache."""

from __future__ import annotations

from typing import Any

from bistro.legacy.sql import SQLBase, sql

_TOTALS = sql(
    "SELECT (SELECT count(*) FROM restaurants) AS restaurants, "
    "(SELECT count(*) FROM users) AS users"
)
_HISTOGRAM = sql("SELECT rating, count(*) AS n FROM reviews GROUP BY rating")
# The top three per cuisine, in the order of sort=rating (Bayesian score, count, id).
_TOP = sql(
    "SELECT id, name, cuisine, rating_avg, review_count FROM ("
    "SELECT id, name, cuisine, rating_avg, review_count, rating_score, ROW_NUMBER() OVER ("
    "PARTITION BY cuisine ORDER BY rating_score DESC, review_count DESC, id ASC) AS place "
    "FROM restaurants) ranked WHERE place <= 3 "
    "ORDER BY cuisine, rating_score DESC, review_count DESC, id ASC"
)


class StatisticsSQL(SQLBase):
    async def statistics(self) -> dict[str, Any]:
        totals = (await self.conn.execute(_TOTALS)).mappings().one()
        histogram = {str(n): 0 for n in range(1, 6)}
        for row in (await self.conn.execute(_HISTOGRAM)).mappings():
            histogram[str(int(row["rating"]))] = int(row["n"])
        top: dict[str, list[dict[str, Any]]] = {}
        for row in (await self.conn.execute(_TOP)).mappings():
            top.setdefault(row["cuisine"], []).append(
                {
                    "id": row["id"],
                    "name": row["name"],
                    "rating_avg": round(float(row["rating_avg"]), 2),
                    "review_count": int(row["review_count"]),
                }
            )
        # Count, sum and mean of all ratings follow from the histogram exactly.
        reviews = sum(histogram.values())
        rating_sum = sum(int(stars) * n for stars, n in histogram.items())
        return {
            "total_restaurants": int(totals["restaurants"]),
            "total_reviews": reviews,
            "total_users": int(totals["users"]),
            "average_rating": round(rating_sum / reviews, 2) if reviews else 0.0,
            "rating_histogram": histogram,
            "top_restaurants_by_cuisine": top,
        }
