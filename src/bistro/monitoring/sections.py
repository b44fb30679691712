"""The monitoring parts of a status report, for the HTTP status view and the CLI alike.

``metrics_section`` and ``alerts_section`` read only the shared store (every instance's
flushed buckets), so they need no running app: the CLI calls them with its own session.
``render_metrics`` and ``render_alerts`` are their human renderings (rich).
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any, Protocol

from rich.console import Console
from rich.table import Table
from sqlalchemy.ext.asyncio import AsyncSession

from bistro.core.clock import Clock
from bistro.monitoring.repository import AlertRepository, MetricsRepository
from bistro.monitoring.stats import parse_window, window_summary


async def metrics_section(session: AsyncSession, clock: Clock, seconds: int) -> dict[str, Any]:
    """Per version and group over the last ``seconds``, every instance merged."""
    until = clock.now() + timedelta(microseconds=1)
    since = until - timedelta(seconds=seconds)
    repo = MetricsRepository(session)
    return window_summary(
        await repo.request_rows(since, until),
        await repo.cache_rows(since, until),
        seconds,
        since,
        until,
    )


async def alerts_section(session: AsyncSession, history: int = 20) -> dict[str, Any]:
    repo = AlertRepository(session)
    active = [
        {
            "key": r.key,
            "rule": r.rule,
            "subject": r.subject,
            "value": r.value,
            "threshold": r.threshold,
            "message": r.message,
            "since": r.since,
        }
        for r in await repo.firing()
    ]
    recent = [
        {
            "key": r.key,
            "rule": r.rule,
            "subject": r.subject,
            "state": r.state,
            "value": r.value,
            "threshold": r.threshold,
            "message": r.message,
            "at": r.at,
        }
        for r in await repo.history(history)
    ]
    return {"active": active, "recent": recent}


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}"


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{value * 100:.2f}%"


def render_metrics(console: Console, metrics: dict[str, Any]) -> None:
    table = Table(
        title=f"Last {metrics['window_seconds']} s, all instances (latency in ms)",
        title_justify="left",
        box=None,
        padding=(0, 1),
    )
    for column in ("ver", "group", "req", "rps", "5xx", "avg", "p50", "p95", "p99", "cache"):
        table.add_column(
            column, justify="left" if column in ("ver", "group") else "right", no_wrap=True
        )
    for version, entry in metrics["versions"].items():
        for group, data in [("all", entry), *entry["groups"].items()]:
            latency = data["latency_ms"]
            table.add_row(
                version,
                group,
                str(data["requests"]),
                f"{data['rps']:.2f}",
                _pct(data["error_rate"]),
                _ms(latency["avg"]),
                _ms(latency["p50"]),
                _ms(latency["p95"]),
                _ms(latency["p99"]),
                _pct(entry.get("cache_hit_rate")) if group == "all" else "",
            )
    console.print(table)


def render_alerts(console: Console, alerts: dict[str, Any]) -> None:
    if not alerts["active"]:
        console.print("Alerts: none firing", highlight=False)
    for alert in alerts["active"]:
        console.print(
            f"[bold red]FIRING[/] {alert['rule']} ({alert['subject']}): "
            f"{alert['message']} since {alert['since']:%Y-%m-%d %H:%M:%S}Z"
        )


# -- the migration status view (``GET /api/v4/migration/status``, ``bistro migration status``)
# The status is composed in the app's wiring (``bistro.app``) from the migration feature's
# sections and these: monitoring knows only the shape of the context a section is given.

DEFAULT_WINDOW = "5m"


class StatusContext(Protocol):
    """What a status section is given (``bistro.migration.status.StatusContext`` has it)."""

    @property
    def session(self) -> AsyncSession | None: ...

    @property
    def extras(self) -> dict[str, Any]: ...


def status_window(ctx: StatusContext) -> int:
    query = ctx.extras.get("query") or {}
    return parse_window(str(query.get("window", DEFAULT_WINDOW)))


async def _with_session(ctx: StatusContext, state: Any, work: Any) -> Any:
    if ctx.session is not None:
        return await work(ctx.session)
    async with state.db.unit_of_work() as session:
        return await work(session)


async def metrics_status_section(ctx: StatusContext) -> dict[str, Any]:
    state = ctx.extras["app_state"]
    seconds = status_window(ctx)
    return await _with_session(
        ctx, state, lambda session: metrics_section(session, state.clock, seconds)
    )


async def alerts_status_section(ctx: StatusContext) -> dict[str, Any]:
    state = ctx.extras["app_state"]
    return await _with_session(ctx, state, alerts_section)


# The monitoring feature's sections of the migration status, in the order they are shown.
STATUS_SECTIONS = (
    ("metrics", metrics_status_section),
    ("alerts", alerts_status_section),
)
