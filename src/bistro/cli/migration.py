"""``bistro migration``: move stable-path traffic from v3 to v4, watch it, roll it back.

Every change is one database transaction with an audit entry; running instances pick it up
within their poll interval (0.25 s by default).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import httpx
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
)
from bistro.cli.flagcommon import (
    ActorOption,
    FlagOption,
    ReasonOption,
    actor_name,
    changes_payload,
    changes_text,
    env_pins,
    flags_payload,
    flags_table,
    report_payload,
    with_flags,
)
from bistro.migration.operations import migration_step
from bistro.migration.service import Change, FlagService
from bistro.migration.smoke import run_endpoint_checks

app = typer.Typer(
    help="The v3 -> v4 migration: stages, rollout, rollback, checks.", no_args_is_help=True
)

BaseUrlOption = Annotated[
    str, typer.Option("--base-url", help="The running service, e.g. http://127.0.0.1:5000.")
]
TokenOption = Annotated[
    str | None,
    typer.Option(
        "--token",
        envvar="BISTRO_ADMIN_TOKEN",
        help="An admin bearer token (else BISTRO_ADMIN_TOKEN).",
    ),
]


def _step(
    step: str,
    flag: str | None,
    percentage: float | None,
    actor: str | None,
    reason: str | None,
    testers: list[str] | None,
    database_url: str | None,
    json_output: bool,
) -> None:
    with cli_errors(database_url):

        async def work(flags: FlagService) -> list[Change]:
            return await migration_step(
                flags,
                step,
                flag=flag,
                percentage=percentage,
                actor=actor_name(actor),
                reason=reason,
                testers=testers,
            )

        changes = with_flags(database_url, work, write=True)
    target = flag or "every routing flag"
    emit(
        changes_payload(changes),
        json_output=json_output,
        human=changes_text(changes, f"{step}: {target}"),
    )


@app.command()
def status(
    base_url: Annotated[
        str | None,
        typer.Option(
            "--base-url", help="Ask a running service instead (adds its live traffic shares)."
        ),
    ] = None,
    token: TokenOption = None,
    window: Annotated[
        str, typer.Option("--window", help="Metrics window: 30s, 5m, 1h (all instances).")
    ] = "5m",
    database_url: DatabaseUrlOption = None,
    json_output: JsonOption = False,
) -> None:
    """Every flag: stage, percentage, which source decided them, overrides; then traffic,
    errors and latency per version and group over the window, and the firing alerts."""
    from bistro.cli.monitoring import monitoring_report, render_report, window_seconds
    from bistro.cli.parity import parity_report
    from bistro.parity.sections import render_parity

    with cli_errors(database_url):
        seconds = window_seconds(window)
        if base_url is not None:
            data = _get_live(base_url, f"/api/v4/migration/status?window={window}", token)
            rows = data["flags"]
        else:
            pins = env_pins()
            rows = with_flags(database_url, lambda f: flags_payload(f, pins), write=False)
            url = database_settings(database_url).url
            data = {
                "flags": rows,
                "stable_path_traffic": (
                    "served shares come from a running service: pass --base-url and --token"
                ),
                **run(monitoring_report(url, seconds)),
                "rollout": {"controller": None, "state": "no rollout controller yet"},
                "parity": run(parity_report(url, seconds)),
            }

    def human(console: Any) -> None:
        flags_table(rows)(console)
        render_report(data)(console)
        parity = data.get("parity")
        if isinstance(parity, dict) and "overall" in parity:
            render_parity(console, parity)

    emit(data, json_output=json_output, human=human)


@app.command()
def testing(
    flag: FlagOption = None,
    tester: Annotated[
        list[str] | None,
        typer.Option("--tester", help="A subject (user id or client id) to pin to v4; repeatable."),
    ] = None,
    reason: ReasonOption = None,
    actor: ActorOption = None,
    database_url: DatabaseUrlOption = None,
    json_output: JsonOption = False,
) -> None:
    """Stage testing: only testers (overrides to v4) get v4."""
    _step("testing", flag, None, actor, reason, tester, database_url, json_output)


@app.command()
def partial(
    percentage: Annotated[str, typer.Option("--percentage", help="0-100 (decimals allowed).")],
    flag: FlagOption = None,
    reason: ReasonOption = None,
    actor: ActorOption = None,
    database_url: DatabaseUrlOption = None,
    json_output: JsonOption = False,
) -> None:
    """Stage partial: a sticky percentage of subjects on v4."""
    from bistro.migration.flags import InvalidFlagValue, parse_percentage

    with cli_errors(database_url):
        try:
            value = parse_percentage(percentage)
        except InvalidFlagValue as exc:
            fail(str(exc), EXIT_USAGE)
    _step("partial", flag, value, actor, reason, None, database_url, json_output)


@app.command()
def full(
    flag: FlagOption = None,
    reason: ReasonOption = None,
    actor: ActorOption = None,
    database_url: DatabaseUrlOption = None,
    json_output: JsonOption = False,
) -> None:
    """Stage full: everyone on v4, v3 kept for instant rollback."""
    _step("full", flag, None, actor, reason, None, database_url, json_output)


@app.command()
def complete(
    flag: FlagOption = None,
    reason: ReasonOption = None,
    actor: ActorOption = None,
    database_url: DatabaseUrlOption = None,
    json_output: JsonOption = False,
) -> None:
    """Stage complete: v4 for good (overrides no longer apply)."""
    _step("complete", flag, None, actor, reason, None, database_url, json_output)


@app.command()
def rollback(
    reason: ReasonOption = None,
    actor: ActorOption = None,
    database_url: DatabaseUrlOption = None,
    json_output: JsonOption = False,
) -> None:
    """Every routing flag to disabled, in one transaction: all stable-path traffic on v3."""
    with cli_errors(database_url):
        changes = with_flags(
            database_url, lambda f: f.rollback(actor_name(actor), reason), write=True
        )
    emit(
        changes_payload(changes),
        json_output=json_output,
        human=changes_text(changes, "rolled back: every routing flag disabled"),
    )


@app.command()
def report(
    output: Annotated[Path, typer.Option("--output", help="File to write (JSON).")],
    database_url: DatabaseUrlOption = None,
    json_output: JsonOption = False,
) -> None:
    """Write flags, sources and the audit history to a JSON file."""
    with cli_errors(database_url):
        pins = env_pins()
        data = with_flags(database_url, lambda f: report_payload(f, pins), write=False)
        try:
            output.write_bytes(orjson.dumps(data, option=orjson.OPT_INDENT_2))
        except OSError as exc:
            fail(f"cannot write {output}: {exc.strerror or exc}")
    summary = {
        "output": str(output),
        "flags": len(data["flags"]),
        "history_entries": len(data["history"]),
    }
    emit(
        summary,
        json_output=json_output,
        human=f"report written to {output} ({len(data['history'])} audit entries)",
    )


@app.command("test")
def endpoint_test(
    base_url: BaseUrlOption = "http://127.0.0.1:5000",
    token: TokenOption = None,
    timeout: Annotated[float, typer.Option(help="Seconds per request.")] = 10.0,
    json_output: JsonOption = False,
) -> None:
    """Call every v4 endpoint of the running service; pass/fail per endpoint."""
    import asyncio

    async def go() -> list[Any]:
        async with httpx.AsyncClient(base_url=base_url, timeout=timeout) as client:
            return await run_endpoint_checks(client, admin_token=token)

    with cli_errors():
        results = asyncio.run(go())
        if all(r.status is None for r in results if r.outcome == "fail") and not any(
            r.outcome == "pass" for r in results
        ):
            fail(f"cannot reach the service at {base_url}: {results[0].detail}")
    failed = [r for r in results if r.outcome == "fail"]

    def human(console: Any) -> None:
        for r in results:
            mark = {"pass": "[green]PASS[/]", "fail": "[red]FAIL[/]", "skip": "[yellow]SKIP[/]"}
            console.print(
                f"{mark[r.outcome]} {r.endpoint:<40} {r.status or '-':>4} "
                f"{r.ms:>8.1f} ms  {r.detail if r.outcome != 'pass' else ''}"
            )
        console.print(f"{len(results) - len(failed)} of {len(results)} checks passed")

    emit(
        {"passed": not failed, "results": [r.as_dict() for r in results]},
        json_output=json_output,
        human=human,
    )
    if failed:
        fail(f"{len(failed)} of {len(results)} v4 endpoint checks failed")


def _get_live(base_url: str, path: str, token: str | None) -> dict[str, Any]:
    if not token:
        fail(
            "--token (or BISTRO_ADMIN_TOKEN) is needed to read a running service's status",
            EXIT_USAGE,
        )
    try:
        response = httpx.get(
            base_url.rstrip("/") + path, timeout=10, headers={"Authorization": f"Bearer {token}"}
        )
    except httpx.HTTPError as exc:
        fail(f"cannot reach the service at {base_url}: {exc}")
    body = (
        response.json()
        if response.headers.get("content-type", "").startswith("application/json")
        else {}
    )
    if response.status_code != 200:
        reason = body.get("error", response.text[:200])
        fail(f"{base_url} answered {response.status_code}: {reason}")
    data: dict[str, Any] = body["data"]
    return data
