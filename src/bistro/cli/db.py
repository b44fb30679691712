"""``bistro db``: schema migrations (Alembic)."""

from __future__ import annotations

import typer

from bistro.cli.common import (
    DatabaseUrlOption,
    JsonOption,
    cli_errors,
    database_settings,
    emit,
    ensure_reachable,
    run,
    safe_url,
)
from bistro.core import migrate

app = typer.Typer(help="Database schema: migrate with Alembic.", no_args_is_help=True)


@app.command("upgrade")
def upgrade(
    database_url: DatabaseUrlOption = None,
    revision: str = typer.Option("heads", help="Target revision (default: every head)."),
    json_output: JsonOption = False,
) -> None:
    """Bring the database schema up to date (idempotent)."""
    with cli_errors():
        url = database_settings(database_url).url
        run(ensure_reachable(url))
        before = migrate.current(url)
        migrate.upgrade(url, revision)
        after = migrate.current(url)
    emit(
        {"database": safe_url(url), "from": sorted(before), "to": sorted(after)},
        json_output=json_output,
        human=(
            f"database {safe_url(url)} is at {', '.join(sorted(after)) or 'base'}"
            + (
                ""
                if sorted(before) == sorted(after)
                else f" (was {', '.join(sorted(before)) or 'empty'})"
            )
        ),
    )


@app.command("current")
def current(database_url: DatabaseUrlOption = None, json_output: JsonOption = False) -> None:
    """Show the schema revision the database is at."""
    with cli_errors():
        url = database_settings(database_url).url
        run(ensure_reachable(url))
        heads = sorted(migrate.current(url))
    emit(
        {"database": safe_url(url), "revisions": heads},
        json_output=json_output,
        human=f"database {safe_url(url)} is at {', '.join(heads) or 'base (no schema)'}",
    )
