"""Engine, sessions and the unit of work.

One engine per process, created in the app's lifespan. A request gets one ``AsyncSession``
that commits once when the route returns and rolls back on error ("commit once, at the edge");
repositories and services only ``flush``. The session connects lazily, so a request served
from the cache never touches the pool.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, overload

import orjson
from sqlalchemy import DateTime, Executable, MetaData, event
from sqlalchemy.engine import CursorResult, Dialect
from sqlalchemy.ext.asyncio import (
    AsyncConnection,
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.orm import DeclarativeBase
from sqlalchemy.pool import PoolProxiedConnection
from sqlalchemy.types import TypeDecorator
from sqlalchemy.util import greenlet_spawn
from sqlalchemy.util.typing import TupleAny, TypeVarTuple, Unpack

from bistro.core.settings import DatabaseSettings

if TYPE_CHECKING:
    from sqlalchemy.sql.selectable import TypedReturnsRows

_Ts = TypeVarTuple("_Ts")

# Stable constraint names, so Alembic migrations are the same on SQLite and PostgreSQL.
NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC timestamps on every backend (SQLite stores them naive)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.close()


def _json_dumps(value: Any) -> str:
    return orjson.dumps(value).decode()


def create_engine(settings: DatabaseSettings) -> AsyncEngine:
    # orjson for JSON columns (restaurant hours are read on every detail and list).
    kwargs: dict[str, Any] = {
        "echo": settings.echo,
        "json_serializer": _json_dumps,
        "json_deserializer": orjson.loads,
    }
    if settings.is_sqlite:
        # One connection serialises SQLite writers inside the process (no "database is
        # locked" between our own requests); busy_timeout covers other processes.
        engine = create_async_engine(settings.url, pool_size=1, max_overflow=0, **kwargs)
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
        return engine
    return create_async_engine(
        settings.url,
        pool_size=settings.pool_size,
        max_overflow=settings.max_overflow,
        pool_pre_ping=False,
        pool_recycle=1800,
        **kwargs,
    )


class ReadConnection:
    """Read access for one block of reads, checked out from the pool on first use.

    ``execute`` runs SQLAlchemy statements on an autocommit connection (no BEGIN/COMMIT round
    trips). ``driver()`` hands a hot path on PostgreSQL the pooled asyncpg connection itself,
    without SQLAlchemy's ``Connection`` around it: that wrapper and its autocommit setting
    cost about 60 us of CPU per checkout (measured), a tenth of an uncached detail request.
    A block that uses both holds two pooled connections; the services use one or the other.
    Only for reads: nothing done through it is committed.
    """

    __slots__ = ("_connection", "_db", "_raw")

    def __init__(self, db: Database) -> None:
        self._db = db
        self._connection: AsyncConnection | None = None
        self._raw: PoolProxiedConnection | None = None

    @property
    def dialect(self) -> Dialect:
        return self._db.engine.dialect

    @property
    def has_driver(self) -> bool:
        """True when :meth:`driver` is available (PostgreSQL's asyncpg)."""
        return self._db.engine.dialect.name == "postgresql"

    @overload
    async def execute(
        self, statement: TypedReturnsRows[Unpack[_Ts]], parameters: Any = None
    ) -> CursorResult[Unpack[_Ts]]: ...

    @overload
    async def execute(
        self, statement: Executable, parameters: Any = None
    ) -> CursorResult[Unpack[TupleAny]]: ...

    async def execute(
        self, statement: Executable, parameters: Any = None
    ) -> CursorResult[Unpack[TupleAny]]:
        if self._connection is None:
            self._connection = await self._db._read_engine.connect()
        return await self._connection.execute(statement, parameters)

    async def driver(self) -> Any:
        """The pooled asyncpg connection (PostgreSQL only): statements autocommit."""
        if not self.has_driver:
            raise RuntimeError("driver() is for PostgreSQL's asyncpg connections only")
        if self._raw is None:
            self._raw = await self._db.engine.raw_connection()
        return self._raw.driver_connection

    async def close(self, error: BaseException | None = None) -> None:
        connection, raw = self._connection, self._raw
        self._connection = self._raw = None
        try:
            if connection is not None:
                await connection.close()
        finally:
            if raw is not None:
                # SQLAlchemy's own Connection would spot these; this path must do it itself.
                driver = raw.driver_connection
                lost = driver is None or driver.is_closed()
                # Cancelled (client gone, timeout) maybe mid-statement: not safe to reuse.
                interrupted = error is not None and not isinstance(error, Exception)
                # Checking in may close the connection (overflow, invalidate): that awaits.
                await greenlet_spawn(_give_back, raw, lost or interrupted)


def _give_back(raw: PoolProxiedConnection, discard: bool) -> None:
    if discard:
        raw.invalidate()  # closed and dropped: the pool opens a new one when it needs it
    raw.close()


# What repositories execute on: the request's session (writes) or a read connection.
Executor = AsyncSession | AsyncConnection | ReadConnection


_AFTER_COMMIT = "after_commit"


def after_commit(session: AsyncSession, hook: Callable[[], Awaitable[object]]) -> None:
    """Run ``hook`` after the unit of work that owns ``session`` commits (never if it rolls
    back). Code handed a session does not commit it: it says what must follow the commit."""
    session.info.setdefault(_AFTER_COMMIT, []).append(hook)


class Database:
    """The process's engine and session factory."""

    def __init__(self, settings: DatabaseSettings) -> None:
        self.settings = settings
        self.engine = create_engine(settings)
        self.sessionmaker = async_sessionmaker(self.engine, expire_on_commit=False, autoflush=False)
        # PostgreSQL reads in autocommit: one round trip per statement, no BEGIN/COMMIT.
        # (SQLite's driver never opens a transaction for a SELECT, so it needs no option.)
        self._read_engine = (
            self.engine
            if settings.is_sqlite
            else self.engine.execution_options(isolation_level="AUTOCOMMIT")
        )

    @asynccontextmanager
    async def reader(self) -> AsyncIterator[ReadConnection]:
        """Read-only access (no ORM session, no transaction round trips), connected lazily.

        Measured on one detail SELECT: about half the CPU of a session unit of work.
        """
        reads = ReadConnection(self)
        try:
            yield reads
        except BaseException as exc:
            await reads.close(exc)
            raise
        await reads.close()

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    @asynccontextmanager
    async def unit_of_work(self) -> AsyncIterator[AsyncSession]:
        """A session that commits when the block succeeds and rolls back when it raises.

        Work registered with :func:`after_commit` runs once the commit is done and the
        connection is back in the pool; a rollback drops it.
        """
        session = self.sessionmaker()
        try:
            yield session
            await session.commit()
        except BaseException:
            await session.rollback()
            raise
        finally:
            hooks = session.info.pop(_AFTER_COMMIT, ())
            await session.close()
        for hook in hooks:
            await hook()

    async def dispose(self) -> None:
        await self.engine.dispose()
