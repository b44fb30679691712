"""The ``bistro`` command. Each command group lives in its own module and is registered here."""

from __future__ import annotations

import typer

from bistro.cli import (
    db,
    drill,
    flags,
    migration,
    monitoring,
    parity,
    perf,
    rollout,
    seed,
    serve,
    users,
)

app = typer.Typer(
    name="bistro",
    help="Bistro: the restaurant-review API and its v3 -> v4 migration control plane.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)

app.command("serve")(serve.serve)
app.command("seed")(seed.seed)
app.add_typer(db.app, name="db")
app.add_typer(users.app, name="users")
app.add_typer(monitoring.app, name="monitoring")
app.add_typer(migration.app, name="migration")
app.add_typer(flags.app, name="flags")
app.add_typer(parity.app, name="parity")
app.add_typer(perf.app, name="perf")
app.add_typer(rollout.app, name="rollout")
app.command("drill")(drill.drill)


if __name__ == "__main__":
    app()
