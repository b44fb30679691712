"""What every ``bistro`` command group shares: options, output, progress and one-line errors.

A command group module (``cli/serve.py``, ``cli/db.py``, ...) builds its own ``typer.Typer`` and
is registered in ``cli/main.py``. Inside a command, wrap the work in ``with cli_errors(url):`` so
that every failure becomes ``error: <one line>`` on stderr and a non-zero exit code, never a
traceback (set ``BISTRO_DEBUG=1`` to see the traceback while developing).
"""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import Callable, Coroutine, Iterator
from contextlib import contextmanager
from typing import Annotated, Any, NoReturn, TypeVar

import orjson
import typer
from pydantic import ValidationError
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.table import Table
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, DBAPIError, SQLAlchemyError

from bistro.core.settings import DatabaseSettings

T = TypeVar("T")

# Exit codes: 1 = the operation failed, 2 = bad usage or input (click's own convention).
EXIT_FAILURE = 1
EXIT_USAGE = 2

JsonOption = Annotated[
    bool, typer.Option("--json", help="Print one JSON document on stdout instead of text.")
]
DatabaseUrlOption = Annotated[
    str | None,
    typer.Option(
        "--database-url",
        help="Database URL (postgresql://... or sqlite:///...); default: BISTRO_DATABASE_URL.",
        show_default=False,
    ),
]


class CLIError(Exception):
    """A failure the operator can act on; rendered as one line, exit code ``exit_code``."""

    def __init__(self, message: str, exit_code: int = EXIT_FAILURE) -> None:
        super().__init__(message)
        self.message = message
        self.exit_code = exit_code


def fail(message: str, exit_code: int = EXIT_FAILURE) -> NoReturn:
    raise CLIError(message, exit_code)


def stdout() -> Console:
    # Built per call: CliRunner swaps sys.stdout per invocation.
    return Console(file=sys.stdout, soft_wrap=True)


def stderr() -> Console:
    return Console(file=sys.stderr, soft_wrap=True)


def emit(data: Any, *, json_output: bool, human: Callable[[Console], None] | str) -> None:
    """Print ``data`` as JSON (``--json``) or the human rendering."""
    if json_output:
        sys.stdout.write(orjson.dumps(data, option=orjson.OPT_INDENT_2).decode() + "\n")
        sys.stdout.flush()
        return
    console = stdout()
    if isinstance(human, str):
        console.print(human, highlight=False)
    else:
        human(console)


def key_value_table(title: str, rows: dict[str, Any]) -> Callable[[Console], None]:
    """A human rendering of a flat mapping, for ``emit(..., human=...)``."""

    def render(console: Console) -> None:
        table = Table(title=title, show_header=False, title_justify="left")
        table.add_column(style="bold")
        table.add_column()
        for key, value in rows.items():
            table.add_row(key, str(value))
        console.print(table)

    return render


def progress(*, enabled: bool = True) -> Progress:
    """A progress bar on stderr (so ``--json`` stdout stays clean); hidden when disabled."""
    return Progress(
        TextColumn("{task.description:<12}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=stderr(),
        disable=not enabled,
        transient=False,
    )


def safe_url(url: str) -> str:
    """The URL with its password hidden, for messages."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return "<unparseable URL>"


def database_settings(url: str | None) -> DatabaseSettings:
    """Validated database settings from ``--database-url`` or the environment."""
    try:
        settings = DatabaseSettings(url=url) if url is not None else DatabaseSettings()
    except ValidationError as exc:
        fail(f"invalid database URL: {_first_validation_message(exc)}", EXIT_USAGE)
    try:
        make_url(settings.url)
    except ArgumentError as exc:
        fail(f"invalid database URL: {exc}", EXIT_USAGE)
    return settings


def _first_validation_message(exc: ValidationError) -> str:
    err = exc.errors()[0]
    where = ".".join(str(part) for part in err.get("loc", ())) or "value"
    return f"{where}: {err.get('msg', 'invalid')}".replace("Value error, ", "")


def root_cause(exc: BaseException) -> str:
    """The innermost, most specific reason for a failure, on one line."""
    cause: BaseException = exc
    if isinstance(cause, DBAPIError) and cause.orig is not None:
        cause = cause.orig
    while cause.__cause__ is not None and not str(cause).strip():
        cause = cause.__cause__
    message = str(cause).strip() or type(cause).__name__
    return " ".join(message.split())


async def ensure_reachable(url: str) -> None:
    """Open one connection and run ``SELECT 1``; a failure says where and why, on one line."""
    from sqlalchemy.ext.asyncio import create_async_engine

    engine = create_async_engine(url)
    try:
        async with engine.connect() as conn:
            await conn.execute(text("SELECT 1"))
    except Exception as exc:  # OSError, SQLAlchemy's and asyncpg's own classes alike
        # aiosqlite answers a failed open from its worker thread a moment later: let it land
        # before the event loop closes, or the thread reports "Event loop is closed".
        await asyncio.sleep(0.05)
        fail(f"cannot reach the database at {safe_url(url)}: {root_cause(exc)}")
    finally:
        await engine.dispose()


def run(coro: Coroutine[Any, Any, T]) -> T:
    return asyncio.run(coro)


@contextmanager
def cli_errors(database_url: str | None = None) -> Iterator[None]:
    """Turn any failure inside the block into ``error: ...`` and a non-zero exit."""
    try:
        yield
    except (typer.Exit, typer.Abort, KeyboardInterrupt):
        raise
    except CLIError as exc:
        _exit(exc.message, exc.exit_code)
    except Exception as exc:
        if os.environ.get("BISTRO_DEBUG"):
            raise
        where = f" (database {safe_url(database_url)})" if database_url else ""
        if isinstance(exc, SQLAlchemyError):
            _exit(f"database error{where}: {root_cause(exc)}", EXIT_FAILURE)
        _exit(f"{type(exc).__name__}{where}: {root_cause(exc)}", EXIT_FAILURE)


def _exit(message: str, code: int) -> NoReturn:
    line = " ".join(message.split())
    print(f"error: {line}", file=sys.stderr)
    raise typer.Exit(code)
