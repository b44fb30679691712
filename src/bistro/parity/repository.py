"""All parity SQL: shadow buckets in, window reads out, capped examples, learned noise."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import delete, func, insert, select

from bistro.core.repository import Repository
from bistro.parity.models import COUNTERS, ParityBucket, ParityExample, ParityNoise


class ParityRepository(Repository[ParityBucket]):
    model = ParityBucket

    async def add_buckets(self, rows: Sequence[dict[str, Any]]) -> None:
        if rows:
            await self.session.execute(insert(ParityBucket), list(rows))

    async def totals(
        self, since: datetime, until: datetime, group: str | None = None
    ) -> dict[str, dict[str, int]]:
        """Counters per endpoint group over ``[since, until)``, every instance summed."""
        t = ParityBucket
        columns = [func.coalesce(func.sum(getattr(t, name)), 0) for name in COUNTERS]
        statement = (
            select(t.grp, *columns)
            .where(t.bucket_start >= since, t.bucket_start < until)
            .group_by(t.grp)
        )
        if group is not None:
            statement = statement.where(t.grp == group)
        rows = (await self.session.execute(statement)).all()
        return {
            row[0]: {name: int(value) for name, value in zip(COUNTERS, row[1:], strict=True)}
            for row in rows
        }

    async def add_examples(self, rows: Sequence[dict[str, Any]], keep: int) -> None:
        """Insert, then keep only the newest ``keep`` examples (the table stays capped)."""
        if not rows:
            return
        await self.session.execute(insert(ParityExample), list(rows))
        newest = select(ParityExample.id).order_by(ParityExample.id.desc()).limit(keep).subquery()
        await self.session.execute(
            delete(ParityExample).where(ParityExample.id.not_in(select(newest.c.id)))
        )

    async def examples(self, limit: int, group: str | None = None) -> Sequence[ParityExample]:
        statement = select(ParityExample).order_by(ParityExample.id.desc()).limit(limit)
        if group is not None:
            statement = statement.where(ParityExample.grp == group)
        return (await self.session.execute(statement)).scalars().all()

    async def prune(self, before: datetime) -> None:
        await self.session.execute(delete(ParityBucket).where(ParityBucket.bucket_start < before))

    async def noise(self) -> dict[str, list[str]]:
        rows = (await self.session.execute(select(ParityNoise.endpoint, ParityNoise.path))).all()
        out: dict[str, list[str]] = {}
        for endpoint, path in rows:
            out.setdefault(endpoint, []).append(path)
        return out

    async def replace_noise(self, learned: Mapping[str, Iterable[str]], at: datetime) -> int:
        """The last replay's noise replaces the previous one's whole (never permanent)."""
        await self.session.execute(delete(ParityNoise))
        rows = [
            {"endpoint": endpoint[:120], "path": path[:300], "learned_at": at}
            for endpoint, paths in learned.items()
            for path in sorted(set(paths))
        ]
        if rows:
            await self.session.execute(insert(ParityNoise), rows)
        return len(rows)
