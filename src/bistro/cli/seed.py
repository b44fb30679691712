"""``bistro seed``: fill the database with deterministic demo data."""

from __future__ import annotations

import sys

import typer

from bistro.cli.common import (
    EXIT_USAGE,
    DatabaseUrlOption,
    JsonOption,
    cli_errors,
    database_settings,
    emit,
    ensure_reachable,
    fail,
    key_value_table,
    progress,
    run,
    safe_url,
)
from bistro.core.database import create_engine
from bistro.core.settings import DatabaseSettings
from bistro.seed import SeedError, SeedPlan, SeedReport, default_users, seed_database
from bistro.seed.generate import SEED_USER_PASSWORD


def seed(
    restaurants: int = typer.Option(1_000, min=0, help="Restaurants to create."),
    reviews: int = typer.Option(10_000, min=0, help="Reviews (one per user and restaurant)."),
    users: int = typer.Option(
        None, min=0, help="Users to create (default: about one per ten reviews)."
    ),
    seed_value: int = typer.Option(42, "--seed", help="Random seed: same seed, same rows."),
    reset: bool = typer.Option(
        False, help="Delete every restaurant, review and seeded user first."
    ),
    database_url: DatabaseUrlOption = None,
    json_output: JsonOption = False,
) -> None:
    """Create realistic, deterministic demo data (batch inserts, one transaction)."""
    with cli_errors():
        plan = SeedPlan(
            restaurants=restaurants,
            reviews=reviews,
            users=default_users(restaurants, reviews) if users is None else users,
            seed=seed_value,
        )
        if plan.problems():
            fail("; ".join(plan.problems()), EXIT_USAGE)
        settings = database_settings(database_url)
        run(ensure_reachable(settings.url))
        report = run(_seed(settings, plan, reset, show_progress=not json_output))
    data = {
        "database": safe_url(settings.url),
        "seed": plan.seed,
        "users": report.users,
        "restaurants": report.restaurants,
        "opening_intervals": report.opening_intervals,
        "reviews": report.reviews,
        "seconds": round(report.seconds, 2),
        "user_password": SEED_USER_PASSWORD,
    }
    emit(data, json_output=json_output, human=key_value_table("Seeded", data))


async def _seed(
    settings: DatabaseSettings, plan: SeedPlan, reset: bool, *, show_progress: bool
) -> SeedReport:
    engine = create_engine(settings)
    bars = progress(enabled=show_progress and sys.stderr.isatty())
    tasks = {
        "users": bars.add_task("users", total=plan.users),
        "restaurants": bars.add_task("restaurants", total=plan.restaurants),
        "reviews": bars.add_task("reviews", total=plan.reviews),
    }
    try:
        with bars:
            return await seed_database(
                engine,
                plan,
                reset=reset,
                progress=lambda stage, n: bars.advance(tasks[stage], n),
            )
    except SeedError as exc:
        fail(str(exc))
    finally:
        await engine.dispose()
