"""A real ``bistro serve`` for the perf tests: SQLite, a small seeded data set, an admin."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

from bistro.core.database import create_engine
from bistro.core.settings import DatabaseSettings
from bistro.seed import SeedPlan, default_users, seed_database
from tests.support import DEFAULT_PASSWORD, Factory, bistro_serve, make_settings, running_app


@dataclass
class PerfServer:
    base: str
    token: str
    pid: int


def _prepare(url: str) -> str:
    from bistro.app import create_app

    async def _go() -> str:
        engine = create_engine(DatabaseSettings(url=url))
        try:
            await seed_database(engine, SeedPlan(60, 300, default_users(60, 300), seed=3))
        finally:
            await engine.dispose()
        app = create_app(make_settings(url))
        async with running_app(app):
            return (await Factory(app).user(role="admin")).email

    return asyncio.run(_go())


@contextmanager
def perf_server(
    url: str, log: Path, extra_env: dict[str, str] | None = None
) -> Iterator[PerfServer]:
    email = _prepare(url)
    env = {
        "BISTRO_DATABASE_URL": url,
        "BISTRO_DEMO": "false",
        "BISTRO_MONITORING_FLUSH_INTERVAL": "1",
        **(extra_env or {}),
    }
    # Generous: on a loaded 2-core machine importing the app alone can take 20 s.
    with bistro_serve(env, log, timeout=120) as base:
        login = httpx.post(
            f"{base}/api/v4/auth/login",
            json={"email": email, "password": DEFAULT_PASSWORD},
            timeout=30,
        )
        token = login.json()["data"]["token"]
        health = httpx.get(
            f"{base}/api/v4/migration/health",
            headers={"Authorization": f"Bearer {token}"},
            timeout=30,
        )
        pid = int(health.json()["data"]["components"]["process"]["pid"])
        yield PerfServer(base, token, pid)
