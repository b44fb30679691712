from __future__ import annotations

from pydantic import BaseModel, Field


class TopRestaurantOut(BaseModel):
    id: int
    name: str
    rating_avg: float
    review_count: int


class StatisticsOut(BaseModel):
    total_restaurants: int
    total_reviews: int
    total_users: int
    average_rating: float = Field(description="Mean of every review's rating, 2 decimals")
    rating_histogram: dict[str, int] = Field(
        description='Reviews per rating: {"1": n, ..., "5": n}'
    )
    top_restaurants_by_cuisine: dict[str, list[TopRestaurantOut]] = Field(
        description="Per cuisine, up to 3 restaurants in sort=rating order"
    )
