"""rollout: rollouts, decisions, the controller lease, instance heartbeats, fault drills

Revision ID: 0009_rollout
Revises: 0007_parity, 0008_scale (and so joins the two branches)
Create Date: 2026-12-03 19:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009_rollout"
down_revision: str | Sequence[str] | None = ("0007_parity", "0008_scale")
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TS = sa.DateTime(timezone=True)
ACTIVE = "state IN ('running', 'paused')"


def upgrade() -> None:
    op.create_table(
        "rollout_rollouts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("flag", sa.String(length=64), nullable=False),
        sa.Column("grp", sa.String(length=16), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("config", sa.JSON(), nullable=False),
        sa.Column("percentage", sa.Float(), nullable=False),
        sa.Column("step_index", sa.Integer(), nullable=False),
        sa.Column("step_started_at", TS, nullable=False),
        sa.Column("consecutive_failures", sa.Integer(), nullable=False),
        sa.Column("step_backs", sa.Integer(), nullable=False),
        sa.Column("passing_windows", sa.Integer(), nullable=False),
        sa.Column("counted_until", TS, nullable=True),
        sa.Column("inconclusive_since", TS, nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("next_evaluation_at", TS, nullable=True),
        sa.Column("last_analysis", sa.JSON(), nullable=True),
        sa.Column("baseline", sa.JSON(), nullable=True),
        sa.Column("last_action", sa.String(length=32), nullable=True),
        sa.Column("last_reason", sa.Text(), nullable=True),
        sa.Column("audit_seen", sa.Integer(), nullable=False),
        sa.Column("started_at", TS, nullable=False),
        sa.Column("started_by", sa.String(length=120), nullable=False),
        sa.Column("updated_at", TS, nullable=False),
        sa.Column("ended_at", TS, nullable=True),
        sa.CheckConstraint(
            "state IN ('running', 'paused', 'completed', 'rolled_back', 'stopped')",
            name=op.f("ck_rollout_rollouts_state_valid"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_rollout_rollouts")),
    )
    op.create_index(
        "uq_rollout_rollouts_active_flag",
        "rollout_rollouts",
        ["flag"],
        unique=True,
        sqlite_where=sa.text(ACTIVE),
        postgresql_where=sa.text(ACTIVE),
    )
    op.create_table(
        "rollout_decisions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("rollout_id", sa.Integer(), nullable=False),
        sa.Column("flag", sa.String(length=64), nullable=False),
        sa.Column("at", TS, nullable=False),
        sa.Column("actor", sa.String(length=120), nullable=False),
        sa.Column("action", sa.String(length=32), nullable=False),
        sa.Column("verdict", sa.String(length=16), nullable=True),
        sa.Column("from_state", sa.String(length=16), nullable=False),
        sa.Column("to_state", sa.String(length=16), nullable=False),
        sa.Column("from_percentage", sa.Float(), nullable=False),
        sa.Column("to_percentage", sa.Float(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("window_from", TS, nullable=True),
        sa.Column("window_to", TS, nullable=True),
        sa.Column("flag_changed", sa.Boolean(), nullable=False),
        sa.Column("applied_at", TS, nullable=True),
        sa.Column("dry_run", sa.Boolean(), nullable=False),
        sa.Column("numbers", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(
            ["rollout_id"],
            ["rollout_rollouts.id"],
            name=op.f("fk_rollout_decisions_rollout_id_rollout_rollouts"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_rollout_decisions")),
    )
    op.create_index("ix_rollout_decisions_rollout_id", "rollout_decisions", ["rollout_id", "id"])
    op.create_table(
        "rollout_lease",
        sa.Column("name", sa.String(length=32), nullable=False),
        sa.Column("holder", sa.String(length=120), nullable=True),
        sa.Column("expires_at", TS, nullable=False),
        sa.Column("acquired_at", TS, nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_rollout_lease")),
    )
    op.create_table(
        "rollout_instances",
        sa.Column("instance", sa.String(length=120), nullable=False),
        sa.Column("started_at", TS, nullable=False),
        sa.Column("seen_at", TS, nullable=False),
        sa.Column("pins", sa.JSON(), nullable=False),
        sa.Column("fault_injection", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("instance", name=op.f("pk_rollout_instances")),
    )
    op.create_index("ix_rollout_instances_seen_at", "rollout_instances", ["seen_at"])
    op.create_table(
        "rollout_drills",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("grp", sa.String(length=16), nullable=False),
        sa.Column("error_rate", sa.Float(), nullable=False),
        sa.Column("latency_ms", sa.Float(), nullable=False),
        sa.Column("traffic", sa.String(length=8), nullable=False),
        sa.Column("starts_at", TS, nullable=False),
        sa.Column("ends_at", TS, nullable=False),
        sa.Column("created_by", sa.String(length=120), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_rollout_drills")),
    )
    op.create_index("ix_rollout_drills_ends_at", "rollout_drills", ["ends_at"])


def downgrade() -> None:
    op.drop_index("ix_rollout_drills_ends_at", table_name="rollout_drills")
    op.drop_table("rollout_drills")
    op.drop_index("ix_rollout_instances_seen_at", table_name="rollout_instances")
    op.drop_table("rollout_instances")
    op.drop_table("rollout_lease")
    op.drop_index("ix_rollout_decisions_rollout_id", table_name="rollout_decisions")
    op.drop_table("rollout_decisions")
    op.drop_index("uq_rollout_rollouts_active_flag", table_name="rollout_rollouts")
    op.drop_table("rollout_rollouts")
