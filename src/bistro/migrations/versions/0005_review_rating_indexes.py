"""Indexes for reviews sorted by rating, overall and per restaurant

Revision ID: 0005_review_rating_indexes
Revises: 0004_v4_indexes
Create Date: 2026-11-30 05:00:00

``GET /reviews?sort=rating`` orders by ``rating DESC, created_at DESC``; without these the
database sorts every matching review to return one page.
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0005_review_rating_indexes"
down_revision: str | Sequence[str] | None = "0004_v4_indexes"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index("ix_reviews_rating_created", "reviews", ["rating", "created_at"])
    op.create_index(
        "ix_reviews_restaurant_rating_created",
        "reviews",
        ["restaurant_id", "rating", "created_at"],
    )


def downgrade() -> None:
    op.drop_index("ix_reviews_restaurant_rating_created", table_name="reviews")
    op.drop_index("ix_reviews_rating_created", table_name="reviews")
