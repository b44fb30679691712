"""The generic repository every feature's repository extends. All SQL lives in repositories."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Generic, TypeVar

from sqlalchemy import Select, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from bistro.core.database import Base

ModelT = TypeVar("ModelT", bound=Base)


class Repository(Generic[ModelT]):
    """Typed CRUD over one model. Takes the request's session; flushes, never commits."""

    model: type[ModelT]

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def get(self, id_: int, *, for_update: bool = False) -> ModelT | None:
        """By primary key; ``for_update`` locks the row (and reads it afresh) until commit."""
        return await self.session.get(self.model, id_, with_for_update=for_update or None)

    async def add(self, obj: ModelT) -> ModelT:
        self.session.add(obj)
        await self.session.flush()
        return obj

    async def delete(self, obj: ModelT) -> None:
        await self.session.delete(obj)
        await self.session.flush()

    async def count(self, statement: Select[Any]) -> int:
        counted = select(func.count()).select_from(statement.order_by(None).subquery())
        return int((await self.session.execute(counted)).scalar_one())

    async def all(self, statement: Select[Any]) -> Sequence[ModelT]:
        return (await self.session.execute(statement)).scalars().all()
