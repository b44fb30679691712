"""The rollout controller: evaluates running rollouts and applies their decisions.

One evaluation of one rollout is one transaction: read the rollout, look for operator changes
and pins, read the canary/baseline window, analyse, decide, then write the flag change, the
rollout's new state (compare-and-set on its version) and the decision together. Whatever
fails, nothing is half applied; a concurrent writer makes the compare-and-set fail and the
whole transaction roll back, so no step is ever applied twice.

Operator actions (:meth:`RolloutController.operate`) go through the same path.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from bistro.core.clock import Clock
from bistro.core.database import Database
from bistro.migration.flags import GROUP_FLAGS, Flag, Stage
from bistro.migration.runtime import FlagRuntime
from bistro.migration.service import FlagService
from bistro.migration.store.repository import FlagRepository
from bistro.rollout import machine
from bistro.rollout.analysis import Analysis, ParitySample, Sample, Thresholds, Verdict, analyse
from bistro.rollout.config import RolloutConfig
from bistro.rollout.machine import Action, Decision, Progress, State
from bistro.rollout.models import RolloutRow
from bistro.rollout.store import RolloutStore, progress_of, progress_values
from bistro.rollout.window import Window, read_window

log = structlog.get_logger("bistro.rollout")

CONTROLLER_ACTOR = "rollout-controller"
# The flag audit action of every change the rollout makes; any other change of a driven flag
# (stage or percentage) is an operator's and pauses the rollout.
ROLLOUT_ACTION = "rollout"
NOT_MANUAL = {ROLLOUT_ACTION, "override", "override_removed"}
# At or above this share v3 has little traffic left: judge v4 against the last good v3 window.
FALLBACK_FROM_PERCENTAGE = 90.0

GROUP_OF_FLAG = {flag: group for group, flag in GROUP_FLAGS.items()}

ParityReader = Callable[[AsyncSession, datetime, datetime, str], Awaitable[tuple[int, int]]]
Notify = Callable[[dict[str, Any]], None]


class RolloutConflict(Exception):
    """Someone else moved the rollout between read and write; nothing was applied."""


@dataclass
class Applied:
    """What one evaluation or operator action did (for notifications, metrics, callers)."""

    rollout_id: int
    flag: str
    decision: Decision
    before: Progress
    analysis: Analysis | None
    flag_changed: bool
    decision_id: int | None
    numbers: dict[str, Any] = field(default_factory=dict)


def thresholds_of(config: RolloutConfig) -> Thresholds:
    return Thresholds(
        auto_rollback_threshold=config.auto_rollback_threshold,
        performance_degradation_threshold=config.performance_degradation_threshold,
        min_requests=config.min_requests,
        significance=config.significance,
        max_parity_mismatch_rate=config.max_parity_mismatch_rate,
    )


def config_of(row: RolloutRow) -> RolloutConfig:
    return RolloutConfig(**row.config)


def window_bounds(
    config: RolloutConfig, progress: Progress, now: datetime
) -> tuple[datetime, datetime]:
    """The last ``monitoring_period``, clipped to the start of the current step."""
    since = max(now - timedelta(seconds=config.monitoring_period), progress.step_started_at)
    return since, now


class RolloutController:
    def __init__(
        self,
        db: Database,
        clock: Clock,
        runtime: FlagRuntime | None = None,
        *,
        notify: Notify | None = None,
        parity: ParityReader | None = None,
        on_change: Callable[[list[Applied]], Awaitable[None]] | None = None,
    ) -> None:
        self.db = db
        self.clock = clock
        self.runtime = runtime
        self.notify = notify
        self.parity = parity
        self.on_change = on_change

    # -- evaluation -----------------------------------------------------------------------

    async def evaluate_due(self) -> list[Applied]:
        """Evaluate every running rollout whose next evaluation is due."""
        now = self.clock.now()
        async with self.db.sessionmaker() as session:
            rows = await RolloutStore(session).active()
            due = [
                r.id
                for r in rows
                if r.state == State.RUNNING.value
                and (r.next_evaluation_at is None or r.next_evaluation_at <= now)
            ]
        applied: list[Applied] = []
        for rollout_id in due:
            try:
                result = await self.evaluate(rollout_id)
            except RolloutConflict:
                log.info("rollout_evaluation_conflict", rollout=rollout_id)
                continue
            if result is not None:
                applied.append(result)
        await self._after(applied)
        return applied

    async def evaluate(self, rollout_id: int) -> Applied | None:
        now = self.clock.now()
        async with self.db.unit_of_work() as session:
            store = RolloutStore(session)
            row = await store.reload(rollout_id)
            if row is None or row.state != State.RUNNING.value:
                return None
            config = config_of(row)
            progress = progress_of(row)
            manual, seen = await self._manual_change(store, row, progress)
            if manual is not None:
                return await self._apply(
                    session, row, manual, now, CONTROLLER_ACTOR, audit_seen=seen
                )
            pinned = await self._pinned(store, row.flag, now)
            if pinned:
                decision = Decision(
                    Action.PAUSE,
                    Progress(**{**progress.to_dict(), "state": State.PAUSED}),
                    f"an environment pin overrides the flag on {pinned}: paused "
                    "(the controller must not believe it moves traffic it does not)",
                    notify=True,
                )
                return await self._apply(session, row, decision, now, CONTROLLER_ACTOR)
            since, until = window_bounds(config, progress, now)
            window = await read_window(session, since, until, row.grp)
            fallback = None
            if progress.percentage >= FALLBACK_FROM_PERCENTAGE and row.baseline:
                fallback = Sample.from_dict(row.baseline)
            parity = None
            if config.max_parity_mismatch_rate is not None and self.parity is not None:
                compared, mismatched = await self.parity(session, since, until, row.grp)
                parity = ParitySample(compared=compared, mismatched=mismatched)
            analysis = analyse(
                window.canary,
                window.baseline,
                thresholds_of(config),
                fallback_baseline=fallback,
                parity=parity,
            )
            alerts = await store.firing_alerts()
            database_alert = any(a.rule == "database_connection" for a in alerts)
            decision = machine.evaluate(
                config,
                progress,
                analysis.verdict,
                now,
                window_start=since,
                database_alert=database_alert,
                summary="; ".join(analysis.reasons),
            )
            numbers = _numbers(analysis, window, since, until, alerts, now)
            extra: dict[str, Any] = {"last_analysis": numbers}
            if window.baseline.requests >= config.min_requests:
                extra["baseline"] = window.baseline.to_dict()
            return await self._apply(
                session,
                row,
                decision,
                now,
                CONTROLLER_ACTOR,
                analysis=analysis,
                numbers=numbers,
                window=(since, until),
                extra=extra,
                log_hold=_hold_worth_logging(row, analysis),
            )

    async def _manual_change(
        self, store: RolloutStore, row: RolloutRow, progress: Progress
    ) -> tuple[Decision | None, int]:
        """An operator's change of the driven flag (or the master switch) since the last
        look, as the decision it forces, and the audit id looked at up to."""
        watched = [row.flag, Flag.ENABLED.value]
        changes = await store.flag_changes_after(watched, row.audit_seen)
        manual = [c for c in changes if c.action not in NOT_MANUAL]
        if not manual:
            return None, row.audit_seen
        last = manual[-1]
        own = [c for c in manual if c.flag == row.flag]
        if own:
            value = own[-1].new_value or {}
            decision = machine.operator_changed(
                progress,
                str(value.get("stage", "disabled")),
                float(value.get("percentage", 0.0)),
                own[-1].actor,
            )
        else:
            value = last.new_value or {}
            decision = machine.pause(
                progress,
                f"{last.actor} changed {last.flag} to {value.get('stage', '?')} by hand: "
                "paused (manual actions win)",
            )
            decision = Decision(Action.OPERATOR_CHANGE, decision.progress, decision.reason, True)
        return decision, max(c.id for c in changes)

    async def _pinned(self, store: RolloutStore, flag: str, now: datetime) -> str | None:
        """The first live instance whose environment pins this flag or the master switch."""
        return await pinned_instance(store, flag, now)

    # -- operator actions -----------------------------------------------------------------

    async def operate(
        self,
        flag: str,
        verb: str,
        actor: str,
        *,
        reason: str = "",
        percentage: float | None = None,
    ) -> Applied:
        """pause | resume | promote | stop | force, on the flag's active rollout."""
        now = self.clock.now()
        async with self.db.unit_of_work() as session:
            store = RolloutStore(session)
            rows = await store.active(flag)
            if not rows:
                raise machine.InvalidTransition(f"{flag} has no active rollout")
            row = rows[0]
            config, progress = config_of(row), progress_of(row)
            if verb == "pause":
                decision = machine.pause(progress, reason or f"paused by {actor}")
            elif verb == "resume":
                pinned = await pinned_instance(store, flag, now)
                if pinned:
                    raise machine.InvalidTransition(
                        f"cannot resume: an environment pin overrides {flag} on {pinned}"
                    )
                decision = machine.resume(config, progress, now, reason or f"resumed by {actor}")
            elif verb == "promote":
                decision = machine.promote(config, progress, now)
            elif verb == "stop":
                decision = machine.stop(progress, reason or f"stopped by {actor}")
            elif verb == "force":
                if percentage is None:
                    raise machine.InvalidTransition("force needs a percentage")
                decision = machine.force(config, progress, percentage, now)
            else:
                raise machine.InvalidTransition(f"unknown action {verb!r}")
            # The operator has seen the flag as it is: earlier manual changes are absorbed.
            seen = await store.last_audit_id()
            applied = await self._apply(session, row, decision, now, actor, audit_seen=seen)
        await self._after([applied])
        return applied

    async def start(self, row: RolloutRow, decision: Decision, actor: str) -> Applied:
        """Persist a new rollout (built by :mod:`bistro.rollout.service`) and set its flag."""
        now = self.clock.now()
        async with self.db.unit_of_work() as session:
            store = RolloutStore(session)
            row.audit_seen = await store.last_audit_id()
            created = await store.create(row)
            if created is None:
                raise machine.InvalidTransition(f"{row.flag} already has an active rollout")
            before = Progress(State.STOPPED, 0.0, -1, now)
            applied = await self._apply(session, created, decision, now, actor, before=before)
        await self._after([applied])
        return applied

    # -- applying -------------------------------------------------------------------------

    async def _apply(
        self,
        session: AsyncSession,
        row: RolloutRow,
        decision: Decision,
        now: datetime,
        actor: str,
        *,
        analysis: Analysis | None = None,
        numbers: dict[str, Any] | None = None,
        window: tuple[datetime, datetime] | None = None,
        extra: dict[str, Any] | None = None,
        log_hold: bool = True,
        before: Progress | None = None,
        audit_seen: int | None = None,
    ) -> Applied:
        store = RolloutStore(session)
        config = config_of(row)
        before = before or progress_of(row)
        after = decision.progress
        seen = row.audit_seen if audit_seen is None else audit_seen
        flag_changed = False
        target = machine.flag_target(after)
        if target is not None and not config.dry_run:
            flag_changed = await self._set_flag(session, row.flag, target, actor, decision.reason)
            seen = await _advance_audit(store, row.flag, seen)
        values = progress_values(after)
        values.update(extra or {})
        values.update(
            next_evaluation_at=now + timedelta(seconds=config.evaluation_interval),
            last_action=decision.action.value,
            last_reason=decision.reason,
            audit_seen=seen,
            updated_at=now,
        )
        if after.state not in machine.ACTIVE_STATES:
            values["ended_at"] = now
        expected = row.version
        if not await store.transition(row.id, expected, values):
            raise RolloutConflict(f"rollout {row.id} moved since version {expected}")
        decision_id = None
        numbers = dict(numbers or {})
        if decision.action is Action.EMERGENCY_ROLLBACK or decision.action is Action.STEP_BACK:
            numbers.update(_time_to_act(numbers, now))
        if decision.action is not Action.HOLD or log_hold:
            decision_id = await store.add_decision(
                {
                    "rollout_id": row.id,
                    "flag": row.flag,
                    "at": now,
                    "actor": actor[:120],
                    "action": decision.action.value,
                    "verdict": analysis.verdict.value if analysis else None,
                    "from_state": before.state.value,
                    "to_state": after.state.value,
                    "from_percentage": before.percentage,
                    "to_percentage": after.percentage,
                    "version": expected + 1,
                    "reason": decision.reason,
                    "window_from": window[0] if window else None,
                    "window_to": window[1] if window else None,
                    "flag_changed": flag_changed,
                    "dry_run": config.dry_run,
                    "numbers": _jsonable(numbers),
                }
            )
        return Applied(
            row.id, row.flag, decision, before, analysis, flag_changed, decision_id, numbers
        )

    async def _set_flag(
        self, session: AsyncSession, flag: str, target: tuple[str, float], actor: str, why: str
    ) -> bool:
        stage, percentage = target
        service = FlagService(FlagRepository(session), self.clock)
        changes = await service.set_flags(
            [Flag(flag)],
            stage=Stage(stage),
            percentage=percentage if stage == Stage.PARTIAL.value else None,
            actor=actor,
            reason=f"rollout: {why}"[:500],
            action=ROLLOUT_ACTION,
        )
        return bool(changes)

    async def _after(self, applied: list[Applied]) -> None:
        """After commit: stamp applied flag changes, reload flags, notify, callbacks."""
        if not applied:
            return
        changed = [a for a in applied if a.flag_changed and a.decision_id is not None]
        if changed:
            now = self.clock.now()
            async with self.db.unit_of_work() as session:
                store = RolloutStore(session)
                for a in changed:
                    assert a.decision_id is not None
                    await store.mark_applied(a.decision_id, now)
                    if "first_failure_at" in a.numbers:
                        first = datetime.fromisoformat(a.numbers["first_failure_at"])
                        a.numbers["time_to_rollback_seconds"] = round(
                            (now - first).total_seconds(), 3
                        )
        if self.runtime is not None and any(a.flag_changed for a in applied):
            try:
                await self.runtime.refresh()
            except Exception as exc:  # the poller catches up within its interval
                log.warning("rollout_flag_refresh_failed", error=type(exc).__name__)
        for a in applied:
            if a.decision.notify:
                self._notify(a)
        if self.on_change is not None:
            await self.on_change(applied)

    def _notify(self, applied: Applied) -> None:
        d = applied.decision
        log.warning(
            "rollout_decision",
            flag=applied.flag,
            action=d.action.value,
            percentage=d.progress.percentage,
            state=d.progress.state.value,
            reason=d.reason,
        )
        if self.notify is None:
            return
        icon = {
            Action.EMERGENCY_ROLLBACK: ":rotating_light:",
            Action.STEP_BACK: ":warning:",
            Action.PAUSE: ":pause_button:",
            Action.OPERATOR_CHANGE: ":raised_hand:",
            Action.COMPLETE: ":white_check_mark:",
        }.get(d.action, ":arrow_right:")
        self.notify(
            {
                "text": f"{icon} [ROLLOUT {d.action.value.upper()}] {applied.flag}: "
                f"{applied.before.percentage:g} % -> {d.progress.percentage:g} % "
                f"({d.progress.state.value}): {d.reason}",
                "rollout": {
                    "id": applied.rollout_id,
                    "flag": applied.flag,
                    "action": d.action.value,
                    "state": d.progress.state.value,
                    "from_percentage": applied.before.percentage,
                    "to_percentage": d.progress.percentage,
                    "reason": d.reason,
                    "verdict": applied.analysis.verdict.value if applied.analysis else None,
                },
            }
        )


