"""Rollout tables: one current row per rollout, an append-only decision log, the controller's
lease, the instances that report in (with their environment pins) and fault drills."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from bistro.core.database import Base, UTCDateTime

ACTIVE_SQL = "state IN ('running', 'paused')"


class RolloutRow(Base):
    """A rollout of one flag. ``version`` grows by one on every transition: writers update
    with ``WHERE version = <the one they read>`` (compare-and-set), so two controllers can
    never both apply a step."""

    __tablename__ = "rollout_rollouts"
    __table_args__ = (
        CheckConstraint(
            "state IN ('running', 'paused', 'completed', 'rolled_back', 'stopped')",
            name="state_valid",
        ),
        # At most one active rollout per flag, on both backends (a partial unique index).
        Index(
            "uq_rollout_rollouts_active_flag",
            "flag",
            unique=True,
            sqlite_where=text(ACTIVE_SQL),
            postgresql_where=text(ACTIVE_SQL),
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    flag: Mapped[str] = mapped_column(String(64))
    grp: Mapped[str] = mapped_column(String(16))
    state: Mapped[str] = mapped_column(String(16))
    config: Mapped[dict[str, Any]] = mapped_column(JSON)
    percentage: Mapped[float] = mapped_column(Float)
    step_index: Mapped[int] = mapped_column(Integer)
    step_started_at: Mapped[datetime] = mapped_column(UTCDateTime)
    consecutive_failures: Mapped[int] = mapped_column(Integer, default=0)
    step_backs: Mapped[int] = mapped_column(Integer, default=0)
    passing_windows: Mapped[int] = mapped_column(Integer, default=0)
    counted_until: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    inconclusive_since: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    version: Mapped[int] = mapped_column(Integer, default=1)
    next_evaluation_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    # The last analysis (every number) and the last v3 sample that had enough requests.
    last_analysis: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    baseline: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    last_action: Mapped[str | None] = mapped_column(String(32), nullable=True)
    last_reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    # Flag audit rows up to this id have been looked at (manual changes are the others').
    audit_seen: Mapped[int] = mapped_column(Integer, default=0)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime)
    started_by: Mapped[str] = mapped_column(String(120))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


class RolloutDecision(Base):
    """Every decision with the numbers behind it (append-only)."""

    __tablename__ = "rollout_decisions"
    __table_args__ = (Index("ix_rollout_decisions_rollout_id", "rollout_id", "id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    rollout_id: Mapped[int] = mapped_column(
        Integer, ForeignKey("rollout_rollouts.id", ondelete="CASCADE")
    )
    flag: Mapped[str] = mapped_column(String(64))
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    actor: Mapped[str] = mapped_column(String(120))
    action: Mapped[str] = mapped_column(String(32))
    verdict: Mapped[str | None] = mapped_column(String(16), nullable=True)
    from_state: Mapped[str] = mapped_column(String(16))
    to_state: Mapped[str] = mapped_column(String(16))
    from_percentage: Mapped[float] = mapped_column(Float)
    to_percentage: Mapped[float] = mapped_column(Float)
    # The rollout's version this decision produced: consecutive, so a gap or a repeat shows.
    version: Mapped[int] = mapped_column(Integer)
    reason: Mapped[str] = mapped_column(Text)
    window_from: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    window_to: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    flag_changed: Mapped[bool] = mapped_column(Boolean, default=False)
    # The one column written after the insert: when the transaction that changed the flag
    # committed (the decision is otherwise append-only).
    applied_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    dry_run: Mapped[bool] = mapped_column(Boolean, default=False)
    numbers: Mapped[dict[str, Any]] = mapped_column(JSON)


class ControllerLease(Base):
    """Who runs the controller. Taken when free or expired, renewed by its holder."""

    __tablename__ = "rollout_lease"

    name: Mapped[str] = mapped_column(String(32), primary_key=True)
    holder: Mapped[str | None] = mapped_column(String(120), nullable=True)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    acquired_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    version: Mapped[int] = mapped_column(Integer, default=0)


class InstanceRow(Base):
    """A serving instance's heartbeat: what it pins by environment, whether it allows drills."""

    __tablename__ = "rollout_instances"

    instance: Mapped[str] = mapped_column(String(120), primary_key=True)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime)
    seen_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    pins: Mapped[dict[str, Any]] = mapped_column(JSON)
    fault_injection: Mapped[bool] = mapped_column(Boolean, default=False)


class DrillRow(Base):
    """A fault drill: injected v4 errors/latency on one group until ``ends_at``."""

    __tablename__ = "rollout_drills"
    __table_args__ = (Index("ix_rollout_drills_ends_at", "ends_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    grp: Mapped[str] = mapped_column(String(16))
    error_rate: Mapped[float] = mapped_column(Float)
    latency_ms: Mapped[float] = mapped_column(Float)
    traffic: Mapped[str] = mapped_column(String(8), default="all")
    starts_at: Mapped[datetime] = mapped_column(UTCDateTime)
    ends_at: Mapped[datetime] = mapped_column(UTCDateTime)
    created_by: Mapped[str] = mapped_column(String(120))
