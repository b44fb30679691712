"""StatisticsService: totals, average rating, histogram and the best restaurants per cuisine."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Protocol

TOP_PER_CUISINE = 3
RATINGS = (1, 2, 3, 4, 5)


class StatisticsRepo(Protocol):
    async def totals(self) -> tuple[int, int]: ...
    async def rating_histogram(self) -> dict[int, int]: ...
    async def top_by_cuisine(self, per_cuisine: int) -> Sequence[Mapping[str, Any]]: ...


class StatisticsService:
    def __init__(self, repo: StatisticsRepo) -> None:
        self.repo = repo

    async def summary(self) -> dict[str, Any]:
        restaurants, users = await self.repo.totals()
        counts = await self.repo.rating_histogram()
        histogram = {str(r): counts.get(r, 0) for r in RATINGS}
        total_reviews = sum(histogram.values())
        rating_sum = sum(r * counts.get(r, 0) for r in RATINGS)
        average = round(rating_sum / total_reviews, 2) if total_reviews else 0.0
        top: dict[str, list[dict[str, Any]]] = {}
        for row in await self.repo.top_by_cuisine(TOP_PER_CUISINE):
            top.setdefault(row["cuisine"], []).append(
                {
                    "id": row["id"],
                    "name": row["name"],
                    "rating_avg": round(float(row["rating_avg"] or 0.0), 2),
                    "review_count": row["review_count"],
                }
            )
        return {
            "total_restaurants": restaurants,
            "total_reviews": total_reviews,
            "total_users": users,
            "average_rating": average,
            "rating_histogram": histogram,
            "top_restaurants_by_cuisine": top,
        }
