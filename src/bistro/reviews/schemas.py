"""Review request bodies and the response model OpenAPI documents."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

ReviewSort = Literal["newest", "rating"]
Rating = Annotated[int, Field(ge=1, le=5, strict=True, description="1..5 stars")]
ReviewText = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=5000)]
MAX_ID = 2**31 - 1


class _In(BaseModel):
    # Unknown fields (id, user_id, created_at, rating_avg, ...) are ignored: no mass assignment.
    model_config = ConfigDict(extra="ignore")


class ReviewCreate(_In):
    restaurant_id: Annotated[int, Field(ge=1, le=MAX_ID, strict=True)]
    rating: Rating
    text: ReviewText


class ReviewUpdate(_In):
    """Only the fields sent change; at least one of them."""

    rating: Rating | None = None
    text: ReviewText | None = None

    @model_validator(mode="after")
    def _something(self) -> ReviewUpdate:
        if self.rating is None and self.text is None:
            raise ValueError("send rating and/or text")
        return self


class ReviewOut(BaseModel):
    id: int
    restaurant_id: int
    user_id: int
    rating: int
    text: str
    created_at: datetime
    updated_at: datetime
