"""The unit of work commits once at the edge; work that must follow the commit waits for it."""

from __future__ import annotations

import pytest
from sqlalchemy import text

from bistro.core.database import Database, after_commit
from bistro.core.settings import DatabaseSettings


async def test_after_commit_runs_after_the_commit_and_never_after_a_rollback(db_url: str) -> None:
    db = Database(DatabaseSettings(url=db_url, pool_size=1, max_overflow=0))
    seen: list[object] = []

    async def read_back() -> None:
        # A connection of its own: the unit of work has given its one back to the pool.
        async with db.engine.connect() as conn:
            found = await conn.execute(text("SELECT display_name FROM users WHERE id = 424242"))
            seen.append(found.scalar_one_or_none())

    try:
        async with db.unit_of_work() as session:
            await session.execute(
                text(
                    "INSERT INTO users (id, email, password_hash, display_name, role, "
                    "created_at, updated_at) VALUES (424242, 'uow@example.com', 'x', 'Uow', "
                    "'user', CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)"
                )
            )
            after_commit(session, read_back)
            assert seen == []  # not yet: nothing is committed
        assert seen == ["Uow"]  # committed, then the hook, which sees the row

        with pytest.raises(RuntimeError):
            async with db.unit_of_work() as session:
                after_commit(session, read_back)
                raise RuntimeError("the block failed")
        assert seen == ["Uow"]  # rolled back: the hook was dropped
    finally:
        async with db.unit_of_work() as session:
            await session.execute(text("DELETE FROM users WHERE id = 424242"))
        await db.dispose()
