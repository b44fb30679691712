"""The rollout state machine: pure functions from (progress, verdict, time) to a decision.

Nothing here reads a clock, a database or a flag: the controller passes them in, persists the
returned :class:`Progress` with a compare-and-set and applies :func:`flag_target`. That keeps
every rule testable in microseconds (and under mutation testing).

States: ``running <-> paused``, ending in ``completed``, ``rolled_back`` or ``stopped``.

- ``pass`` and the step's ``increment_interval`` elapsed -> the next step of the plan;
- ``inconclusive`` -> hold; no conclusive verdict for ``progress_deadline`` -> pause;
- ``fail_minor`` ``failure_threshold`` times in a row -> one step back (the lower step is then
  held for a whole ``increment_interval``); with ``max_step_backs`` used -> pause;
- ``fail_critical`` -> emergency rollback (the flag to ``disabled`` at once);
- at ``max_percentage``, ``completion_windows`` passing windows that do not overlap ->
  ``completed`` (the flag to ``full``; ``complete`` stays an operator decision);
- a database alert (it hits v3 as much as v4) pauses and never rolls back;
- every operator action wins over the controller.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from bistro.rollout.analysis import Verdict
from bistro.rollout.config import RolloutConfig


class State(StrEnum):
    RUNNING = "running"
    PAUSED = "paused"
    COMPLETED = "completed"
    ROLLED_BACK = "rolled_back"
    STOPPED = "stopped"


ACTIVE_STATES = (State.RUNNING, State.PAUSED)


class Action(StrEnum):
    START = "start"
    HOLD = "hold"
    INCREMENT = "increment"
    STEP_BACK = "step_back"
    PAUSE = "pause"
    RESUME = "resume"
    EMERGENCY_ROLLBACK = "emergency_rollback"
    COMPLETE = "complete"
    PROMOTE = "promote"
    FORCE = "force"
    STOP = "stop"
    OPERATOR_CHANGE = "operator_change"


class InvalidTransition(ValueError):
    """An operator asked for something the rollout's state does not allow; says why."""


@dataclass(frozen=True, slots=True)
class Progress:
    """The persisted, changing part of one rollout."""

    state: State
    percentage: float
    step_index: int  # index into config.plan(); -1 means below the first step (0 %)
    step_started_at: datetime
    consecutive_failures: int = 0
    step_backs: int = 0
    passing_windows: int = 0
    # End of the last passing window counted towards completion: the next one must start
    # after it, so two counted windows never share a request.
    counted_until: datetime | None = None
    inconclusive_since: datetime | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "state": self.state.value,
            "percentage": self.percentage,
            "step_index": self.step_index,
            "step_started_at": self.step_started_at,
            "consecutive_failures": self.consecutive_failures,
            "step_backs": self.step_backs,
            "passing_windows": self.passing_windows,
            "counted_until": self.counted_until,
            "inconclusive_since": self.inconclusive_since,
        }


@dataclass(frozen=True, slots=True)
class Decision:
    action: Action
    progress: Progress
    reason: str
    notify: bool = False


def start(config: RolloutConfig, now: datetime) -> Decision:
    first = config.plan()[0]
    progress = Progress(State.RUNNING, first, 0, now)
    return Decision(Action.START, progress, f"rollout started at {first:g} %", notify=True)


def flag_target(progress: Progress) -> tuple[str, float] | None:
    """(stage, percentage) the driven flag must have; None when the rollout leaves it alone."""
    if progress.state is State.COMPLETED:
        # Completed below 100 % (max_percentage < 100) keeps the flag at that share.
        return ("full", 100.0) if progress.percentage >= 100 else ("partial", progress.percentage)
    if progress.state is State.ROLLED_BACK:
        return "disabled", 0.0
    if progress.state is State.STOPPED:
        return None
    return "partial", progress.percentage


def _next_step(
    config: RolloutConfig, progress: Progress, now: datetime, action: Action
) -> Decision:
    plan = config.plan()
    index = progress.step_index + 1
    fresh = replace(
        progress,
        state=State.RUNNING,
        consecutive_failures=0,
        passing_windows=0,
        counted_until=None,
        inconclusive_since=None,
        step_started_at=now,
    )
    if index >= len(plan):
        done = replace(fresh, state=State.COMPLETED)
        return Decision(
            Action.COMPLETE, done, "promoted past the last step: completed", notify=True
        )
    moved = replace(fresh, step_index=index, percentage=plan[index])
    return Decision(action, moved, f"{progress.percentage:g} % -> {plan[index]:g} %", notify=True)


