"""``bistro rollout``: start an automated rollout, watch it, steer it, read why it did what.

Every command works on the database directly (any machine that can reach it), so it works
whether or not a controller is running; the controller (inside ``bistro serve``, or
``bistro rollout run``) picks changes up at its next evaluation.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Annotated, Any, TypeVar

import orjson
import typer

from bistro.cli.common import (
    EXIT_USAGE,
    DatabaseUrlOption,
    JsonOption,
    cli_errors,
    database_settings,
    emit,
    fail,
    run,
    stderr,
)
from bistro.cli.flagcommon import ActorOption, ReasonOption, actor_name, env_pins
from bistro.core.clock import SystemClock
from bistro.core.database import Database
from bistro.core.logging import configure_logging
from bistro.rollout.config import InvalidRolloutConfig, build_config, load_config_file
from bistro.rollout.controller import Applied, RolloutController
from bistro.rollout.machine import InvalidTransition
from bistro.rollout.service import (
    report_markdown,
    report_payload,
    routing_flags,
    start_rollouts,
    status_payload,
)
from bistro.rollout.status import render_rollout
from bistro.rollout.store import RolloutStore

T = TypeVar("T")

app = typer.Typer(
    help="The automated rollout: v4 moves to everyone on evidence, and back on harm.",
    no_args_is_help=True,
)

FlagsOption = Annotated[
    list[str] | None,
    typer.Option("--flag", help="A routing flag (repeatable); default: all four."),
]
OneFlagOption = Annotated[
    str | None,
    typer.Option("--flag", help="One routing flag; default: every active rollout."),
]


def _opt(help_text: str) -> Any:
    return typer.Option(help=help_text, show_default=False)


async def _with_db(url: str | None, work: Callable[[Database], Awaitable[T]]) -> T:
    # The command prints what it did; the controller's own log lines would repeat it (and
    # go to stdout before logging is configured, spoiling --json).
    configure_logging("auto", "error")
    db = Database(database_settings(url))
    try:
        return await work(db)
    finally:
        await db.dispose()


def _refused(exc: Exception) -> None:
    fail(str(exc))


def _applied_text(applied: list[Applied]) -> str:
    lines = []
    for a in applied:
        d = a.decision
        lines.append(
            f"{a.flag}: {d.action.value} -> {d.progress.state.value} at "
            f"{d.progress.percentage:g} % ({d.reason})"
        )
    return "\n".join(lines)


def _applied_payload(applied: list[Applied]) -> dict[str, Any]:
    return {
        "applied": [
            {
                "flag": a.flag,
                "rollout_id": a.rollout_id,
                "action": a.decision.action.value,
                "state": a.decision.progress.state.value,
                "from_percentage": a.before.percentage,
                "to_percentage": a.decision.progress.percentage,
                "flag_changed": a.flag_changed,
                "reason": a.decision.reason,
            }
            for a in applied
        ]
    }


@app.command()
def start(
    flag: FlagsOption = None,
    config: Annotated[
        Path | None, typer.Option("--config", help="A TOML file of settings (field names).")
    ] = None,
    initial_percentage: Annotated[str | None, _opt("First step, % (default 5).")] = None,
    increment_percentage: Annotated[str | None, _opt("Step size, % (default 10).")] = None,
    steps: Annotated[str | None, _opt("Explicit steps, e.g. 1,5,10,25,50,100.")] = None,
    max_percentage: Annotated[str | None, _opt("Where the rollout ends (default 100).")] = None,
    increment_interval: Annotated[str | None, _opt("Minimum time at a step (24h).")] = None,
    monitoring_period: Annotated[str | None, _opt("Analysis window (2h).")] = None,
    evaluation_interval: Annotated[str | None, _opt("How often to judge (1m).")] = None,
    auto_rollback_threshold: Annotated[str | None, _opt("v4 5xx %, (5.0).")] = None,
    performance_degradation_threshold: Annotated[
        str | None, _opt("v4 p95/p99 over v3's, % (20).")
    ] = None,
    min_requests: Annotated[str | None, _opt("Per version in the window (100).")] = None,
    failure_threshold: Annotated[
        str | None, _opt("Minor failures in a row before a step back (3).")
    ] = None,
    significance: Annotated[str | None, _opt("Statistical significance (0.01).")] = None,
    completion_windows: Annotated[str | None, _opt("Passing windows at the maximum (2).")] = None,
    progress_deadline: Annotated[
        str | None, _opt("Inconclusive this long: pause (2 x interval).")
    ] = None,
    max_step_backs: Annotated[str | None, _opt("Step-backs before pausing (2).")] = None,
    enable_auto_increment: Annotated[str | None, _opt("true|false (true).")] = None,
    enable_auto_rollback: Annotated[str | None, _opt("true|false (true).")] = None,
    max_parity_mismatch_rate: Annotated[str | None, _opt("0..1, when parity data exists.")] = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Decide and log; change no flag.")
    ] = False,
    actor: ActorOption = None,
    database_url: DatabaseUrlOption = None,
    json_output: JsonOption = False,
) -> None:
    """Start one rollout per flag (default: every routing flag), each on its own evidence."""
    options = {
        "initial_percentage": initial_percentage,
        "increment_percentage": increment_percentage,
        "steps": steps,
        "max_percentage": max_percentage,
        "increment_interval": increment_interval,
        "monitoring_period": monitoring_period,
        "evaluation_interval": evaluation_interval,
        "auto_rollback_threshold": auto_rollback_threshold,
        "performance_degradation_threshold": performance_degradation_threshold,
        "min_requests": min_requests,
        "failure_threshold": failure_threshold,
        "significance": significance,
        "completion_windows": completion_windows,
        "progress_deadline": progress_deadline,
        "max_step_backs": max_step_backs,
        "enable_auto_increment": enable_auto_increment,
        "enable_auto_rollback": enable_auto_rollback,
        "max_parity_mismatch_rate": max_parity_mismatch_rate,
        "dry_run": True if dry_run else None,
    }
    with cli_errors(database_url):
        try:
            values = load_config_file(config) if config is not None else {}
            values.update({k: v for k, v in options.items() if v is not None})
            settings = build_config(values)
            flags = routing_flags(flag)
        except (InvalidRolloutConfig, InvalidTransition) as exc:
            fail(str(exc), EXIT_USAGE)
        pins = env_pins()

        async def work(db: Database) -> list[Applied]:
            controller = RolloutController(db, SystemClock())
            return await start_rollouts(
                controller, flags, settings, actor_name(actor), local_pins=pins
            )

        try:
            applied = run(_with_db(database_url, work))
        except InvalidTransition as exc:
            fail(str(exc))
    emit(
        _applied_payload(applied) | {"config": settings.describe()},
        json_output=json_output,
        human=_applied_text(applied),
    )


@app.command()
def status(
    flag: OneFlagOption = None,
    decisions: Annotated[int, typer.Option("--decisions", min=0, max=200)] = 10,
    database_url: DatabaseUrlOption = None,
    json_output: JsonOption = False,
) -> None:
    """Each rollout: state, percentage, the last verdict, and what happens next, when, why."""
    with cli_errors(database_url):

        async def work(db: Database) -> dict[str, Any]:
            async with db.sessionmaker() as session:
                return await status_payload(
                    session, SystemClock().now(), flag=flag, decisions=decisions
                )

        data = run(_with_db(database_url, work))
    emit(data, json_output=json_output, human=lambda console: render_rollout(console, data))


@app.command()
def report(
    flag: Annotated[str, typer.Option("--flag", help="The rollout's flag.")],
    output: Annotated[Path | None, typer.Option("--output", help="Write here, not stdout.")] = None,
    fmt: Annotated[str, typer.Option("--format", help="json or md.")] = "md",
    database_url: DatabaseUrlOption = None,
    json_output: JsonOption = False,
) -> None:
    """Every decision of the flag's latest rollout with the numbers behind it, and the
    controller's own time to detect and to roll back."""
    if fmt not in ("json", "md"):
        with cli_errors():
            fail(f"--format must be json or md, not {fmt!r}", EXIT_USAGE)
    with cli_errors(database_url):

        async def work(db: Database) -> dict[str, Any]:
            async with db.sessionmaker() as session:
                return await report_payload(session, flag, SystemClock().now())

        try:
            data = run(_with_db(database_url, work))
        except InvalidTransition as exc:
            fail(str(exc))
        as_json = fmt == "json" or json_output
        text = (
            orjson.dumps(data, option=orjson.OPT_INDENT_2).decode() + "\n"
            if as_json
            else report_markdown(data)
        )
        if output is not None:
            try:
                output.write_text(text, encoding="utf-8")
            except OSError as exc:
                fail(f"cannot write {output}: {exc.strerror or exc}")
    if output is None:
        typer.echo(text, nl=False)
    else:
        emit(
            {"output": str(output), "decisions": len(data["decisions"])},
            json_output=json_output,
            human=f"report written to {output} ({len(data['decisions'])} decisions)",
        )


