"""StatisticsService with an in-memory repository."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from bistro.statistics.service import StatisticsService


class FakeStatistics:
    def __init__(self, histogram: dict[int, int], top: list[dict[str, Any]]) -> None:
        self.histogram, self.top = histogram, top
        self.asked: list[int] = []

    async def totals(self) -> tuple[int, int]:
        return 7, 3

    async def rating_histogram(self) -> dict[int, int]:
        return self.histogram

    async def top_by_cuisine(self, per_cuisine: int) -> Sequence[Mapping[str, Any]]:
        self.asked.append(per_cuisine)
        return self.top


async def test_summary_fills_the_histogram_and_groups_top_rows() -> None:
    top = [
        {"id": 4, "name": "A", "cuisine": "indian", "rating_avg": 4.666666, "review_count": 3},
        {"id": 2, "name": "B", "cuisine": "thai", "rating_avg": 5.0, "review_count": 1},
        {"id": 1, "name": "C", "cuisine": "thai", "rating_avg": 0.0, "review_count": 0},
    ]
    repo = FakeStatistics({5: 2, 2: 1}, top)
    data = await StatisticsService(repo).summary()
    assert repo.asked == [3]
    assert data == {
        "total_restaurants": 7,
        "total_reviews": 3,
        "total_users": 3,
        "average_rating": 4.0,
        "rating_histogram": {"1": 0, "2": 1, "3": 0, "4": 0, "5": 2},
        "top_restaurants_by_cuisine": {
            "indian": [{"id": 4, "name": "A", "rating_avg": 4.67, "review_count": 3}],
            "thai": [
                {"id": 2, "name": "B", "rating_avg": 5.0, "review_count": 1},
                {"id": 1, "name": "C", "rating_avg": 0.0, "review_count": 0},
            ],
        },
    }


async def test_empty_database_averages_zero() -> None:
    data = await StatisticsService(FakeStatistics({}, [])).summary()
    assert data["average_rating"] == 0.0 and data["total_reviews"] == 0
    assert data["rating_histogram"] == {str(r): 0 for r in range(1, 6)}
    assert data["top_restaurants_by_cuisine"] == {}
