"""migration control plane: flags, overrides, audit log, change counter

Revision ID: 0002_flags
Revises: 0001
Create Date: 2026-11-30 02:50:00
"""

from collections.abc import Sequence
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

revision: str = "0002_flags"
down_revision: str | Sequence[str] | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Frozen copy of the defaults at the time of this revision (migrations never import app code).
_DEFAULTS = [
    ("api_v4_enabled", "full", 100.0),
    ("api_v4_restaurants", "disabled", 0.0),
    ("api_v4_reviews", "disabled", 0.0),
    ("api_v4_users", "disabled", 0.0),
    ("api_v4_statistics", "disabled", 0.0),
    ("api_v4_cache", "full", 100.0),
    ("api_v4_validation", "full", 100.0),
    ("api_v4_error_handling", "full", 100.0),
]


def upgrade() -> None:
    flags = op.create_table(
        "migration_flags",
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("stage", sa.String(length=16), nullable=False),
        sa.Column("percentage", sa.Float(), nullable=False),
        sa.Column("description", sa.String(length=300), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_by", sa.String(length=120), nullable=False),
        sa.CheckConstraint(
            "stage IN ('disabled', 'testing', 'partial', 'full', 'complete')",
            name=op.f("ck_migration_flags_stage_valid"),
        ),
        sa.CheckConstraint(
            "percentage >= 0 AND percentage <= 100",
            name=op.f("ck_migration_flags_percentage_range"),
        ),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_migration_flags")),
    )
    op.create_table(
        "migration_flag_overrides",
        sa.Column("flag", sa.String(length=64), nullable=False),
        sa.Column("subject", sa.String(length=128), nullable=False),
        sa.Column("version", sa.String(length=2), nullable=False),
        sa.Column("reason", sa.String(length=500), nullable=False),
        sa.Column("created_by", sa.String(length=120), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "version IN ('v3', 'v4')", name=op.f("ck_migration_flag_overrides_version_valid")
        ),
        sa.PrimaryKeyConstraint("flag", "subject", name=op.f("pk_migration_flag_overrides")),
    )
    op.create_table(
        "migration_flag_audit",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("flag", sa.String(length=64), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor", sa.String(length=120), nullable=False),
        sa.Column("action", sa.String(length=32), nullable=False),
        sa.Column("old_value", sa.JSON(), nullable=True),
        sa.Column("new_value", sa.JSON(), nullable=True),
        sa.Column("reason", sa.String(length=500), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_migration_flag_audit")),
    )
    with op.batch_alter_table("migration_flag_audit", schema=None) as batch_op:
        batch_op.create_index("ix_migration_flag_audit_at", ["at"], unique=False)
        batch_op.create_index("ix_migration_flag_audit_flag_at", ["flag", "at"], unique=False)
    version = op.create_table(
        "migration_flag_version",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("changed_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_migration_flag_version")),
    )
    now = datetime.now(UTC)
    op.bulk_insert(
        flags,
        [
            {
                "name": name,
                "stage": stage,
                "percentage": pct,
                "description": "",
                "updated_at": now,
                "updated_by": "migration 0002_flags",
            }
            for name, stage, pct in _DEFAULTS
        ],
    )
    op.bulk_insert(version, [{"id": 1, "version": 1, "changed_at": now}])


def downgrade() -> None:
    op.drop_table("migration_flag_version")
    with op.batch_alter_table("migration_flag_audit", schema=None) as batch_op:
        batch_op.drop_index("ix_migration_flag_audit_flag_at")
        batch_op.drop_index("ix_migration_flag_audit_at")
    op.drop_table("migration_flag_audit")
    op.drop_table("migration_flag_overrides")
    op.drop_table("migration_flags")
