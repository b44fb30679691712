"""The parity part of a status report (``migration status``, the dashboard), from the store."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from rich.console import Console
from rich.table import Table
from sqlalchemy.ext.asyncio import AsyncSession

from bistro.core.clock import Clock
from bistro.migration.status import STATUS_SECTIONS, StatusContext
from bistro.monitoring.sections import status_window
from bistro.parity.known import KNOWN_DIFFERENCES
from bistro.parity.models import COUNTERS
from bistro.parity.repository import ParityRepository

EXAMPLES_SHOWN = 5


async def parity_section(
    session: AsyncSession, clock: Clock, seconds: int, examples: int = EXAMPLES_SHOWN
) -> dict[str, Any]:
    """Shadow comparison counters per endpoint group over the last ``seconds`` (every
    instance), their mismatch rates, the newest mismatch examples and the noise in use."""
    until = clock.now() + timedelta(microseconds=1)
    since = until - timedelta(seconds=seconds)
    repo = ParityRepository(session)
    groups = await repo.totals(since, until)
    overall = dict.fromkeys(COUNTERS, 0)
    for counts in groups.values():
        for name in COUNTERS:
            overall[name] += counts[name]

    def with_rate(counts: dict[str, int]) -> dict[str, Any]:
        compared = counts["compared"]
        rate = round(counts["mismatched"] / compared, 6) if compared else None
        return {**counts, "mismatch_rate": rate}

    return {
        "window_seconds": seconds,
        "overall": with_rate(overall),
        "groups": {group: with_rate(counts) for group, counts in sorted(groups.items())},
        "examples": [
            {
                "at": e.at,
                "group": e.grp,
                "endpoint": e.endpoint,
                "path": e.path,
                "query": e.query,
                "served": e.served,
                "status": {"v3": e.status_v3, "v4": e.status_v4},
                "differences": e.differences,
            }
            for e in await repo.examples(examples)
        ],
        "noise_paths": await repo.noise(),
        "known_differences": [rule.name for rule in KNOWN_DIFFERENCES],
    }


def render_parity(console: Console, parity: dict[str, Any]) -> None:
    overall = parity["overall"]
    if not overall["compared"] and not overall["dropped"] and not overall["errors"]:
        console.print(
            f"Parity (shadow, last {parity['window_seconds']} s): no comparisons", highlight=False
        )
        return
    table = Table(
        title=f"Parity (shadow), last {parity['window_seconds']} s, all instances",
        title_justify="left",
        box=None,
        padding=(0, 1),
    )
    table.add_column("group")
    for name in (*COUNTERS, "rate"):
        table.add_column(name, justify="right")
    for group, counts in [*parity["groups"].items(), ("all", overall)]:
        rate = counts["mismatch_rate"]
        table.add_row(
            group,
            *(str(counts[name]) for name in COUNTERS),
            "-" if rate is None else f"{rate:.2%}",
        )
    console.print(table)
    for example in parity["examples"][:3]:
        first = example["differences"][0] if example["differences"] else {}
        console.print(
            f"  mismatch {example['endpoint']} ({example['path']}?{example['query']}): "
            f"{first.get('path')} v3 {first.get('v3')!r} v4 {first.get('v4')!r}",
            highlight=False,
        )


async def parity_status_section(ctx: StatusContext) -> dict[str, Any]:
    state = ctx.extras["app_state"]
    seconds = status_window(ctx)
    if ctx.session is not None:
        return await parity_section(ctx.session, state.clock, seconds)
    async with state.db.unit_of_work() as session:
        return await parity_section(session, state.clock, seconds)


def register_status_section() -> None:
    if "parity" not in {name for name, _ in STATUS_SECTIONS}:
        STATUS_SECTIONS.append(("parity", parity_status_section))
