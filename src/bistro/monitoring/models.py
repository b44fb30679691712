"""Monitoring tables: flushed metric buckets (every instance) and alert state with history."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, BigInteger, Float, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from bistro.core.database import Base, UTCDateTime


class RequestBucket(Base):
    """One process's requests for one (source, version, group, route) in one flush interval.

    ``requests`` counts answered requests (every status class); ``client_aborts`` counts those
    whose client went away first, which are in no other column (not in ``requests``, the
    latency sum or the histogram). Latencies are the server's time to the first byte."""

    __tablename__ = "monitoring_request_buckets"
    __table_args__ = (
        Index("ix_monitoring_request_buckets_start_version", "bucket_start", "version"),
        Index("ix_monitoring_request_buckets_source_grp_start", "source", "grp", "bucket_start"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    bucket_start: Mapped[datetime] = mapped_column(UTCDateTime)
    instance: Mapped[str] = mapped_column(String(64))
    source: Mapped[str] = mapped_column(String(16), server_default="direct")
    version: Mapped[str] = mapped_column(String(8))
    grp: Mapped[str] = mapped_column(String(16))
    route: Mapped[str] = mapped_column(String(200))
    requests: Mapped[int] = mapped_column(Integer)
    errors_4xx: Mapped[int] = mapped_column(Integer)
    errors_5xx: Mapped[int] = mapped_column(Integer)
    client_aborts: Mapped[int] = mapped_column(Integer, server_default="0")
    latency_sum: Mapped[float] = mapped_column(Float)
    bytes_out: Mapped[int] = mapped_column(BigInteger)
    # Sparse log-linear histogram {bucket index: count} (see monitoring.histogram).
    histogram: Mapped[dict[str, int]] = mapped_column(JSON)


class RequestMinute(Base):
    """One process's requests per (source, version, group) in one UTC minute: the sum of its
    request buckets whose ``bucket_start`` falls in that minute. Each process upserts only its
    own rows (the instance is in the key), so instances never contend; long window reads
    (the rollout controller's) read whole minutes here and only the edges from the buckets."""

    __tablename__ = "monitoring_request_minutes"

    source: Mapped[str] = mapped_column(String(16), primary_key=True)
    grp: Mapped[str] = mapped_column(String(16), primary_key=True)
    minute: Mapped[datetime] = mapped_column(UTCDateTime, primary_key=True)
    version: Mapped[str] = mapped_column(String(8), primary_key=True)
    instance: Mapped[str] = mapped_column(String(64), primary_key=True)
    requests: Mapped[int] = mapped_column(Integer)
    errors_4xx: Mapped[int] = mapped_column(Integer)
    errors_5xx: Mapped[int] = mapped_column(Integer)
    client_aborts: Mapped[int] = mapped_column(Integer)
    latency_sum: Mapped[float] = mapped_column(Float)
    bytes_out: Mapped[int] = mapped_column(BigInteger)
    # Flat [index, count, index, count, ...] (histogram.encode_pairs): fast to merge by the
    # hundred.
    histogram: Mapped[list[int]] = mapped_column(JSON)


class CacheBucket(Base):
    """One process's cache hits and misses per level in one flush interval."""

    __tablename__ = "monitoring_cache_buckets"
    __table_args__ = (Index("ix_monitoring_cache_buckets_start", "bucket_start"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    bucket_start: Mapped[datetime] = mapped_column(UTCDateTime)
    instance: Mapped[str] = mapped_column(String(64))
    level: Mapped[str] = mapped_column(String(16))
    hits: Mapped[int] = mapped_column(BigInteger)
    misses: Mapped[int] = mapped_column(BigInteger)


class AlertState(Base):
    """The current state of one alert (rule + subject); one row, so firing is de-duplicated."""

    __tablename__ = "monitoring_alerts"

    key: Mapped[str] = mapped_column(String(120), primary_key=True)
    rule: Mapped[str] = mapped_column(String(64))
    subject: Mapped[str] = mapped_column(String(64))
    state: Mapped[str] = mapped_column(String(16))
    value: Mapped[float] = mapped_column(Float)
    threshold: Mapped[float] = mapped_column(Float)
    message: Mapped[str] = mapped_column(Text)
    since: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class AlertEvent(Base):
    """History: every firing and resolved transition."""

    __tablename__ = "monitoring_alert_events"
    __table_args__ = (Index("ix_monitoring_alert_events_at", "at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    key: Mapped[str] = mapped_column(String(120))
    rule: Mapped[str] = mapped_column(String(64))
    subject: Mapped[str] = mapped_column(String(64))
    state: Mapped[str] = mapped_column(String(16))
    value: Mapped[float] = mapped_column(Float)
    threshold: Mapped[float] = mapped_column(Float)
    message: Mapped[str] = mapped_column(Text)
    at: Mapped[datetime] = mapped_column(UTCDateTime)
