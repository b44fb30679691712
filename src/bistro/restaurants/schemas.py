"""Restaurant request bodies, the list query, and the response models OpenAPI documents."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator

from bistro.restaurants.geo import Near
from bistro.restaurants.hours import DAYS, HoursError, validate_hours

RestaurantSort = Literal["rating", "review_count", "name", "newest", "distance"]
SORTS: tuple[str, ...] = ("rating", "review_count", "name", "newest", "distance")

CUISINE_RE = re.compile(r"^[a-z0-9]+(?:[-_][a-z0-9]+)*$")
MAX_CUISINE_LENGTH = 40


def normalise_cuisine(value: str) -> str:
    """Cuisines are lower-case slugs: ``" Thai "`` -> ``"thai"``, ``"Street Food"`` ->
    ``"street-food"``; anything else is a ValueError."""
    slug = "-".join(value.strip().lower().split())
    if not slug or len(slug) > MAX_CUISINE_LENGTH or not CUISINE_RE.match(slug):
        raise ValueError(
            f"cuisine must be a lower-case slug of letters, digits and '-' "
            f"(1..{MAX_CUISINE_LENGTH} chars), got {value[:60]!r}"
        )
    return slug


Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=120)]
City = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=80)]
Address = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
Latitude = Annotated[float, Field(ge=-90, le=90, allow_inf_nan=False)]
Longitude = Annotated[float, Field(ge=-180, le=180, allow_inf_nan=False)]
PriceLevel = Annotated[int, Field(ge=1, le=4, strict=True)]
HoursIn = dict[str, list[list[str]]]

_HOURS_EXAMPLE: dict[str, Any] = {d: [["09:00", "22:00"]] for d in DAYS}


def _closed_week() -> dict[str, list[list[str]]]:
    return {d: [] for d in DAYS}


class _In(BaseModel):
    # Unknown fields (id, rating_avg, review_count, ...) are ignored: no mass assignment.
    model_config = ConfigDict(extra="ignore")

    @field_validator("cuisine", check_fields=False)
    @classmethod
    def _cuisine(cls, value: str | None) -> str | None:
        return None if value is None else normalise_cuisine(value)

    @field_validator("hours", check_fields=False)
    @classmethod
    def _hours(cls, value: Any) -> Any:
        if value is None:
            return None
        try:
            return validate_hours(value)
        except HoursError as exc:
            raise ValueError(str(exc)) from None


class RestaurantCreate(_In):
    name: Name
    cuisine: str = Field(max_length=60)
    city: City
    address: Address
    latitude: Latitude
    longitude: Longitude
    price_level: PriceLevel
    hours: HoursIn = Field(
        default_factory=_closed_week,
        description="All seven keys mon..sun, each a list of [open, close] 'HH:MM' pairs",
        json_schema_extra={"example": _HOURS_EXAMPLE},
    )


class RestaurantUpdate(_In):
    """Every field optional: only the fields sent change."""

    name: Name | None = None
    cuisine: str | None = Field(None, max_length=60)
    city: City | None = None
    address: Address | None = None
    latitude: Latitude | None = None
    longitude: Longitude | None = None
    price_level: PriceLevel | None = None
    hours: HoursIn | None = None


class RestaurantOut(BaseModel):
    id: int
    name: str
    cuisine: str
    city: str
    address: str
    latitude: float
    longitude: float
    price_level: int
    hours: dict[str, list[list[str]]]
    rating_avg: float
    review_count: int
    rating_score: float
    created_at: datetime
    updated_at: datetime
    distance_km: float | None = Field(None, description="Only with near=lat,lon")


class RestaurantDetailOut(RestaurantOut):
    is_open_now: bool


@dataclass(frozen=True, slots=True)
class RestaurantQuery:
    """Everything a list or search request filters and sorts by (already validated)."""

    cuisines: tuple[str, ...] = ()
    city: str | None = None
    price_min: int | None = None
    price_max: int | None = None
    min_rating: float | None = None
    open_now: bool = False
    near: Near | None = None
    q: str | None = None
    sort: str = "rating"
