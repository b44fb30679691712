"""The rollout state machine, rule by rule (pure: no clock, no database)."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from bistro.rollout import machine
from bistro.rollout.analysis import Verdict
from bistro.rollout.config import RolloutConfig
from bistro.rollout.machine import Action, Progress, State

T0 = datetime(2026, 1, 1, tzinfo=UTC)
DAY = timedelta(days=1)
CONFIG = RolloutConfig()  # 5, 15, ..., 95, 100 every 24 h; window 2 h


def at(step: int = 0, *, started: datetime = T0, **fields: object) -> Progress:
    plan = CONFIG.plan()
    base = Progress(State.RUNNING, plan[step], step, started)
    return replace(base, **fields)  # type: ignore[arg-type]


def run(
    progress: Progress,
    verdict: Verdict,
    now: datetime,
    config: RolloutConfig = CONFIG,
    **kw: object,
) -> machine.Decision:
    window_start = kw.pop("window_start", now - timedelta(hours=2))
    return machine.evaluate(config, progress, verdict, now, window_start=window_start, **kw)  # type: ignore[arg-type]


def test_default_plan_and_start() -> None:
    assert CONFIG.plan() == [5, 15, 25, 35, 45, 55, 65, 75, 85, 95, 100]
    d = machine.start(CONFIG, T0)
    assert d.action is Action.START
    assert d.progress == Progress(State.RUNNING, 5.0, 0, T0)
    assert machine.flag_target(d.progress) == ("partial", 5.0)


def test_explicit_steps_and_a_lower_maximum() -> None:
    assert RolloutConfig(steps=[1, 5, 10, 25, 50, 100]).plan() == [1, 5, 10, 25, 50, 100]
    assert RolloutConfig(steps="1,5,50", max_percentage=50).plan() == [1, 5, 50]
    assert RolloutConfig(
        initial_percentage=10, increment_percentage=20, max_percentage=50
    ).plan() == [
        10,
        30,
        50,
    ]


def test_pass_holds_until_the_interval_then_moves_one_step() -> None:
    p = at(0)
    early = run(p, Verdict.PASS, T0 + DAY - timedelta(seconds=1))
    assert early.action is Action.HOLD
    assert early.progress.percentage == 5.0
    assert "next step due" in early.reason
    due = run(p, Verdict.PASS, T0 + DAY)
    assert due.action is Action.INCREMENT
    assert due.progress.percentage == 15.0
    assert due.progress.step_index == 1
    assert due.progress.step_started_at == T0 + DAY
    assert due.notify


def test_auto_increment_off_holds_a_due_step() -> None:
    config = RolloutConfig(enable_auto_increment=False)
    d = run(at(0), Verdict.PASS, T0 + 2 * DAY, config)
    assert d.action is Action.HOLD
    assert d.progress.percentage == 5.0
    assert "auto increment is off" in d.reason


def test_a_pass_clears_the_failure_streak_and_the_inconclusive_clock() -> None:
    p = at(0, consecutive_failures=2, inconclusive_since=T0)
    d = run(p, Verdict.PASS, T0 + timedelta(hours=1))
    assert d.progress.consecutive_failures == 0
    assert d.progress.inconclusive_since is None


def test_minor_failures_step_back_after_the_threshold() -> None:
    p = at(3)
    now = T0 + timedelta(hours=5)
    for n in (1, 2):
        d = run(p, Verdict.FAIL_MINOR, now)
        assert d.action is Action.HOLD
        assert d.progress.consecutive_failures == n
        assert f"minor failure {n} of 3" in d.reason
        p = d.progress
    d = run(p, Verdict.FAIL_MINOR, now)
    assert d.action is Action.STEP_BACK
    assert d.progress.percentage == 25.0
    assert d.progress.step_index == 2
    assert d.progress.step_backs == 1
    assert d.progress.consecutive_failures == 0
    assert d.progress.step_started_at == now  # the lower step is held a whole interval
    assert d.progress.state is State.RUNNING
    assert d.notify


def test_a_stepped_back_step_is_held_for_a_whole_interval() -> None:
    now = T0 + timedelta(hours=30)
    p = at(2, started=now, step_backs=1)
    assert run(p, Verdict.PASS, now + DAY - timedelta(minutes=1)).action is Action.HOLD
    assert run(p, Verdict.PASS, now + DAY).action is Action.INCREMENT


def test_minor_failures_pause_once_step_backs_are_used_up() -> None:
    p = at(3, consecutive_failures=2, step_backs=2)
    d = run(p, Verdict.FAIL_MINOR, T0)
    assert d.action is Action.PAUSE
    assert d.progress.state is State.PAUSED
    assert d.progress.percentage == 35.0
    assert "2 step-backs (max 2)" in d.reason
    one_left = run(replace(p, step_backs=1), Verdict.FAIL_MINOR, T0)
    assert one_left.action is Action.STEP_BACK


def test_stepping_back_from_the_first_step_pauses_at_zero() -> None:
    d = run(at(0, consecutive_failures=2), Verdict.FAIL_MINOR, T0)
    assert d.action is Action.STEP_BACK
    assert d.progress.state is State.PAUSED
    assert d.progress.percentage == 0.0
    assert d.progress.step_index == -1
    assert machine.flag_target(d.progress) == ("partial", 0.0)


def test_auto_rollback_off_pauses_instead_of_moving_down() -> None:
    config = RolloutConfig(enable_auto_rollback=False)
    minor = run(at(3, consecutive_failures=2), Verdict.FAIL_MINOR, T0, config)
    assert minor.action is Action.PAUSE
    assert minor.progress.percentage == 35.0
    critical = run(at(3), Verdict.FAIL_CRITICAL, T0, config)
    assert critical.action is Action.PAUSE
    assert critical.progress.percentage == 35.0


def test_a_critical_failure_rolls_back_at_once() -> None:
    d = run(at(5), Verdict.FAIL_CRITICAL, T0, summary="v4 30 % 5xx")
    assert d.action is Action.EMERGENCY_ROLLBACK
    assert d.progress.state is State.ROLLED_BACK
    assert d.progress.percentage == 0.0
    assert machine.flag_target(d.progress) == ("disabled", 0.0)
    assert "v4 30 % 5xx" in d.reason
    assert d.notify


def test_inconclusive_holds_and_pauses_past_the_deadline() -> None:
    config = RolloutConfig(increment_interval="1h")  # deadline 2 h
    assert config.deadline == 7200
    first = run(at(0), Verdict.INCONCLUSIVE, T0, config)
    assert first.action is Action.HOLD
    assert first.progress.inconclusive_since == T0
    later = run(first.progress, Verdict.INCONCLUSIVE, T0 + timedelta(seconds=7199), config)
    assert later.action is Action.HOLD
    assert later.progress.inconclusive_since == T0
    late = run(later.progress, Verdict.INCONCLUSIVE, T0 + timedelta(seconds=7200), config)
    assert late.action is Action.PAUSE
    assert late.progress.state is State.PAUSED
    assert "progress deadline" in late.reason


def test_inconclusive_keeps_the_failure_streak() -> None:
    d = run(at(1, consecutive_failures=2), Verdict.INCONCLUSIVE, T0)
    assert d.progress.consecutive_failures == 2


def test_a_database_alert_pauses_and_never_rolls_back() -> None:
    for verdict in Verdict:
        d = run(at(4), verdict, T0, database_alert=True)
        assert d.action is Action.PAUSE
        assert d.progress.state is State.PAUSED
        assert d.progress.percentage == 45.0
        assert "database alert" in d.reason


def test_completion_needs_separate_passing_windows_at_the_maximum() -> None:
    top = len(CONFIG.plan()) - 1
    now = T0 + 10 * DAY
    p = at(top, started=now)
    one = run(p, Verdict.PASS, now + timedelta(minutes=30), window_start=now)
    assert one.action is Action.HOLD
    assert one.progress.passing_windows == 1
    assert one.progress.counted_until == now + timedelta(minutes=30)
    # The next evaluation's window still overlaps the counted one: not a second window.
    overlap = run(
        one.progress,
        Verdict.PASS,
        now + timedelta(minutes=31),
        window_start=now,
    )
    assert overlap.action is Action.HOLD
    assert overlap.progress.passing_windows == 1
    second_at = now + timedelta(hours=2, minutes=30)
    done = run(
        overlap.progress,
        Verdict.PASS,
        second_at,
        window_start=now + timedelta(minutes=30),
    )
    assert done.action is Action.COMPLETE
    assert done.progress.state is State.COMPLETED
    assert done.progress.passing_windows == 2
    assert machine.flag_target(done.progress) == ("full", 100.0)


def test_a_failure_at_the_maximum_restarts_the_window_count() -> None:
    top = len(CONFIG.plan()) - 1
    p = at(top, passing_windows=1, counted_until=T0)
    d = run(p, Verdict.FAIL_MINOR, T0 + timedelta(hours=3))
    assert d.progress.passing_windows == 0
    assert d.progress.counted_until is None


def test_completing_below_100_keeps_the_flag_partial() -> None:
    config = RolloutConfig(steps=[10, 50], max_percentage=50, completion_windows=1)
    p = Progress(State.RUNNING, 50.0, 1, T0)
    d = run(p, Verdict.PASS, T0 + timedelta(hours=1), config, window_start=T0)
    assert d.action is Action.COMPLETE
    assert machine.flag_target(d.progress) == ("partial", 50.0)


def test_only_a_running_rollout_is_evaluated() -> None:
    for state in (State.PAUSED, State.COMPLETED, State.ROLLED_BACK, State.STOPPED):
        with pytest.raises(machine.InvalidTransition, match=state.value):
            run(at(0, state=state), Verdict.PASS, T0)


def test_operator_pause_and_resume() -> None:
    paused = machine.pause(at(2), "")
    assert paused.action is Action.PAUSE
    assert paused.progress.state is State.PAUSED
    assert paused.reason == "paused by an operator"
    with pytest.raises(machine.InvalidTransition, match="cannot pause"):
        machine.pause(paused.progress, "again")
    now = T0 + 3 * DAY
    resumed = machine.resume(CONFIG, replace(paused.progress, consecutive_failures=2), now, "")
    assert resumed.action is Action.RESUME
    assert resumed.progress.state is State.RUNNING
    assert resumed.progress.percentage == 25.0
    assert resumed.progress.step_started_at == now
    assert resumed.progress.consecutive_failures == 0
    with pytest.raises(machine.InvalidTransition, match="cannot resume"):
        machine.resume(CONFIG, at(2), now, "")


def test_resume_from_zero_restarts_at_the_first_step() -> None:
    stopped_low = Progress(State.PAUSED, 0.0, -1, T0, step_backs=1)
    d = machine.resume(CONFIG, stopped_low, T0 + DAY, "go")
    assert d.progress.step_index == 0
    assert d.progress.percentage == 5.0
    assert d.reason == "go at 5 %"


def test_promote_moves_on_now_and_completes_past_the_last_step() -> None:
    d = machine.promote(CONFIG, at(1, consecutive_failures=1), T0 + timedelta(minutes=5))
    assert d.action is Action.PROMOTE
    assert d.progress.percentage == 25.0
    assert d.progress.consecutive_failures == 0
    top = len(CONFIG.plan()) - 1
    done = machine.promote(CONFIG, at(top, state=State.PAUSED), T0)
    assert done.action is Action.COMPLETE
    assert done.progress.state is State.COMPLETED
    with pytest.raises(machine.InvalidTransition):
        machine.promote(CONFIG, done.progress, T0)


def test_stop_leaves_the_flag_alone() -> None:
    d = machine.stop(at(3), "")
    assert d.progress.state is State.STOPPED
    assert machine.flag_target(d.progress) is None
    with pytest.raises(machine.InvalidTransition):
        machine.stop(d.progress, "")


def test_force_sets_the_percentage_and_zero_rolls_back() -> None:
    d = machine.force(CONFIG, at(1), 40.0, T0 + DAY)
    assert d.action is Action.FORCE
    assert d.progress.percentage == 40.0
    assert d.progress.step_index == 3  # 35 is the last plan step at or below 40
    assert d.progress.state is State.RUNNING
    nxt = run(d.progress, Verdict.PASS, T0 + 2 * DAY)
    assert nxt.progress.percentage == 45.0
    low = machine.force(CONFIG, at(4), 2.0, T0)
    assert low.progress.step_index == -1
    zero = machine.force(CONFIG, at(4), 0.0, T0)
    assert zero.action is Action.EMERGENCY_ROLLBACK
    assert zero.progress.state is State.ROLLED_BACK
    assert machine.flag_target(zero.progress) == ("disabled", 0.0)


def test_an_operator_change_pauses_and_adopts_the_value() -> None:
    d = machine.operator_changed(at(2), "partial", 12.5, "cli:ana")
    assert d.action is Action.OPERATOR_CHANGE
    assert d.progress.state is State.PAUSED
    assert d.progress.percentage == 12.5
    assert "cli:ana" in d.reason
    assert machine.operator_changed(at(2), "disabled", 0, "x").progress.percentage == 0.0
    assert machine.operator_changed(at(2), "full", 100, "x").progress.percentage == 100.0
    assert machine.operator_changed(at(2), "complete", 100, "x").progress.percentage == 100.0


def test_flag_targets() -> None:
    assert machine.flag_target(at(2)) == ("partial", 25.0)
    assert machine.flag_target(at(2, state=State.PAUSED)) == ("partial", 25.0)
    assert machine.flag_target(at(2, state=State.ROLLED_BACK, percentage=0.0)) == ("disabled", 0.0)


# -- the reasons: what an operator reads in status, the report and the webhook ---------------


def test_reasons_say_exactly_what_happened_and_why() -> None:
    now = T0 + timedelta(hours=1)
    assert machine.start(CONFIG, T0).reason == "rollout started at 5 %"
    assert run(at(0), Verdict.PASS, now).reason == (
        "pass: next step due at 2026-01-02T00:00:00+00:00"
    )
    assert run(at(0), Verdict.PASS, T0 + DAY).reason == "5 % -> 15 %"
    assert run(
        at(1, consecutive_failures=1), Verdict.FAIL_MINOR, now, summary="p95 x1.4"
    ).reason == ("minor failure 2 of 3: holding (p95 x1.4)")
    assert run(
        at(1, consecutive_failures=2), Verdict.FAIL_MINOR, now, summary="p95 x1.4"
    ).reason == ("minor failure 3 of 3 (p95 x1.4); stepped back 15 % -> 5 % (held for 86400 s)")
    assert run(at(0, consecutive_failures=2), Verdict.FAIL_MINOR, now).reason == (
        "minor failure 3 of 3; stepped back from the first step to 0 % and paused for an operator"
    )
    assert run(at(3, consecutive_failures=2, step_backs=2), Verdict.FAIL_MINOR, now).reason == (
        "minor failure 3 of 3 after 2 step-backs (max 2): paused"
    )
    off = RolloutConfig(enable_auto_rollback=False)
    assert run(at(3, consecutive_failures=2), Verdict.FAIL_MINOR, now, off).reason == (
        "minor failure 3 of 3, auto rollback off: paused"
    )
    assert run(at(3), Verdict.FAIL_CRITICAL, now, off, summary="x").reason == (
        "critical failure, auto rollback off: paused (x)"
    )
    assert (
        run(at(3), Verdict.FAIL_CRITICAL, now).reason
        == "critical failure: emergency rollback to 0 %"
    )
    assert run(at(0), Verdict.INCONCLUSIVE, now, summary="v4 has 20").reason == (
        "inconclusive: holding (v4 has 20)"
    )
    assert run(at(0, inconclusive_since=T0 - 2 * DAY), Verdict.INCONCLUSIVE, now).reason == (
        "no conclusive verdict for 172800 s (progress deadline): paused"
    )
    assert run(at(0), Verdict.PASS, now, database_alert=True).reason == (
        "database alert firing: paused (it hits v3 too; no rollback)"
    )
    top = len(CONFIG.plan()) - 1
    assert run(at(top), Verdict.PASS, now, window_start=T0).reason == (
        "pass: 1 of 2 passing windows at the maximum"
    )
    assert run(
        at(top, passing_windows=1, counted_until=T0), Verdict.PASS, now, window_start=T0
    ).reason == (
        "2 passing windows at 100 %: completed (flag full; `complete` stays an operator decision)"
    )
    assert run(
        at(0), Verdict.PASS, T0 + DAY, RolloutConfig(enable_auto_increment=False)
    ).reason == ("pass: step due, but auto increment is off (promote by hand)")
    assert machine.resume(CONFIG, at(2, state=State.PAUSED), now, "").reason == (
        "resumed by an operator at 25 %"
    )
    assert machine.promote(CONFIG, at(2), now).reason == "25 % -> 35 %"
    assert machine.promote(CONFIG, at(top), now).reason == "promoted past the last step: completed"
    assert machine.stop(at(2), "").reason == "stopped by an operator"
    assert machine.stop(at(2), "done for today").reason == "done for today"
    assert machine.pause(at(2), "lunch").reason == "lunch"
    assert machine.force(CONFIG, at(2), 40, now).reason == "forced 25 % -> 40 %"
    assert machine.force(CONFIG, at(2), 0, now).reason == "forced to 0 %: emergency rollback"
    assert machine.operator_changed(at(2), "partial", 3, "cli:ana").reason == (
        "cli:ana set the flag to partial 3 % by hand: paused (manual actions win)"
    )


def test_which_decisions_notify() -> None:
    now = T0 + timedelta(hours=1)
    assert machine.start(CONFIG, T0).notify
    assert not run(at(0), Verdict.PASS, now).notify
    assert not run(at(0), Verdict.INCONCLUSIVE, now).notify
    assert not run(at(0), Verdict.FAIL_MINOR, now).notify
    assert run(at(0), Verdict.PASS, T0 + DAY).notify
    assert run(at(0), Verdict.PASS, now, database_alert=True).notify
    assert machine.resume(CONFIG, at(0, state=State.PAUSED), now, "").notify
    assert machine.stop(at(0), "").notify
    assert machine.force(CONFIG, at(0), 50, now).notify
    assert machine.force(CONFIG, at(0), 0, now).notify
    assert machine.operator_changed(at(0), "full", 100, "x").notify
    assert machine.promote(CONFIG, at(0), now).notify


def test_progress_as_stored() -> None:
    p = at(2, consecutive_failures=1, step_backs=1, passing_windows=0, counted_until=T0,
           inconclusive_since=T0 + DAY)  # fmt: skip
    assert p.to_dict() == {
        "state": "running",
        "percentage": 25.0,
        "step_index": 2,
        "step_started_at": T0,
        "consecutive_failures": 1,
        "step_backs": 1,
        "passing_windows": 0,
        "counted_until": T0,
        "inconclusive_since": T0 + DAY,
    }


def test_fields_each_transition_resets() -> None:
    now = T0 + 3 * DAY
    busy = at(3, consecutive_failures=2, passing_windows=1, counted_until=T0, inconclusive_since=T0)
    for d in (
        machine.promote(CONFIG, busy, now),
        machine.force(CONFIG, busy, 50, now),
        machine.resume(CONFIG, replace(busy, state=State.PAUSED), now, ""),
        run(busy, Verdict.FAIL_MINOR, now),  # the third failure: a step back
    ):
        assert d.progress.consecutive_failures == 0, d.action
        assert d.progress.passing_windows == 0, d.action
        assert d.progress.counted_until is None, d.action
        assert d.progress.inconclusive_since is None, d.action
        assert d.progress.step_started_at == now, d.action
    assert machine.pause(busy, "").progress.consecutive_failures == 0
    assert machine.stop(busy, "").progress.step_backs == busy.step_backs
    rolled = run(busy, Verdict.FAIL_CRITICAL, now).progress
    assert (rolled.consecutive_failures, rolled.step_index) == (0, 3)
    # A step back keeps counting step-backs; a promotion does not reset them.
    assert run(busy, Verdict.FAIL_MINOR, now).progress.step_backs == 1
    assert machine.promote(CONFIG, replace(busy, step_backs=2), now).progress.step_backs == 2


def test_invalid_operator_transitions_name_the_state() -> None:
    done = at(0, state=State.COMPLETED)
    with pytest.raises(machine.InvalidTransition, match="cannot force: the rollout is completed"):
        machine.force(CONFIG, done, 10, T0)
    with pytest.raises(machine.InvalidTransition, match=r"needs running or paused"):
        machine.operator_changed(done, "partial", 1, "x")
    with pytest.raises(machine.InvalidTransition, match="the rollout is paused, not running"):
        run(at(0, state=State.PAUSED), Verdict.PASS, T0)


def test_edges_of_each_operator_action() -> None:
    now = T0 + timedelta(hours=5)
    stopped = machine.stop(at(2), "")
    assert stopped.action is Action.STOP and stopped.notify
    with pytest.raises(machine.InvalidTransition, match="cannot promote"):
        machine.promote(CONFIG, stopped.progress, now)
    # Promoting a paused rollout runs it again.
    promoted = machine.promote(CONFIG, at(2, state=State.PAUSED), now)
    assert promoted.progress.state is State.RUNNING and promoted.action is Action.PROMOTE
    # Force: just above zero is a percentage, not a rollback; a plan step counts as reached.
    small = machine.force(CONFIG, at(2), 1.0, now)
    assert small.action is Action.FORCE and small.progress.percentage == 1.0
    exact = machine.force(CONFIG, at(1), 35.0, now)
    assert exact.progress.step_index == 3
    assert machine.force(CONFIG, at(1), 0, now).progress.percentage == 0.0
    # Resume keeps a forced percentage at the first step; below it, restarts there.
    forced_low = Progress(State.PAUSED, 7.0, 0, T0)
    assert machine.resume(CONFIG, forced_low, now, "").progress.percentage == 7.0
    changed = machine.operator_changed(at(2, consecutive_failures=2), "partial", 9, "x")
    assert changed.progress.consecutive_failures == 0 and changed.notify
    rolled = run(at(2), Verdict.FAIL_CRITICAL, now)
    assert rolled.notify and rolled.progress.percentage == 0.0


def test_a_pass_clears_either_kind_of_pending_evidence() -> None:
    now = T0 + timedelta(hours=1)
    only_failures = run(at(0, consecutive_failures=1), Verdict.PASS, now)
    assert only_failures.progress.consecutive_failures == 0
    only_waiting = run(at(0, inconclusive_since=T0), Verdict.PASS, now)
    assert only_waiting.progress.inconclusive_since is None
    back = run(
        at(3, consecutive_failures=2, passing_windows=1, counted_until=T0), Verdict.FAIL_MINOR, now
    )
    assert back.progress.passing_windows == 0 and back.progress.counted_until is None
    assert back.progress.inconclusive_since is None


def test_every_move_notifies_and_refusals_name_the_verb() -> None:
    now = T0 + timedelta(hours=1)
    top = len(CONFIG.plan()) - 1
    assert machine.promote(CONFIG, at(top), now).notify  # completed by hand
    assert run(at(3, consecutive_failures=2), Verdict.FAIL_MINOR, now).notify  # step back
    assert run(at(0, consecutive_failures=2), Verdict.FAIL_MINOR, now).notify  # to 0 %, paused
    done = run(at(top, passing_windows=1, counted_until=T0), Verdict.PASS, now, window_start=T0)
    assert done.action is Action.COMPLETE and done.notify
    held = run(at(1, inconclusive_since=T0), Verdict.FAIL_MINOR, now)
    assert held.action is Action.HOLD and held.progress.inconclusive_since is None
    ended = at(0, state=State.ROLLED_BACK)
    with pytest.raises(machine.InvalidTransition, match="cannot stop: the rollout is rolled_back"):
        machine.stop(ended, "")
    with pytest.raises(machine.InvalidTransition, match="cannot adopt an operator's change"):
        machine.operator_changed(ended, "partial", 1, "x")
