from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    CheckConstraint,
    ForeignKey,
    Index,
    Integer,
    SmallInteger,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from bistro.core.clock import utcnow
from bistro.core.database import Base, UTCDateTime


class Review(Base):
    __tablename__ = "reviews"
    __table_args__ = (
        CheckConstraint("rating BETWEEN 1 AND 5", name="rating_range"),
        UniqueConstraint("user_id", "restaurant_id", name="uq_reviews_user_restaurant"),
        Index("ix_reviews_restaurant_created", "restaurant_id", "created_at"),
        Index("ix_reviews_user_created", "user_id", "created_at"),
        Index("ix_reviews_created_at", "created_at"),
        Index("ix_reviews_rating", "rating"),
        # sort=rating orders by (rating desc, created_at desc), overall and per restaurant.
        Index("ix_reviews_rating_created", "rating", "created_at"),
        Index("ix_reviews_restaurant_rating_created", "restaurant_id", "rating", "created_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    restaurant_id: Mapped[int] = mapped_column(ForeignKey("restaurants.id", ondelete="CASCADE"))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    rating: Mapped[int] = mapped_column(SmallInteger)
    text: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
