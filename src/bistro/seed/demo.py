"""Demo mode (``BISTRO_DEMO=true``): migrate, and seed a small data set into an empty database.

Runs in the app's lifespan before the first request. On PostgreSQL an advisory lock makes
several workers starting together migrate and seed exactly once.
"""

from __future__ import annotations

import os
from typing import Any

import structlog
from sqlalchemy import text

from bistro.core.migrate import upgrade_engine
from bistro.core.state import AppState
from bistro.seed.generate import SEED_USER_PASSWORD, SeedPlan
from bistro.seed.loader import seed_database
from bistro.users.bootstrap import ensure_admin

DEMO_PLAN = SeedPlan(restaurants=500, reviews=5_000, users=500, seed=42)
DEMO_ADMIN_EMAIL = "admin@demo.bistro.example"
DEMO_ADMIN_PASSWORD = "bistro-demo-admin"
_LOCK_KEY = 0x6B157A0  # pg_advisory_lock key for demo bootstrap

log = structlog.get_logger("bistro.demo")


async def _is_empty(state: AppState) -> bool:
    async with state.db.engine.connect() as conn:
        count = (await conn.execute(text("SELECT count(*) FROM restaurants"))).scalar()
    return not count


async def _bootstrap(state: AppState, plan: SeedPlan) -> dict[str, Any] | None:
    await upgrade_engine(state.db.engine)
    if not await _is_empty(state):
        return None
    report = await seed_database(state.db.engine, plan)
    password = os.environ.get("BISTRO_ADMIN_PASSWORD") or DEMO_ADMIN_PASSWORD
    await ensure_admin(
        state.db, state.hashing, DEMO_ADMIN_EMAIL, password, "Demo Admin", promote=True
    )
    return {
        "restaurants": report.restaurants,
        "reviews": report.reviews,
        "users": report.users,
        "seconds": round(report.seconds, 2),
        "admin_password": password,
    }


async def bootstrap_demo(state: AppState, plan: SeedPlan = DEMO_PLAN) -> None:
    """Migrate, seed when empty, and log how to sign in."""
    if state.db.dialect == "postgresql":
        async with state.db.engine.connect() as lock:
            await lock.execute(text("SELECT pg_advisory_lock(:k)"), {"k": _LOCK_KEY})
            try:
                seeded = await _bootstrap(state, plan)
            finally:
                await lock.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": _LOCK_KEY})
    else:
        seeded = await _bootstrap(state, plan)
    if seeded is None:
        log.info("demo mode: database already has data, not seeding")
        return
    log.warning(
        "demo mode: seeded demo data",
        restaurants=seeded["restaurants"],
        reviews=seeded["reviews"],
        users=seeded["users"],
        seconds=seeded["seconds"],
    )
    log.warning(
        "demo mode: sign in as admin",
        email=DEMO_ADMIN_EMAIL,
        password=seeded["admin_password"],
        seeded_user_password=SEED_USER_PASSWORD,
    )
