"""``bistro monitoring``: traffic, latency and alerts per API version, from the shared store."""

from __future__ import annotations

from collections.abc import Callable
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
        seconds = window_seconds(window)
        url = database_settings(database_url).url
        run(ensure_reachable(url))
        report = run(monitoring_report(url, seconds))

    emit(report, json_output=json_output, human=render_report(report))


def window_seconds(window: str) -> int:
    try:
        return parse_window(window)
    except ValidationFailed as exc:
        fail(f"invalid --window: {exc.message}", EXIT_USAGE)


def render_report(report: dict[str, Any]) -> Callable[[Console], None]:
    """Metrics and alerts sections (skipped when absent or when a section failed)."""

    def render(console: Console) -> None:
        metrics, alerts = report.get("metrics"), report.get("alerts")
        if isinstance(metrics, dict) and "versions" in metrics:
            render_metrics(console, metrics)
        if isinstance(alerts, dict) and "active" in alerts:
            render_alerts(console, alerts)

    return render


async def monitoring_report(url: str, seconds: int) -> dict[str, Any]:
    """The metrics and alerts status sections, read from the database at ``url``."""
    db = Database(database_settings(url))
    try:
        async with db.unit_of_work() as session:
            return {
                "metrics": await metrics_section(session, SystemClock(), seconds),
                "alerts": await alerts_section(session),
            }
    finally:
        await db.dispose()
