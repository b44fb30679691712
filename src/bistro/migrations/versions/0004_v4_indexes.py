"""v4 query indexes: case-insensitive city filter, trigram search on PostgreSQL

Revision ID: 0004_v4_indexes
Revises: 0001
Create Date: 2026-11-30 02:55:00

The city filter is ``lower(city) = lower(:city)`` (case-insensitive exact), which the plain
ix_restaurants_city cannot serve; an expression index can, on SQLite and PostgreSQL alike.

Search is ``ILIKE '%q%'`` over name, cuisine and city. On PostgreSQL, GIN trigram indexes
(pg_trgm) serve it; where the extension cannot be created (no privilege) the migration goes
on without them and search stays a sequential scan. SQLite has no such index.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004_v4_indexes"
down_revision: str | Sequence[str] | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


TRIGRAM_COLUMNS = ("name", "cuisine", "city")


def upgrade() -> None:
    op.create_index("ix_restaurants_city_lower", "restaurants", [sa.text("lower(city)")])
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute(
        "DO $$ BEGIN CREATE EXTENSION IF NOT EXISTS pg_trgm;"
        " EXCEPTION WHEN OTHERS THEN RAISE NOTICE 'pg_trgm unavailable: %', SQLERRM; END $$"
    )
    for column in TRIGRAM_COLUMNS:
        op.execute(
            "DO $$ BEGIN IF EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'pg_trgm') THEN"
            f" CREATE INDEX IF NOT EXISTS ix_restaurants_{column}_trgm ON restaurants"
            f" USING gin ({column} gin_trgm_ops); END IF; END $$"
        )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for column in TRIGRAM_COLUMNS:
            op.execute(f"DROP INDEX IF EXISTS ix_restaurants_{column}_trgm")
    op.drop_index("ix_restaurants_city_lower", table_name="restaurants")
