"""All SQL of the control plane: flags, overrides, audit log, the change counter."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from bistro.migration.models import FlagAudit, FlagOverride, FlagRow, FlagStateVersion

VERSION_ROW_ID = 1


class FlagRepository:
    """Reads and writes flag state inside the caller's session; flushes, never commits."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def flags(self, *, for_update: bool = False) -> Sequence[FlagRow]:
        statement = select(FlagRow).order_by(FlagRow.name)
        if for_update:
            statement = statement.with_for_update()
        return (await self.session.execute(statement)).scalars().all()

    async def flag(self, name: str, *, for_update: bool = False) -> FlagRow | None:
        statement = select(FlagRow).where(FlagRow.name == name)
        if for_update:
            statement = statement.with_for_update()
        return (await self.session.execute(statement)).scalar_one_or_none()

    async def save_flag(self, row: FlagRow) -> FlagRow:
        self.session.add(row)
        await self.session.flush()
        return row

    async def overrides(self, flag: str | None = None) -> Sequence[FlagOverride]:
        statement = select(FlagOverride).order_by(FlagOverride.flag, FlagOverride.subject)
        if flag is not None:
            statement = statement.where(FlagOverride.flag == flag)
        return (await self.session.execute(statement)).scalars().all()

    async def override(self, flag: str, subject: str) -> FlagOverride | None:
        return await self.session.get(FlagOverride, (flag, subject))

    async def save_override(self, row: FlagOverride) -> None:
        self.session.add(row)
        await self.session.flush()

    async def delete_override(self, row: FlagOverride) -> None:
        await self.session.delete(row)
        await self.session.flush()

    async def override_counts(self) -> dict[str, int]:
        statement = select(FlagOverride.flag, func.count()).group_by(FlagOverride.flag)
        return {name: int(n) for name, n in (await self.session.execute(statement)).all()}

    async def audit(
        self,
        flag: str,
        actor: str,
        action: str,
        old: dict[str, Any] | None,
        new: dict[str, Any] | None,
        reason: str,
        at: datetime,
    ) -> None:
        self.session.add(
            FlagAudit(
                flag=flag,
                actor=actor,
                action=action,
                old_value=old,
                new_value=new,
                reason=reason,
                at=at,
            )
        )
        await self.session.flush()

    async def history(self, flag: str | None, limit: int) -> Sequence[FlagAudit]:
        statement = select(FlagAudit).order_by(FlagAudit.at.desc(), FlagAudit.id.desc())
        if flag is not None:
            statement = statement.where(FlagAudit.flag == flag)
        return (await self.session.execute(statement.limit(limit))).scalars().all()

    async def bump_version(self, at: datetime) -> int:
        """Count one change; every instance's poller sees the new number and reloads."""
        result = await self.session.execute(
            update(FlagStateVersion)
            .where(FlagStateVersion.id == VERSION_ROW_ID)
            .values(version=FlagStateVersion.version + 1, changed_at=at)
            .returning(FlagStateVersion.version)
        )
        version = result.scalar_one_or_none()
        if version is None:  # the row is gone (emptied tables): start counting again
            await self.session.execute(
                insert(FlagStateVersion).values(id=VERSION_ROW_ID, version=1, changed_at=at)
            )
            version = 1
        return int(version)

    async def version(self) -> int:
        return await read_version(self.session)


async def read_version(conn: AsyncConnection | AsyncSession) -> int:
    """The change counter, 0 when the row is missing: the poller's one cheap query."""
    result = await conn.execute(
        select(FlagStateVersion.version).where(FlagStateVersion.id == VERSION_ROW_ID)
    )
    value = result.scalar_one_or_none()
    return int(value) if value is not None else 0
