"""Schema migrations (Alembic), callable from the CLI, the app and tests."""

from __future__ import annotations

import asyncio
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy.ext.asyncio import AsyncEngine


def alembic_config(url: str) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", "bistro:migrations")
    cfg.set_main_option("sqlalchemy.url", url)
    return cfg


def upgrade(url: str, revision: str = "heads") -> None:
    """Bring the database at ``url`` up to ``revision`` (every head by default)."""
    command.upgrade(alembic_config(url), revision)


async def upgrade_engine(engine: AsyncEngine, revision: str = "heads") -> None:
    """Migrate through an existing engine (used by tests and demo start-up)."""

    def _upgrade(connection: Any) -> None:
        cfg = alembic_config(str(engine.url))
        cfg.attributes["connection"] = connection
        command.upgrade(cfg, revision)

    async with engine.begin() as connection:
        await connection.run_sync(_upgrade)


def current(url: str) -> list[str]:
    from alembic.runtime.migration import MigrationContext
    from sqlalchemy.ext.asyncio import create_async_engine

    async def _heads() -> list[str]:
        engine = create_async_engine(url)
        try:
            async with engine.connect() as conn:
                return list(
                    await conn.run_sync(lambda c: MigrationContext.configure(c).get_current_heads())
                )
        finally:
            await engine.dispose()

    return asyncio.run(_heads())
