"""Parity tables: shadow comparison counters per interval, capped mismatch examples, and the
noise the last replay learned."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from bistro.core.database import Base, UTCDateTime

COUNTERS = ("compared", "matched", "mismatched", "noise", "errors", "skipped", "dropped")


class ParityBucket(Base):
    """One process's shadow comparisons for one endpoint group in one flush interval."""

    __tablename__ = "parity_buckets"
    __table_args__ = (Index("ix_parity_buckets_start_grp", "bucket_start", "grp"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    bucket_start: Mapped[datetime] = mapped_column(UTCDateTime)
    instance: Mapped[str] = mapped_column(String(64))
    grp: Mapped[str] = mapped_column(String(16))
    compared: Mapped[int] = mapped_column(Integer)  # matched + mismatched + noise
    matched: Mapped[int] = mapped_column(Integer)
    mismatched: Mapped[int] = mapped_column(Integer)
    noise: Mapped[int] = mapped_column(Integer)
    errors: Mapped[int] = mapped_column(Integer)  # the shadow run failed or timed out
    skipped: Mapped[int] = mapped_column(Integer)  # a write touched the request's tags
    dropped: Mapped[int] = mapped_column(Integer)  # the shadow queue was full


class ParityExample(Base):
    """A shadow mismatch, redacted: the request and the first differences (capped)."""

    __tablename__ = "parity_examples"
    __table_args__ = (Index("ix_parity_examples_at", "at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    grp: Mapped[str] = mapped_column(String(16))
    endpoint: Mapped[str] = mapped_column(String(120))
    path: Mapped[str] = mapped_column(String(500))
    query: Mapped[str] = mapped_column(String(1000))
    served: Mapped[str] = mapped_column(String(8))  # the version that answered the client
    status_v3: Mapped[int] = mapped_column(Integer)
    status_v4: Mapped[int] = mapped_column(Integer)
    differences: Mapped[list[dict[str, Any]]] = mapped_column(JSON)


class ParityNoise(Base):
    """A noise path learned by the last ``bistro parity run --save-noise`` (replaced whole)."""

    __tablename__ = "parity_noise"

    endpoint: Mapped[str] = mapped_column(String(120), primary_key=True)
    path: Mapped[str] = mapped_column(String(300), primary_key=True)
    learned_at: Mapped[datetime] = mapped_column(UTCDateTime)
