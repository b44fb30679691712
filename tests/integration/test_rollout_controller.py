"""The rollout controller on a real database (SQLite and PostgreSQL), with a fake clock.

Traffic is recorded into the app's own metrics recorder and flushed by its own pipeline, so the
controller reads exactly what production instances write to the shared store.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
import pytest
from fastapi import FastAPI

from bistro.core.clock import FakeClock
from bistro.core.settings import MonitoringSettings
from bistro.migration.flags import Flag, Stage
from bistro.monitoring.models import AlertState
from bistro.rollout.config import RolloutConfig
from bistro.rollout.controller import RolloutConflict, RolloutController
from bistro.rollout.machine import Action, InvalidTransition, State
from bistro.rollout.runtime import RolloutRuntime
from bistro.rollout.service import start_rollouts, status_payload
from bistro.rollout.store import RolloutStore
from tests.support import WebhookReceiver, app_client

ROUTE = "/restaurants/{restaurant_id}"
FAST = RolloutConfig(
    steps=[10, 50, 100],
    increment_interval="10m",
    monitoring_period="5m",
    evaluation_interval="30s",
    min_requests=50,
)


@pytest.fixture
async def rig(db_url: str) -> AsyncIterator[tuple[FastAPI, FakeClock]]:
    clock = FakeClock(datetime(2026, 3, 2, 12, 0, tzinfo=UTC))
    async with app_client(db_url, clock=clock) as (app, _client):
        yield app, clock


def _state(app: FastAPI) -> Any:
    return app.state.bistro


def controller(app: FastAPI) -> RolloutController:
    runtime: RolloutRuntime = _state(app).extras["rollout"]
    return runtime.controller


async def feed(
    app: FastAPI,
    version: str,
    requests: int,
    errors: int = 0,
    latency: float = 0.02,
    *,
    source: str = "stable",
    group: str = "restaurants",
) -> None:
    """Record requests as the metrics middleware would, and flush them to the store."""
    recorder = _state(app).extras["monitoring"].pipeline.recorder
    for i in range(requests):
        outcome = "5xx" if i < errors else "2xx"
        recorder.record((source, version, group, ROUTE, outcome), latency, 100)


async def flush(app: FastAPI, clock: FakeClock, seconds: float = 10) -> None:
    clock.advance(seconds)
    assert await _state(app).extras["monitoring"].flush()


async def flag_state(app: FastAPI, flag: Flag) -> tuple[str, float]:
    async with _state(app).db.sessionmaker() as session:
        from bistro.migration.service import FlagService
        from bistro.migration.store.repository import FlagRepository

        states = await FlagService(FlagRepository(session)).states()
    return states[flag].stage.value, states[flag].percentage


async def start(app: FastAPI, config: RolloutConfig = FAST) -> None:
    await start_rollouts(controller(app), [Flag.RESTAURANTS], config, "test:ops")


async def healthy_minute(app: FastAPI, clock: FakeClock, share: float) -> None:
    per_minute = 1000
    await feed(app, "v4", int(per_minute * share), errors=1)
    await feed(app, "v3", int(per_minute * (1 - share)), errors=2)
    await flush(app, clock, 30)


async def test_start_sets_the_first_step_and_logs_it(rig: tuple[FastAPI, FakeClock]) -> None:
    app, _ = rig
    await start(app)
    assert await flag_state(app, Flag.RESTAURANTS) == ("partial", 10.0)
    async with _state(app).db.sessionmaker() as session:
        status = await status_payload(session, _state(app).clock.now())
    (rollout,) = status["rollouts"]
    assert rollout["state"] == "running"
    assert rollout["percentage"] == 10.0
    assert status["decisions"][0]["action"] == "start"
    assert status["decisions"][0]["actor"] == "test:ops"
    with pytest.raises(InvalidTransition, match="already has an active rollout"):
        await start(app)


async def test_start_is_refused_unless_the_master_switch_is_full(
    rig: tuple[FastAPI, FakeClock],
) -> None:
    app, _ = rig
    async with _state(app).extras["flags"].changing() as flags:
        await flags.set_flags([Flag.ENABLED], stage=Stage.DISABLED, percentage=None, actor="t")
    with pytest.raises(InvalidTransition, match="api_v4_enabled is disabled"):
        await start(app)
    async with _state(app).db.sessionmaker() as session:
        assert await RolloutStore(session).active() == []


async def test_start_is_refused_when_a_live_instance_pins_the_flag(
    rig: tuple[FastAPI, FakeClock],
) -> None:
    app, clock = rig
    async with _state(app).db.unit_of_work() as session:
        await RolloutStore(session).heartbeat(
            "other-host-1", {"api_v4_restaurants": ["API_V4_RESTAURANTS"]}, False, clock.now()
        )
    with pytest.raises(InvalidTransition, match=r"other-host-1.*API_V4_RESTAURANTS"):
        await start(app)
    # An instance gone for more than a minute no longer counts.
    clock.advance(120)
    await start(app)


async def test_healthy_traffic_moves_step_by_step_to_completion(
    rig: tuple[FastAPI, FakeClock],
) -> None:
    app, clock = rig
    await start(app)
    seen: list[float] = []
    for _ in range(200):
        stage, pct = await flag_state(app, Flag.RESTAURANTS)
        seen.append(pct)
        await healthy_minute(app, clock, pct / 100)
        await controller(app).evaluate_due()
        if stage == "full":
            break
    assert await flag_state(app, Flag.RESTAURANTS) == ("full", 100.0)
    async with _state(app).db.sessionmaker() as session:
        store = RolloutStore(session)
        (row,) = await store.latest_per_flag()
        log = await store.all_decisions(row.id)
    assert row.state == "completed"
    actions = [d.action for d in log if d.action != "hold"]
    assert actions == ["start", "increment", "increment", "complete"]
    assert [d.to_percentage for d in log if d.action == "increment"] == [50.0, 100.0]
    versions = [d.version for d in log]
    assert versions == sorted(set(versions))  # no decision written twice
    assert sorted(set(seen)) == [10.0, 50.0, 100.0]
    increment = next(d for d in log if d.action == "increment")
    assert increment.verdict == "pass"
    assert increment.numbers["verdict"] == "pass"
    assert increment.numbers["checks"]  # every number behind the decision is kept


async def test_v4_errors_roll_back_at_once_and_the_report_times_it(
    rig: tuple[FastAPI, FakeClock],
) -> None:
    app, clock = rig
    await start(app)
    first_failure = clock.now()
    await feed(app, "v4", 200, errors=60)
    await feed(app, "v3", 1800, errors=2)
    await flush(app, clock, 30)  # the first evaluation is one evaluation_interval after start
    (applied,) = await controller(app).evaluate_due()
    assert applied.decision.action is Action.EMERGENCY_ROLLBACK
    assert await flag_state(app, Flag.RESTAURANTS) == ("disabled", 0.0)
    from bistro.rollout.service import report_payload

    async with _state(app).db.sessionmaker() as session:
        report = await report_payload(session, "api_v4_restaurants", clock.now())
    assert report["rollout"]["state"] == "rolled_back"
    (timing,) = report["self_measurement"]
    assert timing["first_failure_at"] == first_failure
    assert timing["time_to_detect_seconds"] == 30.0
    assert timing["time_to_rollback_seconds"] is not None
    decision = report["decisions"][-1]
    assert decision["verdict"] == "fail_critical"
    assert decision["numbers"]["checks"]


async def test_direct_and_synthetic_traffic_never_move_a_rollout(
    rig: tuple[FastAPI, FakeClock],
) -> None:
    app, clock = rig
    await start(app)
    await feed(app, "v4", 500, errors=400, source="direct")
    await feed(app, "v4", 500, errors=400, source="synthetic")
    await feed(app, "v4", 100, errors=0)
    await feed(app, "v3", 900, errors=1)
    await flush(app, clock, 30)
    (applied,) = await controller(app).evaluate_due()
    assert applied.decision.action is Action.HOLD
    assert applied.analysis is not None
    assert applied.analysis.verdict.value == "pass"
    assert await flag_state(app, Flag.RESTAURANTS) == ("partial", 10.0)


async def test_an_operators_flag_change_pauses_the_rollout(
    rig: tuple[FastAPI, FakeClock],
) -> None:
    app, clock = rig
    await start(app)
    async with _state(app).extras["flags"].changing() as flags:
        await flags.set_flags(
            [Flag.RESTAURANTS], stage=Stage.PARTIAL, percentage=3, actor="cli:ana", reason="hm"
        )
    await flush(app, clock, 30)
    (applied,) = await controller(app).evaluate_due()
    assert applied.decision.action is Action.OPERATOR_CHANGE
    assert applied.decision.progress.state is State.PAUSED
    assert applied.decision.progress.percentage == 3.0
    assert "cli:ana" in applied.decision.reason
    # The flag stays as the operator left it, and a paused rollout is not evaluated.
    assert await flag_state(app, Flag.RESTAURANTS) == ("partial", 3.0)
    clock.advance(60)
    assert await controller(app).evaluate_due() == []
    resumed = await controller(app).operate("api_v4_restaurants", "resume", "cli:ana")
    assert resumed.decision.progress.state is State.RUNNING
    assert await flag_state(app, Flag.RESTAURANTS) == ("partial", 3.0)
    # The controller's own change on resume is not mistaken for a manual one.
    await healthy_minute(app, clock, 0.03)
    (after,) = await controller(app).evaluate_due()
    assert after.decision.action is not Action.OPERATOR_CHANGE


async def test_a_database_alert_pauses(rig: tuple[FastAPI, FakeClock]) -> None:
    app, clock = rig
    await start(app)
    now = clock.now()
    async with _state(app).db.unit_of_work() as session:
        session.add(
            AlertState(
                key="database_connection:primary",
                rule="database_connection",
                subject="primary",
                state="firing",
                value=1.0,
                threshold=1.0,
                message="database connection failed",
                since=now,
                updated_at=now,
            )
        )
    await flush(app, clock, 30)
    (applied,) = await controller(app).evaluate_due()
    assert applied.decision.action is Action.PAUSE
    assert await flag_state(app, Flag.RESTAURANTS) == ("partial", 10.0)


async def test_force_promote_and_stop(rig: tuple[FastAPI, FakeClock]) -> None:
    app, _ = rig
    await start(app)
    ctl = controller(app)
    promoted = await ctl.operate("api_v4_restaurants", "promote", "cli:ops")
    assert promoted.decision.progress.percentage == 50.0
    assert await flag_state(app, Flag.RESTAURANTS) == ("partial", 50.0)
    forced = await ctl.operate("api_v4_restaurants", "force", "cli:ops", percentage=20)
    assert forced.decision.progress.percentage == 20.0
    assert await flag_state(app, Flag.RESTAURANTS) == ("partial", 20.0)
    stopped = await ctl.operate("api_v4_restaurants", "stop", "cli:ops")
    assert stopped.decision.progress.state is State.STOPPED
    assert await flag_state(app, Flag.RESTAURANTS) == ("partial", 20.0)
    with pytest.raises(InvalidTransition, match="no active rollout"):
        await ctl.operate("api_v4_restaurants", "pause", "cli:ops")


async def test_force_zero_is_the_emergency_rollback(rig: tuple[FastAPI, FakeClock]) -> None:
    app, _ = rig
    await start(app)
    applied = await controller(app).operate("api_v4_restaurants", "force", "cli:ops", percentage=0)
    assert applied.decision.action is Action.EMERGENCY_ROLLBACK
    assert await flag_state(app, Flag.RESTAURANTS) == ("disabled", 0.0)


async def test_dry_run_decides_and_logs_but_changes_no_flag(
    rig: tuple[FastAPI, FakeClock],
) -> None:
    app, clock = rig
    await start(app, FAST.model_copy(update={"dry_run": True}))
    assert await flag_state(app, Flag.RESTAURANTS) == ("disabled", 0.0)
    await feed(app, "v4", 200, errors=100)
    await feed(app, "v3", 800)
    await flush(app, clock, 30)
    (applied,) = await controller(app).evaluate_due()
    assert applied.decision.action is Action.EMERGENCY_ROLLBACK
    assert not applied.flag_changed
    async with _state(app).db.sessionmaker() as session:
        (decision, *_) = await RolloutStore(session).decisions()
    assert decision.dry_run
    assert decision.action == "emergency_rollback"


async def test_two_controllers_never_apply_the_same_step_twice(
    rig: tuple[FastAPI, FakeClock],
) -> None:
    app, clock = rig
    await start(app)
    await flush(app, clock, FAST.increment_interval)  # the next bucket starts here
    await healthy_minute(app, clock, 0.1)
    one = controller(app)
    two = RolloutController(_state(app).db, clock)
    async with _state(app).db.sessionmaker() as session:
        (row,) = await RolloutStore(session).active()
    results = await asyncio.gather(
        one.evaluate(row.id), two.evaluate(row.id), return_exceptions=True
    )
    applied = [r for r in results if not isinstance(r, BaseException)]
    conflicts = [r for r in results if isinstance(r, RolloutConflict)]
    # Either both saw the same version and one lost the compare-and-set, or they ran one
    # after the other and the second judged the new step (never the same step twice).
    async with _state(app).db.sessionmaker() as session:
        log = await RolloutStore(session).all_decisions(row.id)
    increments = [d for d in log if d.action == "increment"]
    assert len(increments) == 1
    assert increments[0].to_percentage == 50.0
    assert len(applied) + len(conflicts) == 2


async def test_failover_takes_over_within_the_lease_and_resumes(
    rig: tuple[FastAPI, FakeClock],
) -> None:
    app, clock = rig
    state = _state(app)
    settings = state.settings.rollout.model_copy(update={"lease_seconds": 15})
    a = RolloutRuntime(settings, state.db, clock, "instance-a")
    b = RolloutRuntime(settings, state.db, clock, "instance-b")
    await start(app)
    assert await a.lease.refresh()
    assert not await b.lease.refresh()
    await healthy_minute(app, clock, 0.1)
    await a.tick()
    await b.tick()
    assert a.lease.held and not b.lease.held
    # A dies mid-rollout without releasing: B waits out the lease, then takes over.
    clock.advance(14)
    assert await b.tick() == [] and not b.lease.held
    clock.advance(1.5)
    takeover_at = clock.now()
    await b.tick()
    assert b.lease.held
    for _ in range(120):
        stage, pct = await flag_state(app, Flag.RESTAURANTS)
        if stage == "full":
            break
        await healthy_minute(app, clock, pct / 100)
        await b.tick()
    async with state.db.sessionmaker() as session:
        store = RolloutStore(session)
        (row,) = await store.latest_per_flag()
        log = await store.all_decisions(row.id)
    steps = [d.to_percentage for d in log if d.action in ("start", "increment")]
    assert steps == [10.0, 50.0, 100.0]  # no step repeated, none skipped
    assert [d.version for d in log] == sorted({d.version for d in log})
    assert all(d.at >= takeover_at for d in log if d.action == "increment")
    assert row.state == "completed"


async def test_stopping_releases_the_lease_at_once(rig: tuple[FastAPI, FakeClock]) -> None:
    app, clock = rig
    state = _state(app)
    a = RolloutRuntime(state.settings.rollout, state.db, clock, "instance-a")
    b = RolloutRuntime(state.settings.rollout, state.db, clock, "instance-b")
    assert await a.lease.refresh()
    await a.stop()
    assert await b.lease.refresh()


async def test_the_status_file_follows_every_change(
    rig: tuple[FastAPI, FakeClock], tmp_path: Path
) -> None:
    app, clock = rig
    state = _state(app)
    path = tmp_path / "rollout.json"
    settings = state.settings.rollout.model_copy(update={"status_file": str(path)})
    runtime = RolloutRuntime(settings, state.db, clock, "instance-s")
    await start_rollouts(runtime.controller, [Flag.RESTAURANTS], FAST, "test:ops")
    data = orjson.loads(path.read_bytes())
    assert data["rollouts"][0]["state"] == "running"
    await runtime.controller.operate("api_v4_restaurants", "pause", "cli:ops")
    data = orjson.loads(path.read_bytes())
    assert data["rollouts"][0]["state"] == "paused"
    assert data["decisions"][0]["action"] == "pause"


def test_window_is_clipped_to_the_step_start() -> None:
    from bistro.rollout.controller import window_bounds
    from bistro.rollout.machine import Progress

    now = datetime(2026, 3, 2, 12, tzinfo=UTC)
    config = RolloutConfig()
    fresh = Progress(State.RUNNING, 5, 0, now - timedelta(minutes=10))
    assert window_bounds(config, fresh, now) == (now - timedelta(minutes=10), now)
    old = Progress(State.RUNNING, 5, 0, now - timedelta(days=1))
    assert window_bounds(config, old, now) == (now - timedelta(hours=2), now)


async def test_decisions_reach_the_alert_webhook(
    db_url: str, receiver: tuple[WebhookReceiver, str]
) -> None:
    hook, url = receiver
    clock = FakeClock(datetime(2026, 3, 2, 12, 0, tzinfo=UTC))
    monitoring = MonitoringSettings(enabled=False, BISTRO_ALERT_WEBHOOK_URL=url)  # type: ignore[call-arg]
    async with app_client(db_url, monitoring=monitoring, clock=clock) as (app, _client):
        await start(app)
        await feed(app, "v4", 200, errors=80)
        await feed(app, "v3", 800)
        await flush(app, clock, 30)
        await controller(app).evaluate_due()
        # The notifier sends from its own task (after one 503 from the receiver, a retry).
        await asyncio.wait_for(_state(app).extras["monitoring"].notifier.wait_idle(), 60)
    actions = [event["rollout"]["action"] for event in hook.events]
    assert actions == ["start", "emergency_rollback"]
    rollback = hook.events[1]
    assert rollback["text"].startswith(":rotating_light: [ROLLOUT EMERGENCY_ROLLBACK] api_v4_")
    assert rollback["rollout"]["verdict"] == "fail_critical"
    assert rollback["rollout"]["to_percentage"] == 0.0