def _step_back(config: RolloutConfig, progress: Progress, now: datetime, why: str) -> Decision:
    plan = config.plan()
    index = progress.step_index - 1
    lower = plan[index] if index >= 0 else 0.0
    moved = replace(
        progress,
        step_index=index,
        percentage=lower,
        step_started_at=now,
        consecutive_failures=0,
        step_backs=progress.step_backs + 1,
        passing_windows=0,
        counted_until=None,
        inconclusive_since=None,
    )
    if index < 0:
        paused = replace(moved, state=State.PAUSED)
        return Decision(
            Action.STEP_BACK,
            paused,
            f"{why}; stepped back from the first step to 0 % and paused for an operator",
            notify=True,
        )
    return Decision(
        Action.STEP_BACK,
        moved,
        f"{why}; stepped back {progress.percentage:g} % -> {lower:g} % "
        f"(held for {config.increment_interval:g} s)",
        notify=True,
    )


def _pause(progress: Progress, why: str) -> Decision:
    paused = replace(progress, state=State.PAUSED, consecutive_failures=0)
    return Decision(Action.PAUSE, paused, why, notify=True)


def evaluate(
    config: RolloutConfig,
    progress: Progress,
    verdict: Verdict,
    now: datetime,
    *,
    window_start: datetime,
    database_alert: bool = False,
    summary: str = "",
) -> Decision:
    """One evaluation of a running rollout. ``summary`` is the analysis' one-line why."""
    if progress.state is not State.RUNNING:
        raise InvalidTransition(f"the rollout is {progress.state.value}, not running")
    because = f" ({summary})" if summary else ""
    if database_alert:
        return _pause(progress, "database alert firing: paused (it hits v3 too; no rollback)")
    if verdict is Verdict.FAIL_CRITICAL:
        if not config.enable_auto_rollback:
            return _pause(progress, f"critical failure, auto rollback off: paused{because}")
        rolled = replace(progress, state=State.ROLLED_BACK, percentage=0.0, consecutive_failures=0)
        return Decision(
            Action.EMERGENCY_ROLLBACK,
            rolled,
            f"critical failure: emergency rollback to 0 %{because}",
            notify=True,
        )
    if verdict is Verdict.FAIL_MINOR:
        failures = progress.consecutive_failures + 1
        failing = replace(
            progress,
            consecutive_failures=failures,
            passing_windows=0,
            counted_until=None,
            inconclusive_since=None,
        )
        count = f"minor failure {failures} of {config.failure_threshold}"
        if failures < config.failure_threshold:
            return Decision(Action.HOLD, failing, f"{count}: holding{because}")
        if not config.enable_auto_rollback:
            return _pause(failing, f"{count}, auto rollback off: paused{because}")
        if progress.step_backs >= config.max_step_backs:
            return _pause(
                failing,
                f"{count} after {progress.step_backs} step-backs (max {config.max_step_backs}): "
                f"paused{because}",
            )
        return _step_back(config, failing, now, f"{count}{because}")
    if verdict is Verdict.INCONCLUSIVE:
        since = progress.inconclusive_since or now
        waiting = replace(progress, inconclusive_since=since)
        if (now - since).total_seconds() >= config.deadline:
            return _pause(
                waiting,
                f"no conclusive verdict for {config.deadline:g} s (progress deadline): "
                f"paused{because}",
            )
        return Decision(Action.HOLD, waiting, f"inconclusive: holding{because}")
    # Verdict.PASS (evaluated every minute for days: no copy when nothing changes)
    passing = progress
    if progress.consecutive_failures or progress.inconclusive_since is not None:
        passing = replace(progress, consecutive_failures=0, inconclusive_since=None)
    if progress.percentage >= config.max_percentage:
        windows = passing.passing_windows
        until = passing.counted_until
        if until is None or window_start >= until:
            windows, until = windows + 1, now
        counted = replace(passing, passing_windows=windows, counted_until=until)
        if windows >= config.completion_windows:
            done = replace(counted, state=State.COMPLETED)
            return Decision(
                Action.COMPLETE,
                done,
                f"{windows} passing windows at {progress.percentage:g} %: completed "
                "(flag full; `complete` stays an operator decision)",
                notify=True,
            )
        return Decision(
            Action.HOLD,
            counted,
            f"pass: {windows} of {config.completion_windows} passing windows at the maximum",
        )
    elapsed = (now - progress.step_started_at).total_seconds()
    if elapsed < config.increment_interval:
        at = progress.step_started_at + timedelta(seconds=config.increment_interval)
        return Decision(Action.HOLD, passing, f"pass: next step due at {at.isoformat()}")
    if not config.enable_auto_increment:
        return Decision(
            Action.HOLD, passing, "pass: step due, but auto increment is off (promote by hand)"
        )
    return _next_step(config, passing, now, Action.INCREMENT)


