"""Statistics kept in step with every write by database triggers (migration 0008_scale).

``statistics_counters`` holds the totals the statistics endpoint reports, split over a few
shard rows so concurrent writers rarely wait on one another: each PostgreSQL connection adds
its deltas to the row ``pg_backend_pid() % SHARDS`` (one row per transaction, so two
writers never lock two rows in opposite orders), and a read sums the rows. SQLite has one
writer at a time and uses shard 0 only. The triggers live in the migration, not here: they
fire for v3's plain SQL, cascaded deletes and bulk loads alike, which application code cannot.
"""

from __future__ import annotations

from sqlalchemy import BigInteger, Integer
from sqlalchemy.orm import Mapped, mapped_column

from bistro.core.database import Base

SHARDS = 32
RATINGS = (1, 2, 3, 4, 5)


class StatisticsCounter(Base):
    __tablename__ = "statistics_counters"

    shard: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    restaurants: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    users: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    reviews_1: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    reviews_2: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    reviews_3: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    reviews_4: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    reviews_5: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
