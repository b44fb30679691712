"""Database.reader: read-only sessions skip BEGIN/COMMIT; unit_of_work keeps its transaction;
the driver path hands out the pooled asyncpg connection and always gives it back."""

from __future__ import annotations

import asyncio

import asyncpg
import pytest
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


async def test_driver_connection_goes_back_to_the_pool(postgres_url: str) -> None:
    # One connection in the pool and no overflow: a leaked checkout would hang the next one.
    db = Database(DatabaseSettings(url=postgres_url, pool_size=1, max_overflow=0))
    try:
        pids = set()
        for _ in range(3):
            async with db.reader() as reads:
                driver = await reads.driver()
                assert await reads.driver() is driver  # one checkout per block
                pids.add(await driver.fetchval("SELECT pg_backend_pid()"))
        assert len(pids) == 1
        # SQLAlchemy statements and the driver path share the pool.
        async with db.reader() as reads:
            assert (await reads.execute(text("SELECT 1"))).scalar_one() == 1
        async with asyncio.timeout(5):
            async with db.reader() as reads:
                assert await (await reads.driver()).fetchval("SELECT 2") == 2
    finally:
        await db.dispose()


async def test_driver_connection_lost_mid_block_is_not_reused(postgres_url: str) -> None:
    db = Database(DatabaseSettings(url=postgres_url, pool_size=1, max_overflow=0))
    killer = await asyncpg.connect(postgres_url.replace("+asyncpg", ""))
    try:
        async with db.reader() as reads:
            first_pid = await (await reads.driver()).fetchval("SELECT pg_backend_pid()")
        with pytest.raises((asyncpg.ConnectionDoesNotExistError, asyncpg.InterfaceError)):
            async with db.reader() as reads:
                driver = await reads.driver()
                await killer.execute(f"SELECT pg_terminate_backend({int(first_pid)})")
                await asyncio.sleep(0.2)  # let the client see the server hang up
                await driver.fetchval("SELECT 1")
        # The dead connection was dropped, not pooled: the next reads work on a new one.
        for _ in range(2):
            async with db.reader() as reads:
                pid = await (await reads.driver()).fetchval("SELECT pg_backend_pid()")
            assert pid != first_pid
    finally:
        await killer.close()
        await db.dispose()


async def test_driver_connection_cancelled_mid_statement_is_not_reused(
    postgres_url: str,
) -> None:
    # A client that hangs up cancels its request mid-query: that connection is still busy.
    db = Database(DatabaseSettings(url=postgres_url, pool_size=1, max_overflow=0))
    started = asyncio.Event()

    async def slow_read() -> None:
        async with db.reader() as reads:
            driver = await reads.driver()
            started.set()
            await driver.fetchval("SELECT pg_sleep(5)")

    try:
        task = asyncio.create_task(slow_read())
        await started.wait()
        await asyncio.sleep(0.1)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        async with asyncio.timeout(5):
            async with db.reader() as reads:
                assert await (await reads.driver()).fetchval("SELECT 3") == 3
    finally:
        await db.dispose()


async def test_driver_path_is_postgresql_only(sqlite_url: str) -> None:
    db = Database(DatabaseSettings(url=sqlite_url))
    try:
        async with db.reader() as reads:
            assert not reads.has_driver
            with pytest.raises(RuntimeError, match="PostgreSQL"):
                await reads.driver()
    finally:
        await db.dispose()
