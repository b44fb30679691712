"""All SQL of the rollout controller: rollouts (compare-and-set), decisions, the lease,
instance heartbeats, drills, and the two reads of other features' tables it needs (the flag
audit log for manual changes, the firing alerts)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import func, insert, select, update
from sqlalchemy.exc import IntegrityError

from bistro.core.repository import Repository
from bistro.migration.models import FlagAudit
from bistro.monitoring.models import AlertState
from bistro.rollout.machine import ACTIVE_STATES, Progress, State
from bistro.rollout.models import (
    ControllerLease,
    DrillRow,
    InstanceRow,
    RolloutDecision,
    RolloutRow,
)

PROGRESS_COLUMNS = (
    "state",
    "percentage",
    "step_index",
    "step_started_at",
    "consecutive_failures",
    "step_backs",
    "passing_windows",
    "counted_until",
    "inconclusive_since",
)


def progress_of(row: RolloutRow) -> Progress:
    return Progress(
        state=State(row.state),
        percentage=float(row.percentage),
        step_index=int(row.step_index),
        step_started_at=row.step_started_at,
        consecutive_failures=int(row.consecutive_failures),
        step_backs=int(row.step_backs),
        passing_windows=int(row.passing_windows),
        counted_until=row.counted_until,
        inconclusive_since=row.inconclusive_since,
    )


def progress_values(progress: Progress) -> dict[str, Any]:
    values = progress.to_dict()
    values["state"] = progress.state.value
    return {name: values[name] for name in PROGRESS_COLUMNS}


class RolloutStore(Repository[RolloutRow]):
    model = RolloutRow

    # -- rollouts -------------------------------------------------------------------------

    async def active(self, flag: str | None = None) -> Sequence[RolloutRow]:
        statement = select(RolloutRow).where(RolloutRow.state.in_([s.value for s in ACTIVE_STATES]))
        if flag is not None:
            statement = statement.where(RolloutRow.flag == flag)
        return await self.all(statement.order_by(RolloutRow.flag))

    async def latest(self, flag: str) -> RolloutRow | None:
        """The flag's most recent rollout, whatever its state."""
        statement = (
            select(RolloutRow)
            .where(RolloutRow.flag == flag)
            .order_by(RolloutRow.id.desc())
            .limit(1)
        )
        return (await self.session.execute(statement)).scalar_one_or_none()

    async def latest_per_flag(self) -> Sequence[RolloutRow]:
        newest = select(func.max(RolloutRow.id)).group_by(RolloutRow.flag)
        statement = select(RolloutRow).where(RolloutRow.id.in_(newest)).order_by(RolloutRow.flag)
        return await self.all(statement)

    async def create(self, row: RolloutRow) -> RolloutRow | None:
        """Insert a new rollout; None when the flag already has an active one (the partial
        unique index decides, so two starts at once cannot both win)."""
        try:
            async with self.session.begin_nested():
                self.session.add(row)
                await self.session.flush()
        except IntegrityError:
            return None
        return row

    async def transition(self, row_id: int, expected_version: int, values: dict[str, Any]) -> bool:
        """Compare-and-set: apply ``values`` and bump the version only if nobody else moved
        the rollout since it was read at ``expected_version``."""
        result = await self.session.execute(
            update(RolloutRow)
            .where(RolloutRow.id == row_id, RolloutRow.version == expected_version)
            .values(version=expected_version + 1, **values)
            .execution_options(synchronize_session=False)
        )
        return bool(getattr(result, "rowcount", 0))

    async def reload(self, row_id: int) -> RolloutRow | None:
        statement = select(RolloutRow).where(RolloutRow.id == row_id)
        result = await self.session.execute(statement.execution_options(populate_existing=True))
        return result.scalar_one_or_none()

    # -- decisions ------------------------------------------------------------------------

    async def add_decision(self, values: dict[str, Any]) -> int:
        result = await self.session.execute(
            insert(RolloutDecision).values(**values).returning(RolloutDecision.id)
        )
        return int(result.scalar_one())

    async def mark_applied(self, decision_id: int, at: datetime) -> None:
        await self.session.execute(
            update(RolloutDecision).where(RolloutDecision.id == decision_id).values(applied_at=at)
        )

    async def decisions(
        self, rollout_id: int | None = None, *, limit: int = 50, flag: str | None = None
    ) -> Sequence[RolloutDecision]:
        """Newest first."""
        statement = select(RolloutDecision).order_by(RolloutDecision.id.desc()).limit(limit)
        if rollout_id is not None:
            statement = statement.where(RolloutDecision.rollout_id == rollout_id)
        if flag is not None:
            statement = statement.where(RolloutDecision.flag == flag)
        return (await self.session.execute(statement)).scalars().all()

    async def all_decisions(self, rollout_id: int) -> Sequence[RolloutDecision]:
        """Oldest first: the whole log of one rollout, for its report."""
        statement = (
            select(RolloutDecision)
            .where(RolloutDecision.rollout_id == rollout_id)
            .order_by(RolloutDecision.id)
        )
        return (await self.session.execute(statement)).scalars().all()

    # -- what the controller reads of other features --------------------------------------

    async def flag_changes_after(self, flags: Sequence[str], after_id: int) -> Sequence[FlagAudit]:
        statement = (
            select(FlagAudit)
            .where(FlagAudit.flag.in_(list(flags)), FlagAudit.id > after_id)
            .order_by(FlagAudit.id)
        )
        return (await self.session.execute(statement)).scalars().all()

    async def last_audit_id(self) -> int:
        value = (await self.session.execute(select(func.max(FlagAudit.id)))).scalar_one_or_none()
        return int(value or 0)

    async def firing_alerts(self) -> Sequence[AlertState]:
        statement = select(AlertState).where(AlertState.state == "firing")
        return (await self.session.execute(statement)).scalars().all()

    # -- instances ------------------------------------------------------------------------

    async def heartbeat(
        self, instance: str, pins: dict[str, Any], fault_injection: bool, now: datetime
    ) -> None:
        row = await self.session.get(InstanceRow, instance)
        if row is None:
            self.session.add(
                InstanceRow(
                    instance=instance,
                    started_at=now,
                    seen_at=now,
                    pins=pins,
                    fault_injection=fault_injection,
                )
            )
        else:
            row.seen_at, row.pins, row.fault_injection = now, pins, fault_injection
        await self.session.flush()

    async def instances_seen_since(self, since: datetime) -> Sequence[InstanceRow]:
        statement = select(InstanceRow).where(InstanceRow.seen_at >= since)
        return (
            (await self.session.execute(statement.order_by(InstanceRow.instance))).scalars().all()
        )

    async def forget_instance(self, instance: str) -> None:
        row = await self.session.get(InstanceRow, instance)
        if row is not None:
            await self.session.delete(row)
            await self.session.flush()

    # -- drills ---------------------------------------------------------------------------

    async def add_drill(self, row: DrillRow) -> DrillRow:
        self.session.add(row)
        await self.session.flush()
        return row

    async def drills_active(self, now: datetime) -> Sequence[DrillRow]:
        statement = select(DrillRow).where(DrillRow.starts_at <= now, DrillRow.ends_at > now)
        return (await self.session.execute(statement.order_by(DrillRow.id))).scalars().all()

    async def end_drill(self, drill_id: int, now: datetime) -> None:
        await self.session.execute(
            update(DrillRow).where(DrillRow.id == drill_id).values(ends_at=now)
        )


