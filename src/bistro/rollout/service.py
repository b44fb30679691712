"""Starting rollouts, and the views status, the CLI, the API and reports show.

Starting is refused, with the reason, when the master switch is not ``full`` or when an
environment pin overrides the flag on an instance that reports in: the controller must never
believe it moves traffic that it does not.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from bistro.core.database import Database
from bistro.migration.env import EnvPins
from bistro.migration.flags import GROUP_FLAGS, ROUTING_FLAGS, Flag, InvalidFlagValue, Stage
from bistro.migration.flags import parse_flag as parse_any_flag
from bistro.migration.service import FlagService
from bistro.migration.store.repository import FlagRepository
from bistro.rollout import machine
from bistro.rollout.config import RolloutConfig, format_duration
from bistro.rollout.controller import GROUP_OF_FLAG, Applied, RolloutController, pinned_instance
from bistro.rollout.lease import LEASE_NAME
from bistro.rollout.machine import InvalidTransition, State
from bistro.rollout.models import RolloutDecision, RolloutRow
from bistro.rollout.store import LeaseStore, RolloutStore, progress_of


def routing_flags(names: Sequence[str] | None) -> list[Flag]:
    """``--flag`` values (default: every routing flag); anything else is refused."""
    if not names:
        return list(ROUTING_FLAGS)
    flags: list[Flag] = []
    for name in names:
        try:
            flag = parse_any_flag(name)
        except InvalidFlagValue as exc:
            raise InvalidTransition(str(exc)) from None
        if flag not in ROUTING_FLAGS:
            raise InvalidTransition(
                f"{flag.value} is not a routing flag; a rollout drives one of "
                + ", ".join(f.value for f in ROUTING_FLAGS)
            )
        if flag not in flags:
            flags.append(flag)
    return flags


def published_pins(pins: EnvPins) -> dict[str, list[str]]:
    """What an instance publishes: the flags its environment pins as a whole (per-user pins
    move one subject, not the traffic a rollout judges, so they do not block a rollout)."""
    out: dict[str, list[str]] = {}
    for flag, flag_pins in pins.flags.items():
        if flag_pins.enabled is not None or flag_pins.rollout is not None:
            names = [v for v in flag_pins.variables if "_USER_" not in v]
            out[flag.value] = names
    return out


async def start_rollouts(
    controller: RolloutController,
    flags: Sequence[Flag],
    config: RolloutConfig,
    actor: str,
    *,
    local_pins: EnvPins | None = None,
) -> list[Applied]:
    """One rollout per flag, all checked before any starts (all or nothing)."""
    db, now = controller.db, controller.clock.now()
    await check_startable(db, flags, now, local_pins)
    applied: list[Applied] = []
    for flag in flags:
        decision = machine.start(config, now)
        row = RolloutRow(
            flag=flag.value,
            grp=GROUP_OF_FLAG[flag],
            state=State.RUNNING.value,
            config=config.to_dict(),
            percentage=0.0,
            step_index=-1,
            step_started_at=now,
            consecutive_failures=0,
            step_backs=0,
            passing_windows=0,
            version=1,
            audit_seen=0,
            started_at=now,
            started_by=actor[:120],
            updated_at=now,
        )
        applied.append(await controller.start(row, decision, actor))
    return applied


async def check_startable(
    db: Database, flags: Sequence[Flag], now: datetime, local_pins: EnvPins | None
) -> None:
    async with db.sessionmaker() as session:
        store = RolloutStore(session)
        states = await FlagService(FlagRepository(session)).states()
        master = states[Flag.ENABLED]
        if master.stage not in (Stage.FULL, Stage.COMPLETE):
            raise InvalidTransition(
                f"api_v4_enabled is {master.stage.value}; a rollout needs it full "
                "(bistro migration full --flag api_v4_enabled)"
            )
        local = published_pins(local_pins) if local_pins is not None else {}
        for flag in flags:
            for name in (flag.value, Flag.ENABLED.value):
                if name in local:
                    raise InvalidTransition(
                        f"this process's environment pins {name} ({', '.join(local[name])})"
                    )
            pinned = await pinned_instance(store, flag.value, now)
            if pinned:
                raise InvalidTransition(
                    f"cannot start {flag.value}: an environment pin overrides it on {pinned}"
                )
            if await store.active(flag.value):
                raise InvalidTransition(f"{flag.value} already has an active rollout")


# -- views ----------------------------------------------------------------------------------


def next_action(row: RolloutRow, config: RolloutConfig, now: datetime) -> dict[str, Any]:
    """What happens next, when, and why: the line an operator reads first."""
    state = State(row.state)
    if state is State.PAUSED:
        return {"action": "wait for an operator", "at": None, "why": row.last_reason}
    if state is not State.RUNNING:
        return {"action": "none (ended)", "at": None, "why": row.last_reason}
    plan = config.plan()
    at = row.next_evaluation_at or now
    step_due = row.step_started_at + timedelta(seconds=config.increment_interval)
    if row.percentage >= config.max_percentage:
        what = (
            f"complete after {config.completion_windows - row.passing_windows} more passing "
            "window(s)"
        )
    elif row.step_index + 1 < len(plan):
        what = f"move to {plan[row.step_index + 1]:g} % if passing, from {step_due.isoformat()}"
    else:
        what = "complete"
    return {"action": f"evaluate; {what}", "at": at, "why": row.last_reason}


def rollout_view(row: RolloutRow, now: datetime) -> dict[str, Any]:
    config = RolloutConfig(**row.config)
    progress = progress_of(row)
    return {
        "id": row.id,
        "flag": row.flag,
        "group": row.grp,
        "state": row.state,
        "percentage": row.percentage,
        "step": {
            "index": row.step_index,
            "of": len(config.plan()),
            "started_at": row.step_started_at,
            "plan": config.plan(),
        },
        "consecutive_failures": progress.consecutive_failures,
        "step_backs": progress.step_backs,
        "passing_windows": progress.passing_windows,
        "dry_run": config.dry_run,
        "next": next_action(row, config, now),
        "last_action": row.last_action,
        "last_reason": row.last_reason,
        "last_verdict": (row.last_analysis or {}).get("verdict"),
        "last_analysis": row.last_analysis,
        "version": row.version,
        "started_at": row.started_at,
        "started_by": row.started_by,
        "updated_at": row.updated_at,
        "ended_at": row.ended_at,
        "config": config.describe(),
    }


def decision_view(d: RolloutDecision) -> dict[str, Any]:
    return {
        "id": d.id,
        "rollout_id": d.rollout_id,
        "flag": d.flag,
        "at": d.at,
        "actor": d.actor,
        "action": d.action,
        "verdict": d.verdict,
        "from_state": d.from_state,
        "to_state": d.to_state,
        "from_percentage": d.from_percentage,
        "to_percentage": d.to_percentage,
        "version": d.version,
        "reason": d.reason,
        "window": {"from": d.window_from, "to": d.window_to},
        "flag_changed": d.flag_changed,
        "applied_at": d.applied_at,
        "dry_run": d.dry_run,
        "numbers": d.numbers,
    }


async def status_payload(
    session: AsyncSession, now: datetime, *, flag: str | None = None, decisions: int = 10
) -> dict[str, Any]:
    """Every flag's latest rollout, the last decisions, and who holds the controller lease.

    Reads through the caller's session (a request's, on SQLite's single connection)."""
    store = RolloutStore(session)
    rows = [r for r in await store.latest_per_flag() if flag is None or r.flag == flag]
    recent = await store.decisions(limit=decisions, flag=flag)
    lease = await LeaseStore(session).current(LEASE_NAME)
    holder = None
    if lease is not None and lease.holder is not None and lease.expires_at > now:
        holder = {"instance": lease.holder, "expires_at": lease.expires_at}
    return {
        "controller": holder,
        "rollouts": [rollout_view(r, now) for r in rows],
        "decisions": [decision_view(d) for d in recent],
    }


