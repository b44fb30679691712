"""What v3 responses look like, for the OpenAPI document only (routes render with orjson).

Each model lists exactly the fields v3 returns; v4's models are supersets of these.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field


class V3Restaurant(BaseModel):
    id: int
    name: str
    cuisine: str
    city: str
    address: str
    latitude: float
    longitude: float
    price_level: int
    hours: dict[str, list[list[str]]] = Field(
        description="mon..sun, each a list of [open, close] 'HH:MM' pairs"
    )
    rating_avg: float
    review_count: int
    created_at: datetime
    updated_at: datetime
    distance_km: float | None = Field(None, description="Only with near=lat,lon")


class V3RestaurantDetail(V3Restaurant):
    is_open_now: bool


class V3Review(BaseModel):
    id: int
    restaurant_id: int
    user_id: int
    rating: int
    text: str
    created_at: datetime
    updated_at: datetime


class V3UserOut(BaseModel):
    id: int
    email: str | None = Field(None, description="Only to the user themself and to admins")
    display_name: str
    role: str
    created_at: datetime


class V3Token(BaseModel):
    token: str
    token_type: str = "bearer"
    expires_at: datetime
    user: V3UserOut


class V3TopRestaurant(BaseModel):
    id: int
    name: str
    rating_avg: float
    review_count: int


class V3Statistics(BaseModel):
    total_restaurants: int
    total_reviews: int
    total_users: int
    average_rating: float
    rating_histogram: dict[str, int]
    top_restaurants_by_cuisine: dict[str, list[V3TopRestaurant]]


class V3Error(BaseModel):
    """The legacy error body: no machine code, no details."""

    success: bool = False
    error: str
    status_code: int


_DESCRIPTIONS = {
    400: "Malformed request or invalid value",
    401: "Missing, expired or revoked token",
    403: "Signed in but not allowed",
    404: "No such resource",
    409: "Conflicts with existing data",
    413: "Request body too large",
}


def v3_errors(*codes: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses`` for a v3 route: the v3 error body for each expected failure."""
    return {code: {"description": _DESCRIPTIONS[code], "model": V3Error} for code in codes}
