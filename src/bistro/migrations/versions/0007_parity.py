"""parity: shadow comparison buckets, mismatch examples, learned noise

Revision ID: 0007_parity
Revises: 0006_monitoring_sources
Create Date: 2026-12-03 19:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007_parity"
down_revision: str | Sequence[str] | None = "0006_monitoring_sources"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "parity_buckets",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("bucket_start", sa.DateTime(timezone=True), nullable=False),
        sa.Column("instance", sa.String(length=64), nullable=False),
        sa.Column("grp", sa.String(length=16), nullable=False),
        *(
            sa.Column(name, sa.Integer(), nullable=False)
            for name in (
                "compared",
                "matched",
                "mismatched",
                "noise",
                "errors",
                "skipped",
                "dropped",
            )
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_parity_buckets")),
    )
    op.create_index("ix_parity_buckets_start_grp", "parity_buckets", ["bucket_start", "grp"])
    op.create_table(
        "parity_examples",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("grp", sa.String(length=16), nullable=False),
        sa.Column("endpoint", sa.String(length=120), nullable=False),
        sa.Column("path", sa.String(length=500), nullable=False),
        sa.Column("query", sa.String(length=1000), nullable=False),
        sa.Column("served", sa.String(length=8), nullable=False),
        sa.Column("status_v3", sa.Integer(), nullable=False),
        sa.Column("status_v4", sa.Integer(), nullable=False),
        sa.Column("differences", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_parity_examples")),
    )
    op.create_index("ix_parity_examples_at", "parity_examples", ["at"])
    op.create_table(
        "parity_noise",
        sa.Column("endpoint", sa.String(length=120), nullable=False),
        sa.Column("path", sa.String(length=300), nullable=False),
        sa.Column("learned_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("endpoint", "path", name=op.f("pk_parity_noise")),
    )


def downgrade() -> None:
    op.drop_table("parity_noise")
    op.drop_index("ix_parity_examples_at", table_name="parity_examples")
    op.drop_table("parity_examples")
    op.drop_index("ix_parity_buckets_start_grp", table_name="parity_buckets")
    op.drop_table("parity_buckets")