def _operate(
    verb: str,
    flag: str | None,
    reason: str | None,
    actor: str | None,
    database_url: str | None,
    json_output: bool,
    percentage: float | None = None,
) -> None:
    with cli_errors(database_url):
        if flag is not None:
            try:
                routing_flags([flag])
            except InvalidTransition as exc:
                fail(str(exc), EXIT_USAGE)

        async def work(db: Database) -> list[Applied]:
            controller = RolloutController(db, SystemClock())
            if flag is not None:
                names = [flag]
            else:
                async with db.sessionmaker() as session:
                    names = [r.flag for r in await RolloutStore(session).active()]
                if not names:
                    raise InvalidTransition("no active rollout")
            return [
                await controller.operate(
                    name, verb, actor_name(actor), reason=reason or "", percentage=percentage
                )
                for name in names
            ]

        try:
            applied = run(_with_db(database_url, work))
        except InvalidTransition as exc:
            fail(str(exc))
    emit(_applied_payload(applied), json_output=json_output, human=_applied_text(applied))


def _steering_command(verb: str, doc: str) -> None:
    """Register ``bistro rollout <verb>``: the same options for every steering verb."""

    def command(
        flag: OneFlagOption = None,
        reason: ReasonOption = None,
        actor: ActorOption = None,
        database_url: DatabaseUrlOption = None,
        json_output: JsonOption = False,
    ) -> None:
        _operate(verb, flag, reason, actor, database_url, json_output)

    command.__doc__ = doc
    app.command(verb)(command)