async def pinned_instance(store: RolloutStore, flag: str, now: datetime) -> str | None:
    """A live instance (seen in the last minute) that pins ``flag`` or the master switch."""
    for instance in await store.instances_seen_since(now - timedelta(seconds=60)):
        pins = instance.pins or {}
        for name in (flag, Flag.ENABLED.value):
            if pins.get(name):
                return f"{instance.instance} ({', '.join(pins[name])})"
    return None


async def _advance_audit(store: RolloutStore, flag: str, seen: int) -> int:
    """Move past the rollout's own audit rows, stopping at the first manual one."""
    for change in await store.flag_changes_after([flag, Flag.ENABLED.value], seen):
        if change.action not in NOT_MANUAL:
            break
        seen = change.id
    return seen


def _hold_worth_logging(row: RolloutRow, analysis: Analysis) -> bool:
    """Holds are logged when the verdict changes: a rollout evaluated every minute for days
    would otherwise log thousands of identical holds (the latest is always in status)."""
    last = (row.last_analysis or {}).get("verdict")
    return last != analysis.verdict.value or row.last_action != Action.HOLD.value


def _numbers(
    analysis: Analysis,
    window: Window,
    since: datetime,
    until: datetime,
    alerts: Sequence[Any],
    now: datetime,
) -> dict[str, Any]:
    out = analysis.to_dict()
    out["window"] = {"from": since.isoformat(), "to": until.isoformat()}
    out["client_aborts"] = {"v3": window.baseline_aborts, "v4": window.canary_aborts}
    if window.first_failure_at is not None:
        out["first_failure_at"] = window.first_failure_at.isoformat()
    out["alerts"] = [
        {"rule": a.rule, "subject": a.subject, "value": a.value, "message": a.message}
        for a in alerts
    ]
    out["evaluated_at"] = now.isoformat()
    return out


def _time_to_act(numbers: dict[str, Any], now: datetime) -> dict[str, Any]:
    first = numbers.get("first_failure_at")
    if not first:
        return {}
    detect = (now - datetime.fromisoformat(first)).total_seconds()
    return {"time_to_detect_seconds": round(max(detect, 0.0), 3)}


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, float) and value != value:  # NaN has no JSON spelling
        return None
    return value


__all__ = [
    "CONTROLLER_ACTOR",
    "Applied",
    "RolloutConflict",
    "RolloutController",
    "Verdict",
]
