"""The rollout part of ``migration status`` (HTTP and CLI) and its human rendering."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from rich.console import Console
from rich.table import Table

from bistro.migration.status import StatusContext
from bistro.rollout.service import status_payload


async def rollout_status_section(ctx: StatusContext) -> dict[str, Any]:
    state = ctx.extras["app_state"]
    now = state.clock.now()
    if ctx.session is not None:
        return await status_payload(ctx.session, now, decisions=5)
    async with state.db.sessionmaker() as session:
        return await status_payload(session, now, decisions=5)


def _when(value: Any) -> str:
    if isinstance(value, datetime):
        return f"{value:%Y-%m-%d %H:%M:%S}Z"
    return "-" if value is None else str(value)


def render_rollout(console: Console, data: dict[str, Any]) -> None:
    if "error" in data:
        console.print(f"Rollout: unavailable ({data['error']})", highlight=False)
        return
    controller = data.get("controller")
    holder = controller["instance"] if controller else "nobody (no instance holds the lease)"
    console.print(f"Rollout controller: {holder}", highlight=False)
    if not data["rollouts"]:
        console.print("Rollouts: none started (bistro rollout start)", highlight=False)
        return
    table = Table(title="Rollouts", title_justify="left", box=None, padding=(0, 1))
    for column in ("flag", "state", "%", "step", "last verdict", "next", "why"):
        table.add_column(column, no_wrap=column not in ("next", "why"))
    for r in data["rollouts"]:
        step = r["step"]
        nxt = r["next"]
        table.add_row(
            r["flag"],
            r["state"] + (" (dry run)" if r["dry_run"] else ""),
            f"{r['percentage']:g}",
            f"{step['index'] + 1}/{step['of']}",
            r["last_verdict"] or "-",
            f"{nxt['action']} at {_when(nxt['at'])}" if nxt["at"] else nxt["action"],
            r["last_reason"] or "",
        )
    console.print(table)
    if data["decisions"]:
        recent = Table(title="Last decisions", title_justify="left", box=None, padding=(0, 1))
        for column in ("at", "flag", "action", "verdict", "%", "actor", "reason"):
            recent.add_column(column, no_wrap=column not in ("reason",))
        for d in data["decisions"]:
            recent.add_row(
                _when(d["at"]),
                d["flag"],
                d["action"],
                d["verdict"] or "",
                f"{d['from_percentage']:g} -> {d['to_percentage']:g}",
                d["actor"],
                d["reason"],
            )
        console.print(recent)
