"""``bistro flags``: the flags themselves: list, set, per-subject overrides, audit history."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from bistro.cli.common import EXIT_USAGE, DatabaseUrlOption, JsonOption, cli_errors, emit, fail
from bistro.cli.flagcommon import (
    ActorOption,
    ReasonOption,
    actor_name,
    changes_payload,
    changes_text,
    env_pins,
    flags_payload,
    flags_table,
    with_flags,
)
from bistro.migration.flags import InvalidFlagValue, parse_flag, parse_stage, parse_version
from bistro.migration.operations import audit_view
from bistro.migration.service import Change, FlagService

app = typer.Typer(help="Feature flags: list, set, override, history.", no_args_is_help=True)

NameArg = Annotated[str, typer.Argument(help="Flag name, e.g. api_v4_restaurants.")]


def _parse(fn: Any, value: str) -> Any:
    try:
        return fn(value)
    except InvalidFlagValue as exc:
        fail(str(exc), EXIT_USAGE)


@app.command("list")
def list_flags(database_url: DatabaseUrlOption = None, json_output: JsonOption = False) -> None:
    """Every flag with its stage, percentage, source and override count."""
    with cli_errors(database_url):
        pins = env_pins()
        rows = with_flags(database_url, lambda f: flags_payload(f, pins), write=False)
    emit(rows, json_output=json_output, human=flags_table(rows))


@app.command("set")
def set_flag(
    name: NameArg,
    stage: Annotated[
        str | None, typer.Option("--stage", help="disabled|testing|partial|full|complete")
    ] = None,
    percentage: Annotated[
        str | None, typer.Option("--percentage", help="0-100; alone it means stage partial.")
    ] = None,
    reason: ReasonOption = None,
    actor: ActorOption = None,
    database_url: DatabaseUrlOption = None,
    json_output: JsonOption = False,
) -> None:
    """Set a flag's stage and/or rollout percentage."""
    with cli_errors(database_url):
        flag = _parse(parse_flag, name)
        target = _parse(parse_stage, stage) if stage is not None else None

        async def work(flags: FlagService) -> list[Change]:
            return await flags.set_flags(
                [flag], stage=target, percentage=percentage, actor=actor_name(actor), reason=reason
            )

        changes = with_flags(database_url, work, write=True)
    emit(
        changes_payload(changes),
        json_output=json_output,
        human=changes_text(changes, f"{flag.value} updated"),
    )


@app.command()
def override(
    name: NameArg,
    subject: Annotated[str, typer.Argument(help="A user id or client id.")],
    version: Annotated[str | None, typer.Option("--version", help="v3 or v4")] = None,
    remove: Annotated[bool, typer.Option("--remove", help="Drop the override.")] = False,
    reason: ReasonOption = None,
    actor: ActorOption = None,
    database_url: DatabaseUrlOption = None,
    json_output: JsonOption = False,
) -> None:
    """Pin one subject to v3 or v4 for a flag (testers are overrides to v4), or --remove it."""
    with cli_errors(database_url):
        flag = _parse(parse_flag, name)
        if remove == (version is not None):
            fail("give exactly one of --version v3|v4 and --remove", EXIT_USAGE)
        pinned = _parse(parse_version, version) if version is not None else None

        async def work(flags: FlagService) -> list[Change]:
            who = actor_name(actor)
            if pinned is None:
                return [await flags.remove_override(flag, subject, who, reason)]
            change = await flags.set_override(flag, subject, pinned, who, reason)
            return [change] if change else []

        changes = with_flags(database_url, work, write=True)
    emit(
        changes_payload(changes),
        json_output=json_output,
        human=changes_text(
            changes,
            f"{flag.value}: override of {subject} "
            f"{'removed' if remove else 'set to ' + str(version)}",
        ),
    )


@app.command()
def history(
    name: Annotated[str | None, typer.Argument(help="Only this flag.")] = None,
    limit: Annotated[int, typer.Option(min=1, max=1000, help="Newest entries to show.")] = 50,
    database_url: DatabaseUrlOption = None,
    json_output: JsonOption = False,
) -> None:
    """The audit log: who changed what, when, from what to what, and why."""
    with cli_errors(database_url):
        flag = _parse(parse_flag, name) if name else None

        async def work(flags: FlagService) -> list[dict[str, Any]]:
            return [audit_view(r) for r in await flags.history(flag, limit)]

        rows = with_flags(database_url, work, write=False)

    def human(console: Any) -> None:
        if not rows:
            console.print("no changes recorded")
        for r in rows:
            console.print(
                f"{r['at']:%Y-%m-%d %H:%M:%S}  {r['flag']:<22} {r['action']:<16} "
                f"{r['old']} -> {r['new']}  by {r['actor']}"
                + (f"  ({r['reason']})" if r["reason"] else ""),
                highlight=False,
            )

    emit(rows, json_output=json_output, human=human)
