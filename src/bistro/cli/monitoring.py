"""``bistro monitoring``: traffic, latency and alerts per API version, from the shared store."""

from __future__ import annotations

from typing import Any

import typer
from rich.console import Console

from bistro.cli.common import (
    EXIT_USAGE,
    DatabaseUrlOption,
    JsonOption,
    cli_errors,
    database_settings,
    emit,
    ensure_reachable,
    fail,
    run,
)
from bistro.core.clock import SystemClock
from bistro.core.database import Database
from bistro.core.errors import ValidationFailed
from bistro.monitoring.sections import (
    alerts_section,
    metrics_section,
    render_alerts,
    render_metrics,
)
from bistro.monitoring.stats import parse_window

app = typer.Typer(help="Per-version metrics and alerts (all instances).", no_args_is_help=True)


@app.command("status")
def status(
    window: str = typer.Option("5m", help="How far back: 30s, 5m, 2h, 1d."),
    database_url: DatabaseUrlOption = None,
    json_output: JsonOption = False,
) -> None:
    """Requests, rps, error rates, latency percentiles and cache hit rate per version and
    endpoint group over the window, and the firing alerts."""
    with cli_errors():
        try:
            seconds = parse_window(window)
        except ValidationFailed as exc:
            fail(f"invalid --window: {exc.message}", EXIT_USAGE)
        url = database_settings(database_url).url
        run(ensure_reachable(url))
        report = run(_report(url, seconds))

    def human(console: Console) -> None:
        render_metrics(console, report["metrics"])
        render_alerts(console, report["alerts"])

    emit(report, json_output=json_output, human=human)


async def _report(url: str, seconds: int) -> dict[str, Any]:
    db = Database(database_settings(url))
    try:
        async with db.unit_of_work() as session:
            return {
                "metrics": await metrics_section(session, SystemClock(), seconds),
                "alerts": await alerts_section(session),
            }
    finally:
        await db.dispose()