async def report_payload(session: AsyncSession, flag: str, now: datetime) -> dict[str, Any]:
    """The whole story of a flag's latest rollout: every decision with its numbers, and the
    controller's own timings for each rollback or step back."""
    store = RolloutStore(session)
    row = await store.latest(flag)
    if row is None:
        raise InvalidTransition(f"{flag} has never had a rollout")
    log = await store.all_decisions(row.id)
    timings = []
    for d in log:
        numbers = d.numbers or {}
        if d.action in ("emergency_rollback", "step_back") and numbers.get("first_failure_at"):
            first = datetime.fromisoformat(numbers["first_failure_at"])
            timings.append(
                {
                    "decision_id": d.id,
                    "action": d.action,
                    "first_failure_at": first,
                    "decided_at": d.at,
                    "flag_changed_at": d.applied_at,
                    "time_to_detect_seconds": round((d.at - first).total_seconds(), 3),
                    "time_to_rollback_seconds": (
                        round((d.applied_at - first).total_seconds(), 3)
                        if d.applied_at is not None
                        else None
                    ),
                }
            )
    return {
        "rollout": rollout_view(row, now),
        "decisions": [decision_view(d) for d in log],
        "self_measurement": timings,
        "generated_at": now,
    }


def report_markdown(report: dict[str, Any]) -> str:
    r = report["rollout"]
    lines = [
        f"# Rollout of {r['flag']} (#{r['id']})",
        "",
        f"- state: **{r['state']}** at **{r['percentage']:g} %**",
        f"- started {r['started_at']} by {r['started_by']}",
        f"- plan: {', '.join(f'{p:g}' for p in r['step']['plan'])} %",
        f"- step interval {r['config']['increment_interval']}, window "
        f"{r['config']['monitoring_period']}, evaluated every {r['config']['evaluation_interval']}",
        f"- next: {r['next']['action']}",
        "",
        "## Decisions",
        "",
        "| at | actor | action | verdict | % | reason |",
        "|---|---|---|---|---|---|",
    ]
    for d in report["decisions"]:
        lines.append(
            f"| {d['at']} | {d['actor']} | {d['action']} | {d['verdict'] or ''} | "
            f"{d['from_percentage']:g} -> {d['to_percentage']:g} | "
            f"{str(d['reason']).replace('|', '/')} |"
        )
    if report["self_measurement"]:
        lines += [
            "",
            "## Time to detect and to roll back",
            "",
            "| decision | action | first failure | detect (s) | flag changed (s) |",
            "|---|---|---|---|---|",
        ]
        for t in report["self_measurement"]:
            lines.append(
                f"| {t['decision_id']} | {t['action']} | {t['first_failure_at']} | "
                f"{t['time_to_detect_seconds']} | {t['time_to_rollback_seconds']} |"
            )
    last = [d for d in report["decisions"] if d["numbers"].get("checks")]
    if last:
        lines += ["", "## Last analysis", "", "```", _checks_text(last[-1]["numbers"]), "```"]
    return "\n".join(lines) + "\n"


def _checks_text(numbers: dict[str, Any]) -> str:
    import orjson

    return orjson.dumps(numbers, option=orjson.OPT_INDENT_2).decode()


__all__ = [
    "GROUP_FLAGS",
    "format_duration",
    "report_markdown",
    "report_payload",
    "rollout_view",
    "start_rollouts",
    "status_payload",
]
