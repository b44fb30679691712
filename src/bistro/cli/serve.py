"""``bistro serve``: run the API under uvicorn (uvloop + httptools)."""

from __future__ import annotations

import os

import typer
from pydantic import ValidationError
from pydantic_settings import BaseSettings

from bistro.cli.common import EXIT_USAGE, cli_errors, ensure_reachable, fail, run
from bistro.cli.flagcommon import env_pins
from bistro.core.cache import multiworker_problem
from bistro.core.settings import DatabaseSettings, Settings

APP_FACTORY = "bistro.app:create_app"


def check_settings(database_url: str | None = None) -> Settings:
    """Build every settings section now, so a bad BISTRO_* value stops start-up with its name."""
    try:
        if database_url is None:
            return Settings()
        return Settings(database=DatabaseSettings(url=database_url))
    except ValidationError as exc:
        err = exc.errors()[0]
        field = str(err.get("loc", ("?",))[0])
        message = str(err.get("msg", "invalid")).replace("Value error, ", "")
        fail(f"invalid setting {setting_variable(exc.title, field)}: {message}", EXIT_USAGE)


def setting_variable(section: str, field: str) -> str:
    """The environment variable behind ``section.field`` (e.g. BISTRO_DATABASE_URL)."""
    pending: list[type[BaseSettings]] = [BaseSettings]
    while pending:
        cls = pending.pop()
        if cls.__name__ == section:
            info = cls.model_fields.get(field)
            alias = info.validation_alias if info is not None else None
            if isinstance(alias, str):
                return alias
            return f"{cls.model_config.get('env_prefix', '')}{field}".upper()
        pending.extend(cls.__subclasses__())
    return f"{section}.{field}"


def serve(
    host: str = typer.Option(None, help="Interface to bind (default BISTRO_HOST or 127.0.0.1)."),
    port: int = typer.Option(None, min=0, max=65535, help="Port (default BISTRO_PORT or 5000)."),
    workers: int = typer.Option(
        None, min=1, max=64, help="Worker processes (default BISTRO_WORKERS or 1)."
    ),
    reload: bool = typer.Option(False, "--reload/--no-reload", help="Restart on code changes."),
    access_log: bool = typer.Option(
        False,
        "--access-log/--no-access-log",
        help="uvicorn's own access log (the app logs requests).",
    ),
    database_url: str = typer.Option(
        None, "--database-url", help="Overrides BISTRO_DATABASE_URL for every worker."
    ),
) -> None:
    """Serve the API (the app factory ``bistro.app:create_app``)."""
    import uvicorn

    with cli_errors():
        settings = check_settings(database_url)
        env_pins()  # a bad API_V4_* value stops start-up here, naming the variable
        host = host or settings.server.host
        port = settings.server.port if port is None else port
        workers = workers or settings.server.workers
        if reload and workers > 1:
            fail("--reload runs one process; it cannot be combined with --workers > 1", EXIT_USAGE)
        problem = multiworker_problem(settings.cache, workers)
        if problem is not None:
            fail(problem, EXIT_USAGE)
        if settings.server.demo:
            # Once here, before the workers start, so they do not race to migrate and seed.
            run(ensure_reachable(settings.database.url))
            run(_demo_bootstrap(settings))
    if workers > 1:
        from bistro.monitoring.prom import prepare_multiprocess

        # /metrics of any worker then merges every worker's counters.
        prepare_multiprocess(workers)
    if database_url is not None:
        # Workers are separate processes: they read their settings from the environment.
        os.environ["BISTRO_DATABASE_URL"] = settings.database.url
    uvicorn.run(
        APP_FACTORY,
        factory=True,
        host=host,
        port=port,
        workers=workers if workers > 1 else None,
        # uvicorn restarts a worker that has not answered its health check in time; importing
        # the app can take longer than uvicorn's 5 s on a busy machine, so be patient.
        timeout_worker_healthcheck=60,
        reload=reload,
        loop="uvloop",
        http="httptools",
        access_log=access_log,
        log_level=settings.server.log_level,
        proxy_headers=False,
        server_header=False,
    )


async def _demo_bootstrap(settings: Settings) -> None:
    from bistro.core.database import Database
    from bistro.core.logging import configure_logging
    from bistro.core.security import PasswordHashing
    from bistro.core.state import AppState
    from bistro.seed.demo import bootstrap_demo

    configure_logging(settings.server.log_format, settings.server.log_level)
    db = Database(settings.database)
    try:
        await bootstrap_demo(
            AppState(settings=settings, db=db, hashing=PasswordHashing(settings.auth))
        )
    finally:
        await db.dispose()