# -- operator actions (each wins over the controller; each is logged with its actor) --------


def _require(progress: Progress, allowed: tuple[State, ...], verb: str) -> None:
    if progress.state not in allowed:
        names = " or ".join(s.value for s in allowed)
        raise InvalidTransition(
            f"cannot {verb}: the rollout is {progress.state.value} (needs {names})"
        )


def pause(progress: Progress, reason: str) -> Decision:
    _require(progress, (State.RUNNING,), "pause")
    return _pause(progress, reason or "paused by an operator")


def resume(config: RolloutConfig, progress: Progress, now: datetime, reason: str) -> Decision:
    """Running again; the current step starts afresh (its evidence is judged from now)."""
    _require(progress, (State.PAUSED,), "resume")
    index = max(progress.step_index, 0)
    percentage = progress.percentage if progress.step_index >= 0 else config.plan()[0]
    resumed = replace(
        progress,
        state=State.RUNNING,
        step_index=index,
        percentage=percentage,
        step_started_at=now,
        consecutive_failures=0,
        passing_windows=0,
        counted_until=None,
        inconclusive_since=None,
    )
    why = reason or "resumed by an operator"
    return Decision(Action.RESUME, resumed, f"{why} at {percentage:g} %", notify=True)


def promote(config: RolloutConfig, progress: Progress, now: datetime) -> Decision:
    """The next step now, whatever the evidence (at the last step: completed)."""
    _require(progress, ACTIVE_STATES, "promote")
    return _next_step(config, progress, now, Action.PROMOTE)


def stop(progress: Progress, reason: str) -> Decision:
    """The rollout ends; the flag stays where it is."""
    _require(progress, ACTIVE_STATES, "stop")
    stopped = replace(progress, state=State.STOPPED)
    return Decision(Action.STOP, stopped, reason or "stopped by an operator", notify=True)


def force(config: RolloutConfig, progress: Progress, percentage: float, now: datetime) -> Decision:
    """The flag to ``percentage`` now. 0 is the emergency rollback; otherwise the rollout
    keeps its state and continues from the first plan step above the forced value."""
    _require(progress, ACTIVE_STATES, "force")
    if percentage <= 0:
        rolled = replace(progress, state=State.ROLLED_BACK, percentage=0.0)
        return Decision(
            Action.EMERGENCY_ROLLBACK, rolled, "forced to 0 %: emergency rollback", notify=True
        )
    plan = config.plan()
    index = max((i for i, step in enumerate(plan) if step <= percentage), default=-1)
    forced = replace(
        progress,
        percentage=percentage,
        step_index=index,
        step_started_at=now,
        consecutive_failures=0,
        passing_windows=0,
        counted_until=None,
        inconclusive_since=None,
    )
    return Decision(
        Action.FORCE, forced, f"forced {progress.percentage:g} % -> {percentage:g} %", notify=True
    )


def operator_changed(progress: Progress, stage: str, percentage: float, actor: str) -> Decision:
    """Someone changed the driven flag by hand: the rollout pauses and adopts the value."""
    _require(progress, ACTIVE_STATES, "adopt an operator's change")
    effective = (
        percentage if stage == "partial" else (100.0 if stage in ("full", "complete") else 0.0)
    )
    paused = replace(progress, state=State.PAUSED, percentage=effective, consecutive_failures=0)
    return Decision(
        Action.OPERATOR_CHANGE,
        paused,
        f"{actor} set the flag to {stage} {effective:g} % by hand: paused (manual actions win)",
        notify=True,
    )
