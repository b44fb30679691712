"""``bistro users``: account administration from the shell."""

from __future__ import annotations

import typer
from pydantic import ValidationError

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
from bistro.core.database import Database
from bistro.core.errors import Conflict
from bistro.core.security import PasswordHashing
from bistro.core.settings import AuthSettings
from bistro.users.bootstrap import AdminResult, ensure_admin
from bistro.users.schemas import RegisterIn

app = typer.Typer(help="User accounts.", no_args_is_help=True)


@app.command("create-admin")
def create_admin(
    email: str = typer.Option(..., help="The admin's email (sign-in name)."),
    display_name: str = typer.Option("Administrator", help="Name shown in the API."),
    password: str = typer.Option(
        ...,
        envvar="BISTRO_ADMIN_PASSWORD",
        prompt=True,
        hide_input=True,
        confirmation_prompt=True,
        help="Password (8-128 characters); else BISTRO_ADMIN_PASSWORD, else a prompt.",
        show_default=False,
    ),
    promote: bool = typer.Option(
        False, help="If the email already has an account, make it an admin instead of failing."
    ),
    database_url: DatabaseUrlOption = None,
    json_output: JsonOption = False,
) -> None:
    """Create the first (or another) admin account."""
    with cli_errors():
        try:
            valid = RegisterIn(email=email, password=password, display_name=display_name)
        except ValidationError as exc:
            err = exc.errors()[0]
            field = ".".join(str(part) for part in err.get("loc", ()))
            fail(f"invalid {field.replace('_', '-')}: {err['msg']}", EXIT_USAGE)
        url = database_settings(database_url).url
        run(ensure_reachable(url))
        result = run(_create(url, valid, promote))
    emit(
        {
            "id": result.id,
            "email": result.email,
            "display_name": result.display_name,
            "role": "admin",
            "action": result.action,
        },
        json_output=json_output,
        human=f"admin {result.email} (id {result.id}) {result.action}",
    )


async def _create(url: str, valid: RegisterIn, promote: bool) -> AdminResult:
    db = Database(database_settings(url))
    try:
        return await ensure_admin(
            db,
            PasswordHashing(AuthSettings()),
            valid.email,
            valid.password,
            valid.display_name,
            promote=promote,
        )
    except Conflict as exc:
        fail(f"{exc.message}; pass --promote to make it an admin")
    finally:
        await db.dispose()
