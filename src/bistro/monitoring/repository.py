"""All monitoring SQL: metric buckets in, window reads out, pruning, alert state and history."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Text, cast, delete, insert, or_, select, union_all, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError

from bistro.core.repository import Repository
from bistro.monitoring.models import (
    AlertEvent,
    AlertState,
    CacheBucket,
    RequestBucket,
    RequestMinute,
)
from bistro.monitoring.recorder import CLIENT_SOURCES

# What a window read needs of a bucket or a minute row, in this order.
_COUNT_COLUMNS = (
    "version",
    "requests",
    "errors_4xx",
    "errors_5xx",
    "client_aborts",
    "latency_sum",
    "histogram",
)
_MINUTE_VALUES = (
    "requests",
    "errors_4xx",
    "errors_5xx",
    "client_aborts",
    "latency_sum",
    "bytes_out",
    "histogram",
)


class MetricsRepository(Repository[RequestBucket]):
    model = RequestBucket

    async def add_request_buckets(self, rows: Sequence[dict[str, Any]]) -> None:
        if rows:
            await self.session.execute(insert(RequestBucket), list(rows))

    async def add_cache_buckets(self, rows: Sequence[dict[str, Any]]) -> None:
        if rows:
            await self.session.execute(insert(CacheBucket), list(rows))

    async def upsert_minutes(self, rows: Sequence[dict[str, Any]]) -> None:
        """Write this instance's per-minute rollups: each row carries the minute's whole
        value so far (the pipeline keeps the running sum), so a conflict just replaces it."""
        if not rows:
            return
        dialect = self.session.get_bind().dialect.name
        module: Any = postgresql if dialect == "postgresql" else sqlite
        statement = module.insert(RequestMinute)
        statement = statement.on_conflict_do_update(
            index_elements=["source", "grp", "minute", "version", "instance"],
            set_={name: statement.excluded[name] for name in _MINUTE_VALUES},
        )
        await self.session.execute(statement, list(rows))

    async def request_rows(
        self, since: datetime, until: datetime, sources: Sequence[str] = CLIENT_SOURCES
    ) -> Sequence[Any]:
        """Every instance's buckets in ``[since, until)`` from ``sources`` (client traffic by
        default: never shadow or synthetic): one query, merged by the caller."""
        t = RequestBucket
        statement = select(
            t.bucket_start,
            t.source,
            t.version,
            t.grp,
            t.route,
            t.requests,
            t.errors_4xx,
            t.errors_5xx,
            t.client_aborts,
            t.latency_sum,
            t.bytes_out,
            t.histogram,
        ).where(
            t.bucket_start >= since,
            t.bucket_start < until,
            t.version != "none",
            t.source.in_(sources),
        )
        return (await self.session.execute(statement)).all()

    async def window_counts(
        self,
        minutes: tuple[datetime, datetime] | None,
        edges: Sequence[tuple[datetime, datetime]],
        source: str,
        group: str | None,
    ) -> Sequence[Any]:
        """One source's (and group's) v3 and v4 rows, every instance, in one round trip: the
        rollup rows of the whole minutes ``[first, end)`` and the raw buckets whose start is
        in one of the ``edges`` (each ``[from, to)``). Histograms come as their JSON text:
        ``[index, count, ...]`` from the rollups, ``{"index": count}`` from the buckets."""
        parts: list[Any] = []
        if minutes is not None:
            m = RequestMinute
            where: list[Any] = [m.source == source, m.minute >= minutes[0], m.minute < minutes[1]]
            if group is not None:
                where.append(m.grp == group)
            parts.append(_counts_select(m).where(*where))
        if edges:
            b = RequestBucket
            where = [b.source == source, b.version.in_(("v3", "v4"))]
            if group is not None:
                where.append(b.grp == group)
            in_range = [(b.bucket_start >= lo) & (b.bucket_start < hi) for lo, hi in edges]
            parts.append(_counts_select(b).where(*where, or_(*in_range)))
        if not parts:
            return []
        statement: Any = parts[0] if len(parts) == 1 else union_all(*parts)
        return (await self.session.execute(statement)).all()

    async def minute_counts(
        self, first: datetime, end: datetime, source: str, group: str | None
    ) -> Sequence[Any]:
        """Rollup rows of one source (and group) for the minutes in ``[first, end)``; their
        ``histogram`` is the stored JSON text ``[index, count, ...]``."""
        return await self.window_counts((first, end), [], source, group)

    async def bucket_counts(
        self, ranges: Sequence[tuple[datetime, datetime]], source: str, group: str | None
    ) -> Sequence[Any]:
        """Raw buckets of one source (and group) whose start is in any of ``ranges``
        (each ``[from, to)``), v3 and v4, every instance; histograms as JSON text."""
        return await self.window_counts(None, ranges, source, group)

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
        result = await self.session.execute(
            delete(RequestMinute).where(RequestMinute.minute < before)
        )
        removed += int(getattr(result, "rowcount", 0) or 0)
        return removed


def _counts_select(table: Any) -> Any:
    columns = [getattr(table, c) for c in _COUNT_COLUMNS if c != "histogram"]
    # The histogram as its JSON text, parsed by the caller (straight into an array for the
    # rollups' flat lists: no Python object per number).
    return select(*columns, cast(table.histogram, Text).label("histogram"))


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
