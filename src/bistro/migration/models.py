"""Tables of the control plane: live flag state, overrides, the audit log and a change counter."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, CheckConstraint, Float, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from bistro.core.clock import utcnow
from bistro.core.database import Base, UTCDateTime

STAGES_SQL = "stage IN ('disabled', 'testing', 'partial', 'full', 'complete')"


class FlagRow(Base):
    """The live state of one flag. A missing row means the flag's default (flags.DEFAULTS)."""

    __tablename__ = "migration_flags"
    __table_args__ = (
        CheckConstraint(STAGES_SQL, name="stage_valid"),
        CheckConstraint("percentage >= 0 AND percentage <= 100", name="percentage_range"),
    )

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    stage: Mapped[str] = mapped_column(String(16))
    percentage: Mapped[float] = mapped_column(Float)
    description: Mapped[str] = mapped_column(String(300), default="")
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_by: Mapped[str] = mapped_column(String(120), default="system")


class FlagOverride(Base):
    """One subject pinned to v3 or v4 for one flag (testers are overrides to v4)."""

    __tablename__ = "migration_flag_overrides"
    __table_args__ = (CheckConstraint("version IN ('v3', 'v4')", name="version_valid"),)

    flag: Mapped[str] = mapped_column(String(64), primary_key=True)
    subject: Mapped[str] = mapped_column(String(128), primary_key=True)
    version: Mapped[str] = mapped_column(String(2))
    reason: Mapped[str] = mapped_column(String(500), default="")
    created_by: Mapped[str] = mapped_column(String(120))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class FlagAudit(Base):
    """Every change: who, when, old value, new value, why."""

    __tablename__ = "migration_flag_audit"
    __table_args__ = (Index("ix_migration_flag_audit_flag_at", "flag", "at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    flag: Mapped[str] = mapped_column(String(64))
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    actor: Mapped[str] = mapped_column(String(120))
    action: Mapped[str] = mapped_column(String(32))
    old_value: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    new_value: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    reason: Mapped[str] = mapped_column(String(500), default="")


class FlagStateVersion(Base):
    """One row (id 1) whose counter every change bumps: instances poll it to see changes."""

    __tablename__ = "migration_flag_version"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    version: Mapped[int] = mapped_column(Integer, default=0)
    changed_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
