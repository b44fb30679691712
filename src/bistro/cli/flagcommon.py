"""What ``bistro migration`` and ``bistro flags`` share: one transaction per command, output."""

from __future__ import annotations

import getpass
import os
from collections.abc import Awaitable, Callable
from typing import Annotated, Any, TypeVar

import typer
from rich.console import Console
from rich.table import Table

from bistro.cli.common import EXIT_USAGE, database_settings, ensure_reachable, fail, run
from bistro.core.clock import utcnow
from bistro.core.database import Database
from bistro.core.errors import BistroError
from bistro.migration.env import EnvPinError, EnvPins, load_env_pins
from bistro.migration.operations import audit_view
from bistro.migration.service import Change, FlagService
from bistro.migration.status import flag_view
from bistro.migration.store.repository import FlagRepository

T = TypeVar("T")

ActorOption = Annotated[
    str | None,
    typer.Option(
        "--actor", help="Who is making the change, for the audit log (default: cli:<login name>)."
    ),
]
ReasonOption = Annotated[str | None, typer.Option("--reason", help="Why, for the audit log.")]
FlagOption = Annotated[
    str | None,
    typer.Option("--flag", help="One flag (e.g. api_v4_restaurants); default: every routing flag."),
]


def actor_name(actor: str | None) -> str:
    if actor:
        return actor[:120]
    try:
        who = getpass.getuser()
    except (KeyError, OSError):
        who = "unknown"
    return f"cli:{who}"


def env_pins() -> EnvPins:
    try:
        return load_env_pins(os.environ)
    except EnvPinError as exc:
        fail(str(exc), EXIT_USAGE)


def with_flags(
    database_url: str | None, work: Callable[[FlagService], Awaitable[T]], *, write: bool
) -> T:
    """Run ``work`` in one transaction (committed only when it succeeds); domain errors exit."""
    url = database_settings(database_url).url
    run(ensure_reachable(url))

    async def go() -> T:
        db = Database(database_settings(url))
        try:
            if write:
                async with db.unit_of_work() as session:
                    return await work(FlagService(FlagRepository(session)))
            async with db.sessionmaker() as session:
                return await work(FlagService(FlagRepository(session)))
        finally:
            await db.dispose()

    try:
        return run(go())
    except BistroError as exc:
        fail(exc.message, EXIT_USAGE if exc.status_code in (400, 422) else 1)


def changes_payload(changes: list[Change]) -> dict[str, Any]:
    return {"changed": [{"flag": c.flag.value, "old": c.old, "new": c.new} for c in changes]}


def changes_text(changes: list[Change], done: str) -> str:
    if not changes:
        return "nothing to change: already in that state"
    lines = [done]
    for c in changes:
        if "stage" in c.new or "stage" in c.old:
            lines.append(
                f"  {c.flag.value}: {c.old.get('stage')} {c.old.get('percentage', 0):g}% "
                f"-> {c.new.get('stage')} {c.new.get('percentage', 0):g}%"
            )
        else:
            lines.append(f"  {c.flag.value}: override {c.old or '-'} -> {c.new or 'removed'}")
    return "\n".join(lines)


async def flags_payload(flags: FlagService, pins: EnvPins) -> list[dict[str, Any]]:
    states = await flags.states()
    return [flag_view(state, pins) for state in states.values()]


def flags_table(rows: list[dict[str, Any]]) -> Callable[[Console], None]:
    def render(console: Console) -> None:
        table = Table(title="Migration flags", title_justify="left")
        for column in ("flag", "stage", "%", "source", "overrides"):
            table.add_column(column, no_wrap=True)
        for f in rows:
            source = f["source"]["stage"]
            if f["source"]["percentage"] != source:
                source += f" / % {f['source']['percentage']}"
            table.add_row(
                f["name"], f["stage"], f"{f['percentage']:g}", source, str(f["overrides"])
            )
        console.print(table)

    return render


async def report_payload(flags: FlagService, pins: EnvPins) -> dict[str, Any]:
    history = await flags.history(None, 500)
    return {
        "generated_at": utcnow(),
        "flags": await flags_payload(flags, pins),
        "history": [audit_view(r) for r in history],
    }