class LeaseStore:
    """The controller lease: one row per lease name, taken with a conditional UPDATE."""

    def __init__(self, session: Any) -> None:
        self.session = session

    async def acquire(self, name: str, holder: str, now: datetime, until: datetime) -> bool:
        """Take or renew the lease; True when ``holder`` has it until ``until``."""
        free = (
            (ControllerLease.holder == holder)
            | ControllerLease.holder.is_(None)
            | (ControllerLease.expires_at <= now)
        )
        result = await self.session.execute(
            update(ControllerLease)
            .where(ControllerLease.name == name, free)
            .values(
                holder=holder,
                expires_at=until,
                version=ControllerLease.version + 1,
            )
            .execution_options(synchronize_session=False)
        )
        if getattr(result, "rowcount", 0):
            return True
        if await self.session.get(ControllerLease, name) is not None:
            return False
        try:
            async with self.session.begin_nested():
                await self.session.execute(
                    insert(ControllerLease).values(
                        name=name, holder=holder, expires_at=until, acquired_at=now, version=1
                    )
                )
        except IntegrityError:  # another instance created it first: theirs
            return False
        return True

    async def mark_acquired(self, name: str, holder: str, now: datetime) -> None:
        await self.session.execute(
            update(ControllerLease)
            .where(ControllerLease.name == name, ControllerLease.holder == holder)
            .values(acquired_at=now)
        )

    async def release(self, name: str, holder: str, now: datetime) -> bool:
        result = await self.session.execute(
            update(ControllerLease)
            .where(ControllerLease.name == name, ControllerLease.holder == holder)
            .values(holder=None, expires_at=now)
        )
        return bool(getattr(result, "rowcount", 0))

    async def current(self, name: str) -> ControllerLease | None:
        statement = select(ControllerLease).where(ControllerLease.name == name)
        result = await self.session.execute(statement.execution_options(populate_existing=True))
        return result.scalar_one_or_none()
