"""Database.reader: read-only sessions skip BEGIN/COMMIT; unit_of_work keeps its transaction."""

from __future__ import annotations

import asyncio

from sqlalchemy import text

from bistro.core.database import Database
from bistro.core.settings import DatabaseSettings


async def test_reader_sends_no_transaction_statements(postgres_url: str) -> None:
    db = Database(DatabaseSettings(url=postgres_url, pool_size=1, max_overflow=0))
    sent: list[str] = []
    try:
        async with db.engine.connect() as conn:
            raw = (await conn.get_raw_connection()).driver_connection
            raw.add_query_logger(
                lambda record: sent.append(record.query.split()[0].upper().rstrip(";"))
            )
        async with db.reader() as session:
            assert (await session.execute(text("SELECT 41 + 1"))).scalar_one() == 42
        await asyncio.sleep(0.05)
        assert "BEGIN" not in sent and "COMMIT" not in sent
        async with db.unit_of_work() as session:
            await session.execute(text("SELECT 1"))
        await asyncio.sleep(0.05)  # query loggers are called soon after, not inline
        assert sent.count("BEGIN") == 1 and sent.count("COMMIT") == 1
        # The pooled connection is back in transactional mode after a reader used it.
        async with db.unit_of_work() as session:
            await session.execute(text("CREATE TEMP TABLE t (x int)"))
            await session.rollback()
        async with db.reader() as session:
            missing = await session.execute(
                text("SELECT count(*) FROM pg_class WHERE relname = 't' AND relpersistence = 't'")
            )
            assert missing.scalar_one() == 0
    finally:
        await db.dispose()


async def test_reader_reads_committed_rows(db_url: str) -> None:
    db = Database(DatabaseSettings(url=db_url))
    try:
        async with db.unit_of_work() as session:
            await session.execute(
                text(
                    "INSERT INTO users (email, password_hash, display_name, role, created_at, "
                    "updated_at) VALUES ('r@example.com', 'x', 'R', 'user', "
                    "CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)"
                ),
            )
        async with db.reader() as session:
            email = await session.execute(text("SELECT email FROM users"))
            assert email.scalar_one() == "r@example.com"
    finally:
        await db.dispose()
