"""core tables: users, tokens, restaurants, reviews

Revision ID: 0001
Revises:
Create Date: 2026-11-30 02:32:46.933876
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:

    op.create_table(
        "restaurants",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=120), nullable=False),
        sa.Column("cuisine", sa.String(length=40), nullable=False),
        sa.Column("city", sa.String(length=80), nullable=False),
        sa.Column("address", sa.String(length=200), nullable=False),
        sa.Column("latitude", sa.Float(), nullable=False),
        sa.Column("longitude", sa.Float(), nullable=False),
        sa.Column("price_level", sa.SmallInteger(), nullable=False),
        sa.Column("hours", sa.JSON(), nullable=False),
        sa.Column("rating_avg", sa.Float(), nullable=False),
        sa.Column("review_count", sa.Integer(), nullable=False),
        sa.Column("rating_sum", sa.Integer(), nullable=False),
        sa.Column("rating_score", sa.Float(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "latitude BETWEEN -90 AND 90", name=op.f("ck_restaurants_latitude_range")
        ),
        sa.CheckConstraint(
            "longitude BETWEEN -180 AND 180", name=op.f("ck_restaurants_longitude_range")
        ),
        sa.CheckConstraint(
            "price_level BETWEEN 1 AND 4", name=op.f("ck_restaurants_price_level_range")
        ),
        sa.CheckConstraint("review_count >= 0", name=op.f("ck_restaurants_review_count_nonneg")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_restaurants")),
    )
    with op.batch_alter_table("restaurants", schema=None) as batch_op:
        batch_op.create_index("ix_restaurants_city", ["city"], unique=False)
        batch_op.create_index("ix_restaurants_created_at", ["created_at"], unique=False)
        batch_op.create_index(
            "ix_restaurants_cuisine_score", ["cuisine", "rating_score"], unique=False
        )
        batch_op.create_index("ix_restaurants_lat_lon", ["latitude", "longitude"], unique=False)
        batch_op.create_index("ix_restaurants_name", ["name"], unique=False)
        batch_op.create_index("ix_restaurants_price_level", ["price_level"], unique=False)
        batch_op.create_index("ix_restaurants_rating_avg", ["rating_avg"], unique=False)
        batch_op.create_index("ix_restaurants_rating_score", ["rating_score"], unique=False)
        batch_op.create_index("ix_restaurants_review_count", ["review_count"], unique=False)

    op.create_table(
        "users",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("email", sa.String(length=254), nullable=False),
        sa.Column("password_hash", sa.String(length=255), nullable=False),
        sa.Column("display_name", sa.String(length=80), nullable=False),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("role IN ('user', 'admin')", name=op.f("ck_users_role_valid")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_users")),
        sa.UniqueConstraint("email", name=op.f("uq_users_email")),
    )
    op.create_table(
        "auth_tokens",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_auth_tokens_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_auth_tokens")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_auth_tokens_token_hash")),
    )
    with op.batch_alter_table("auth_tokens", schema=None) as batch_op:
        batch_op.create_index("ix_auth_tokens_user_id", ["user_id"], unique=False)

    op.create_table(
        "restaurant_opening_intervals",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("restaurant_id", sa.Integer(), nullable=False),
        sa.Column("open_minute", sa.Integer(), nullable=False),
        sa.Column("close_minute", sa.Integer(), nullable=False),
        sa.CheckConstraint(
            "open_minute < close_minute",
            name=op.f("ck_restaurant_opening_intervals_interval_order"),
        ),
        sa.CheckConstraint(
            "open_minute >= 0 AND close_minute <= 10080",
            name=op.f("ck_restaurant_opening_intervals_week_minutes"),
        ),
        sa.ForeignKeyConstraint(
            ["restaurant_id"],
            ["restaurants.id"],
            name=op.f("fk_restaurant_opening_intervals_restaurant_id_restaurants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_restaurant_opening_intervals")),
    )
    with op.batch_alter_table("restaurant_opening_intervals", schema=None) as batch_op:
        batch_op.create_index("ix_opening_intervals_restaurant", ["restaurant_id"], unique=False)
        batch_op.create_index(
            "ix_opening_intervals_window", ["open_minute", "close_minute"], unique=False
        )

    op.create_table(
        "reviews",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("restaurant_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("rating", sa.SmallInteger(), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("rating BETWEEN 1 AND 5", name=op.f("ck_reviews_rating_range")),
        sa.ForeignKeyConstraint(
            ["restaurant_id"],
            ["restaurants.id"],
            name=op.f("fk_reviews_restaurant_id_restaurants"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_reviews_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_reviews")),
        sa.UniqueConstraint("user_id", "restaurant_id", name="uq_reviews_user_restaurant"),
    )
    with op.batch_alter_table("reviews", schema=None) as batch_op:
        batch_op.create_index("ix_reviews_created_at", ["created_at"], unique=False)
        batch_op.create_index("ix_reviews_rating", ["rating"], unique=False)
        batch_op.create_index(
            "ix_reviews_restaurant_created", ["restaurant_id", "created_at"], unique=False
        )
        batch_op.create_index("ix_reviews_user_created", ["user_id", "created_at"], unique=False)


def downgrade() -> None:

    with op.batch_alter_table("reviews", schema=None) as batch_op:
        batch_op.drop_index("ix_reviews_user_created")
        batch_op.drop_index("ix_reviews_restaurant_created")
        batch_op.drop_index("ix_reviews_rating")
        batch_op.drop_index("ix_reviews_created_at")

    op.drop_table("reviews")
    with op.batch_alter_table("restaurant_opening_intervals", schema=None) as batch_op:
        batch_op.drop_index("ix_opening_intervals_window")
        batch_op.drop_index("ix_opening_intervals_restaurant")

    op.drop_table("restaurant_opening_intervals")
    with op.batch_alter_table("auth_tokens", schema=None) as batch_op:
        batch_op.drop_index("ix_auth_tokens_user_id")

    op.drop_table("auth_tokens")
    op.drop_table("users")
    with op.batch_alter_table("restaurants", schema=None) as batch_op:
        batch_op.drop_index("ix_restaurants_review_count")
        batch_op.drop_index("ix_restaurants_rating_score")
        batch_op.drop_index("ix_restaurants_rating_avg")
        batch_op.drop_index("ix_restaurants_price_level")
        batch_op.drop_index("ix_restaurants_name")
        batch_op.drop_index("ix_restaurants_lat_lon")
        batch_op.drop_index("ix_restaurants_cuisine_score")
        batch_op.drop_index("ix_restaurants_created_at")
        batch_op.drop_index("ix_restaurants_city")

    op.drop_table("restaurants")
