"""monitoring: traffic source and client aborts on request buckets, per-minute rollups

Revision ID: 0006_monitoring_sources
Revises: 0003_monitoring
Create Date: 2026-12-03 19:00:00

Buckets written before this revision were all counted as client traffic on ``/api/v3`` and
``/api/v4`` or the stable path alike; they become ``direct`` (the stable path had no marker).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006_monitoring_sources"
down_revision: str | Sequence[str] | None = "0003_monitoring"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column(
        "monitoring_request_buckets",
        sa.Column("source", sa.String(length=16), nullable=False, server_default="direct"),
    )
    op.add_column(
        "monitoring_request_buckets",
        sa.Column("client_aborts", sa.Integer(), nullable=False, server_default="0"),
    )
    op.create_index(
        "ix_monitoring_request_buckets_source_grp_start",
        "monitoring_request_buckets",
        ["source", "grp", "bucket_start"],
    )
    op.create_table(
        "monitoring_request_minutes",
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("grp", sa.String(length=16), nullable=False),
        sa.Column("minute", sa.DateTime(timezone=True), nullable=False),
        sa.Column("version", sa.String(length=8), nullable=False),
        sa.Column("instance", sa.String(length=64), nullable=False),
        sa.Column("requests", sa.Integer(), nullable=False),
        sa.Column("errors_4xx", sa.Integer(), nullable=False),
        sa.Column("errors_5xx", sa.Integer(), nullable=False),
        sa.Column("client_aborts", sa.Integer(), nullable=False),
        sa.Column("latency_sum", sa.Float(), nullable=False),
        sa.Column("bytes_out", sa.BigInteger(), nullable=False),
        sa.Column("histogram", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint(
            "source",
            "grp",
            "minute",
            "version",
            "instance",
            name=op.f("pk_monitoring_request_minutes"),
        ),
    )


def downgrade() -> None:
    op.drop_table("monitoring_request_minutes")
    op.drop_index(
        "ix_monitoring_request_buckets_source_grp_start", table_name="monitoring_request_buckets"
    )
    with op.batch_alter_table("monitoring_request_buckets") as batch:
        batch.drop_column("client_aborts")
        batch.drop_column("source")