for _verb, _doc in (
    ("pause", "Hold the rollout where it is (the flag stays; no more automatic moves)."),
    ("resume", "Run again from the current step (its evidence is judged afresh from now)."),
    ("promote", "The next step now, whatever the evidence (past the last step: completed)."),
    ("stop", "End the rollout; the flag stays where it is."),
):
    _steering_command(_verb, _doc)


@app.command()
def force(
    percentage: Annotated[float, typer.Option("--percentage", min=0, max=100)],
    flag: OneFlagOption = None,
    reason: ReasonOption = None,
    actor: ActorOption = None,
    database_url: DatabaseUrlOption = None,
    json_output: JsonOption = False,
) -> None:
    """Set the percentage now; 0 is the emergency rollback (flag disabled, rollout ended)."""
    _operate("force", flag, reason, actor, database_url, json_output, percentage)


@app.command("run")
def run_controller(
    database_url: DatabaseUrlOption = None,
) -> None:
    """Run the controller on its own (instead of, or beside, `bistro serve`): it takes the
    lease when free, evaluates due rollouts, and releases the lease on SIGTERM or Ctrl-C."""
    from bistro.cli.serve import check_settings
    from bistro.monitoring.notifier import WebhookNotifier
    from bistro.rollout.runtime import RolloutRuntime

    with cli_errors(database_url):
        settings = check_settings(database_url)
        configure_logging(settings.server.log_format, settings.server.log_level)

        async def main() -> None:
            db = Database(settings.database)
            monitoring = settings.monitoring
            notifier = WebhookNotifier(
                monitoring.alert_webhook_url,
                retries=monitoring.alert_webhook_retries,
                timeout=monitoring.alert_webhook_timeout,
            )
            notifier.start()
            instance = f"rollout-run-{socket.gethostname()[:40]}-{os.getpid()}"
            runtime = RolloutRuntime(
                settings.rollout, db, SystemClock(), instance, notify=notifier.notify
            )
            stopping = asyncio.Event()
            loop = asyncio.get_running_loop()
            for sig in (signal.SIGTERM, signal.SIGINT):
                loop.add_signal_handler(sig, stopping.set)
            await runtime.start(background=False)
            stderr().print(f"rollout controller {instance} running (Ctrl-C to stop)")
            try:
                while not stopping.is_set():
                    try:
                        await runtime.tick()
                    except Exception as exc:  # keep going; say why
                        stderr().print(f"round failed: {type(exc).__name__}: {exc}")
                    pause = min(settings.rollout.tick_seconds, settings.rollout.lease_seconds / 3)
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(stopping.wait(), timeout=pause)
            finally:
                await runtime.stop()
                await notifier.stop()
                await db.dispose()

        run(main())
