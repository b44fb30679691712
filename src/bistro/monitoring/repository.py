"""All monitoring SQL: metric buckets in, window reads out, pruning, alert state and history."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import delete, insert, select, update
from sqlalchemy.exc import IntegrityError

from bistro.core.repository import Repository
from bistro.monitoring.models import AlertEvent, AlertState, CacheBucket, RequestBucket


class MetricsRepository(Repository[RequestBucket]):
    model = RequestBucket

    async def add_request_buckets(self, rows: Sequence[dict[str, Any]]) -> None:
        if rows:
            await self.session.execute(insert(RequestBucket), list(rows))

    async def add_cache_buckets(self, rows: Sequence[dict[str, Any]]) -> None:
        if rows:
            await self.session.execute(insert(CacheBucket), list(rows))

    async def request_rows(self, since: datetime, until: datetime) -> Sequence[Any]:
        """Every instance's buckets in ``[since, until)``: one query, merged by the caller."""
        t = RequestBucket
        statement = select(
            t.bucket_start,
            t.version,
            t.grp,
            t.route,
            t.requests,
            t.errors_4xx,
            t.errors_5xx,
            t.latency_sum,
            t.bytes_out,
            t.histogram,
        ).where(t.bucket_start >= since, t.bucket_start < until, t.version != "none")
        return (await self.session.execute(statement)).all()

    async def cache_rows(self, since: datetime, until: datetime) -> Sequence[Any]:
        t = CacheBucket
        statement = select(t.bucket_start, t.level, t.hits, t.misses).where(
            t.bucket_start >= since, t.bucket_start < until
        )
        return (await self.session.execute(statement)).all()

    async def prune(self, before: datetime) -> int:
        removed = 0
        for table in (RequestBucket, CacheBucket):
            result = await self.session.execute(delete(table).where(table.bucket_start < before))
            removed += int(getattr(result, "rowcount", 0) or 0)
        return removed


class AlertRepository(Repository[AlertState]):
    model = AlertState

    async def states(self) -> Sequence[AlertState]:
        return (await self.session.execute(select(AlertState))).scalars().all()

    async def firing(self) -> Sequence[AlertState]:
        statement = (
            select(AlertState).where(AlertState.state == "firing").order_by(AlertState.since)
        )
        return (await self.session.execute(statement)).scalars().all()

    async def transition(self, values: dict[str, Any], to_state: str) -> bool:
        """Move one alert to ``to_state``; False when it already was there (another instance
        won the race, or nothing changed): the conditional UPDATE is what de-duplicates."""
        key = values["key"]
        existing = await self.session.get(AlertState, key)
        if existing is None:
            if to_state != "firing":
                return False
            try:
                async with self.session.begin_nested():
                    await self.session.execute(
                        insert(AlertState).values(
                            state=to_state,
                            since=values["at"],
                            updated_at=values["at"],
                            **_state_fields(values),
                        )
                    )
            except IntegrityError:  # another instance inserted the same key first: it fires
                return False
        else:
            result = await self.session.execute(
                update(AlertState)
                .where(AlertState.key == key, AlertState.state != to_state)
                .values(
                    state=to_state,
                    since=values["at"],
                    updated_at=values["at"],
                    **_state_fields(values),
                )
                .execution_options(synchronize_session=False)
            )
            if not getattr(result, "rowcount", 0):
                return False
        await self.record(values | {"state": to_state})
        return True

    async def record(self, event: dict[str, Any]) -> None:
        fields = ("key", "rule", "subject", "state", "value", "threshold", "message", "at")
        await self.session.execute(insert(AlertEvent).values(**{k: event[k] for k in fields}))

    async def touch(self, key: str, value: float, at: datetime) -> None:
        """Keep the measured value of a still-firing alert current (no event, no notification)."""
        await self.session.execute(
            update(AlertState).where(AlertState.key == key).values(value=value, updated_at=at)
        )

    async def history(self, limit: int = 50) -> Sequence[AlertEvent]:
        statement = select(AlertEvent).order_by(AlertEvent.at.desc(), AlertEvent.id.desc())
        return (await self.session.execute(statement.limit(limit))).scalars().all()


def _state_fields(values: dict[str, Any]) -> dict[str, Any]:
    return {k: values[k] for k in ("key", "rule", "subject", "value", "threshold", "message")}
