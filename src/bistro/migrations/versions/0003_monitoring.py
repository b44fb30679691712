"""monitoring: metric buckets, alert state and alert history

Revision ID: 0003_monitoring
Revises: 0001
Create Date: 2026-11-30 02:50:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003_monitoring"
down_revision: str | Sequence[str] | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "monitoring_request_buckets",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("bucket_start", sa.DateTime(timezone=True), nullable=False),
        sa.Column("instance", sa.String(length=64), nullable=False),
        sa.Column("version", sa.String(length=8), nullable=False),
        sa.Column("grp", sa.String(length=16), nullable=False),
        sa.Column("route", sa.String(length=200), nullable=False),
        sa.Column("requests", sa.Integer(), nullable=False),
        sa.Column("errors_4xx", sa.Integer(), nullable=False),
        sa.Column("errors_5xx", sa.Integer(), nullable=False),
        sa.Column("latency_sum", sa.Float(), nullable=False),
        sa.Column("bytes_out", sa.BigInteger(), nullable=False),
        sa.Column("histogram", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_monitoring_request_buckets")),
    )
    op.create_index(
        "ix_monitoring_request_buckets_start_version",
        "monitoring_request_buckets",
        ["bucket_start", "version"],
    )
    op.create_table(
        "monitoring_cache_buckets",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("bucket_start", sa.DateTime(timezone=True), nullable=False),
        sa.Column("instance", sa.String(length=64), nullable=False),
        sa.Column("level", sa.String(length=16), nullable=False),
        sa.Column("hits", sa.BigInteger(), nullable=False),
        sa.Column("misses", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_monitoring_cache_buckets")),
    )
    op.create_index(
        "ix_monitoring_cache_buckets_start", "monitoring_cache_buckets", ["bucket_start"]
    )
    op.create_table(
        "monitoring_alerts",
        sa.Column("key", sa.String(length=120), nullable=False),
        sa.Column("rule", sa.String(length=64), nullable=False),
        sa.Column("subject", sa.String(length=64), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("value", sa.Float(), nullable=False),
        sa.Column("threshold", sa.Float(), nullable=False),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("since", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_monitoring_alerts")),
    )
    op.create_table(
        "monitoring_alert_events",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(length=120), nullable=False),
        sa.Column("rule", sa.String(length=64), nullable=False),
        sa.Column("subject", sa.String(length=64), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("value", sa.Float(), nullable=False),
        sa.Column("threshold", sa.Float(), nullable=False),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_monitoring_alert_events")),
    )
    op.create_index("ix_monitoring_alert_events_at", "monitoring_alert_events", ["at"])


def downgrade() -> None:
    op.drop_index("ix_monitoring_alert_events_at", table_name="monitoring_alert_events")
    op.drop_table("monitoring_alert_events")
    op.drop_table("monitoring_alerts")
    op.drop_index("ix_monitoring_cache_buckets_start", table_name="monitoring_cache_buckets")
    op.drop_table("monitoring_cache_buckets")
    op.drop_index(
        "ix_monitoring_request_buckets_start_version", table_name="monitoring_request_buckets"
    )
    op.drop_table("monitoring_request_buckets")
