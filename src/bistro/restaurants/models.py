from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    CheckConstraint,
    Float,
    ForeignKey,
    Index,
    Integer,
    SmallInteger,
    String,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from bistro.core.clock import utcnow
from bistro.core.database import Base, UTCDateTime
from bistro.core.rating import PRIOR_MEAN


class Restaurant(Base):
    __tablename__ = "restaurants"
    __table_args__ = (
        CheckConstraint("price_level BETWEEN 1 AND 4", name="price_level_range"),
        CheckConstraint("latitude BETWEEN -90 AND 90", name="latitude_range"),
        CheckConstraint("longitude BETWEEN -180 AND 180", name="longitude_range"),
        CheckConstraint("review_count >= 0", name="review_count_nonneg"),
        # Each list order has an index in exactly that order, ending with id (0008_scale).
        Index(
            "ix_restaurants_cuisine_rating_order",
            "cuisine",
            text("rating_score DESC"),
            text("review_count DESC"),
            "id",
            # Counting a filtered list from the index alone (migration 0008_scale).
            postgresql_include=["price_level", "rating_avg"],
        ),
        Index(
            "ix_restaurants_rating_order",
            text("rating_score DESC"),
            text("review_count DESC"),
            "id",
        ),
        Index("ix_restaurants_review_count_order", text("review_count DESC"), "id"),
        Index("ix_restaurants_name_order", "name", "id"),
        Index("ix_restaurants_newest_order", text("created_at DESC"), "id"),
        Index("ix_restaurants_city", "city"),
        # The city filter is case-insensitive (migration 0004_v4_indexes).
        Index(
            "ix_restaurants_city_lower",
            text("lower(city)"),
            postgresql_include=["city", "price_level", "rating_avg"],
        ),
        Index("ix_restaurants_price_level", "price_level"),
        Index("ix_restaurants_rating_avg", "rating_avg"),
        Index("ix_restaurants_lat_lon", "latitude", "longitude"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(120))
    cuisine: Mapped[str] = mapped_column(String(40))
    city: Mapped[str] = mapped_column(String(80))
    address: Mapped[str] = mapped_column(String(200))
    latitude: Mapped[float] = mapped_column(Float)
    longitude: Mapped[float] = mapped_column(Float)
    price_level: Mapped[int] = mapped_column(SmallInteger)
    hours: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    rating_avg: Mapped[float] = mapped_column(Float, default=0.0)
    review_count: Mapped[int] = mapped_column(Integer, default=0)
    rating_sum: Mapped[int] = mapped_column(Integer, default=0)
    rating_score: Mapped[float] = mapped_column(Float, default=PRIOR_MEAN)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class OpeningInterval(Base):
    """Opening hours, one row per (weekday, interval) so ``open_now`` is an indexed query.

    Minutes are counted from Monday 00:00 (0..10080); an interval past midnight is stored as
    two rows. ``restaurants.hours`` keeps the human form the API returns.
    """

    __tablename__ = "restaurant_opening_intervals"
    __table_args__ = (
        CheckConstraint("open_minute >= 0 AND close_minute <= 10080", name="week_minutes"),
        CheckConstraint("open_minute < close_minute", name="interval_order"),
        Index("ix_opening_intervals_window", "open_minute", "close_minute"),
        # The open_now EXISTS probes one restaurant's intervals from the index alone.
        Index(
            "ix_opening_intervals_restaurant_window",
            "restaurant_id",
            "open_minute",
            "close_minute",
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    restaurant_id: Mapped[int] = mapped_column(ForeignKey("restaurants.id", ondelete="CASCADE"))
    open_minute: Mapped[int] = mapped_column(Integer)
    close_minute: Mapped[int] = mapped_column(Integer)
