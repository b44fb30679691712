"""Test support shared by every tier: throwaway databases, app clients and factories.

Tests never share state: each session makes its own SQLite file and its own PostgreSQL
database (dropped at the end), and each test starts from empty tables.
"""

from __future__ import annotations

import asyncio
import json
import os
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import asyncpg
import httpx
from argon2 import PasswordHasher, Type
from fastapi import FastAPI
from redis.asyncio import Redis
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import create_async_engine

from bistro.app import create_app
from bistro.core.migrate import upgrade
from bistro.core.security import new_token, token_digest
from bistro.core.settings import (
    AuthSettings,
    CacheSettings,
    DatabaseSettings,
    MonitoringSettings,
    RolloutSettings,
    ServerSettings,
    Settings,
)

POSTGRES_ADMIN_URL = os.environ.get(
    "BISTRO_TEST_POSTGRES_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/postgres"
)
REDIS_URL = os.environ.get("BISTRO_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")

# Tables in delete order (children first). Features add theirs with register_table().
TABLES: list[str] = [
    "rollout_decisions",
    "rollout_rollouts",
    "rollout_lease",
    "rollout_instances",
    "rollout_drills",
    "monitoring_alert_events",
    "monitoring_alerts",
    "monitoring_cache_buckets",
    "monitoring_request_buckets",
    "monitoring_request_minutes",
    "parity_buckets",
    "parity_examples",
    "parity_noise",
    "reviews",
    "restaurant_opening_intervals",
    "auth_tokens",
    "restaurants",
    "users",
    # migration control plane (emptied tables mean every flag at its default)
    "migration_flag_audit",
    "migration_flag_overrides",
    "migration_flags",
    "migration_flag_version",
]


def register_table(name: str, *, first: bool = True) -> None:
    if name not in TABLES:
        TABLES.insert(0 if first else len(TABLES), name)


def _plain_pg_dsn(url: str) -> str:
    return url.replace("postgresql+asyncpg://", "postgresql://", 1)


def create_postgres_database() -> str:
    """Create an empty database and return its SQLAlchemy URL."""
    name = f"bistro_test_{uuid.uuid4().hex[:12]}"

    async def _create() -> None:
        conn = await asyncpg.connect(_plain_pg_dsn(POSTGRES_ADMIN_URL))
        try:
            await conn.execute(f'CREATE DATABASE "{name}"')
        finally:
            await conn.close()

    asyncio.run(_create())
    return str(
        make_url(POSTGRES_ADMIN_URL).set(database=name).render_as_string(hide_password=False)
    )


def drop_postgres_database(url: str) -> None:
    name = make_url(url).database

    async def _drop() -> None:
        conn = await asyncpg.connect(_plain_pg_dsn(POSTGRES_ADMIN_URL))
        try:
            await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await conn.close()

    asyncio.run(_drop())


def migrated_database(backend: str, tmp_dir: str) -> str:
    if backend == "sqlite":
        url = f"sqlite+aiosqlite:///{tmp_dir}/bistro-{uuid.uuid4().hex[:8]}.db"
    else:
        url = create_postgres_database()
    upgrade(url)
    return url


async def truncate_all(url: str) -> None:
    engine = create_async_engine(url)
    try:
        async with engine.begin() as conn:
            existing = set(await conn.run_sync(lambda c: c.dialect.get_table_names(c)))
            tables = [t for t in TABLES if t in existing]
            if engine.dialect.name == "postgresql":
                if tables:
                    await conn.execute(
                        text(f"TRUNCATE {', '.join(tables)} RESTART IDENTITY CASCADE")
                    )
            else:
                for table in tables:
                    await conn.execute(text(f"DELETE FROM {table}"))
                if "sqlite_sequence" in existing:
                    await conn.execute(text("DELETE FROM sqlite_sequence"))
    finally:
        await engine.dispose()


# A cheap argon2 hasher for factories only: real parameters are tested in test_security.
_FAST_HASHER = PasswordHasher(time_cost=1, memory_cost=64, parallelism=1, type=Type.ID)
DEFAULT_PASSWORD = "correct horse battery"
_FAST_HASH = _FAST_HASHER.hash(DEFAULT_PASSWORD)


def make_settings(
    url: str,
    redis_url: str | None = None,
    monitoring: MonitoringSettings | None = None,
    *,
    cache_prefix: str | None = None,
    rollout: RolloutSettings | None = None,
    **server: Any,
) -> Settings:
    """Settings for a test app. With Redis, keys go under ``cache_prefix`` (a fresh one by
    default: ids restart in every test, so one test must never read another's entries)."""
    cache = CacheSettings(  # type: ignore[call-arg]
        BISTRO_REDIS_URL=redis_url, key_prefix=cache_prefix or new_cache_prefix()
    )
    return Settings(
        server=ServerSettings(log_format="console", log_level="warning", **server),
        database=DatabaseSettings(url=url),
        cache=cache,
        auth=AuthSettings(),
        # The background flush loop stays off in tests: they flush by hand with a fake clock.
        monitoring=monitoring or MonitoringSettings(enabled=False),
        # Likewise the rollout controller loop: tests evaluate by hand with a fake clock.
        rollout=rollout or RolloutSettings(controller=False),
    )


def new_cache_prefix() -> str:
    return f"bistro-test-{uuid.uuid4().hex[:12]}"


async def drop_cache_keys(prefix: str) -> None:
    """Delete a test's Redis keys (entries and generations)."""
    redis = Redis.from_url(REDIS_URL)
    try:
        keys = [k async for k in redis.scan_iter(match=f"{prefix}:*", count=1000)]
        if keys:
            await redis.delete(*keys)
    finally:
        await redis.aclose()


@asynccontextmanager
async def running_app(app: FastAPI) -> AsyncIterator[FastAPI]:
    async with app.router.lifespan_context(app):
        yield app


@asynccontextmanager
async def app_client(
    url: str,
    redis_url: str | None = None,
    monitoring: MonitoringSettings | None = None,
    **kwargs: Any,
) -> AsyncIterator[tuple[FastAPI, httpx.AsyncClient]]:
    settings = make_settings(url, redis_url, monitoring)
    app = create_app(settings, **kwargs)
    try:
        async with running_app(app):
            transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
            async with httpx.AsyncClient(
                transport=transport, base_url="http://testserver"
            ) as client:
                yield app, client
    finally:
        if redis_url:
            await drop_cache_keys(settings.cache.key_prefix)


@dataclass
class UserHandle:
    id: int
    email: str
    role: str
    token: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


class Factory:
    """Makes rows straight in the database: fast, and independent of the routes under test."""

    def __init__(self, app: FastAPI) -> None:
        self.app = app
        self._n = 0

    def _next(self) -> int:
        self._n += 1
        return self._n

    async def user(self, role: str = "user", email: str | None = None) -> UserHandle:
        from datetime import timedelta

        from bistro.core.clock import utcnow
        from bistro.users.models import AuthToken, User

        n = self._next()
        email = email or f"user{n}-{uuid.uuid4().hex[:6]}@example.com"
        token = new_token()
        async with self.app.state.bistro.db.unit_of_work() as session:
            user = User(email=email, password_hash=_FAST_HASH, display_name=f"User {n}", role=role)
            session.add(user)
            await session.flush()
            session.add(
                AuthToken(
                    user_id=user.id,
                    token_hash=token_digest(token),
                    expires_at=utcnow() + timedelta(hours=1),
                )
            )
            user_id = user.id
        return UserHandle(user_id, email, role, token)

    async def restaurant(self, **fields: Any) -> dict[str, Any]:
        """A restaurant row; ``hours`` also writes its opening intervals, as the API does.

        Aggregates (rating_avg, review_count, rating_sum, rating_score) may be given directly
        for sort tests, or built up with :meth:`review`.
        """
        from bistro.restaurants.hours import week_intervals
        from bistro.restaurants.models import OpeningInterval, Restaurant

        n = self._next()
        values: dict[str, Any] = {
            "name": f"Restaurant {n}",
            "cuisine": "thai",
            "city": "Lisbon",
            "address": f"{n} Rua Augusta",
            "latitude": 38.71,
            "longitude": -9.14,
            "price_level": 2,
            "hours": {},
        }
        values.update(fields)
        async with self.app.state.bistro.db.unit_of_work() as session:
            row = Restaurant(**values)
            session.add(row)
            await session.flush()
            values["id"] = row.id
            for opens, closes in week_intervals(values["hours"]):
                session.add(
                    OpeningInterval(restaurant_id=row.id, open_minute=opens, close_minute=closes)
                )
        return values

    async def review(
        self,
        user: UserHandle | int,
        restaurant: dict[str, Any] | int,
        rating: int = 4,
        text: str | None = None,
        **fields: Any,
    ) -> dict[str, Any]:
        """A review row plus its restaurant's aggregate, moved with the same SQL the API uses."""
        from bistro.core.clock import utcnow
        from bistro.reviews.repository import ReviewRepository

        user_id = user if isinstance(user, int) else user.id
        restaurant_id = restaurant if isinstance(restaurant, int) else int(restaurant["id"])
        values: dict[str, Any] = {
            "user_id": user_id,
            "restaurant_id": restaurant_id,
            "rating": rating,
            "text": text or f"Review {self._next()}",
        }
        values.update(fields)
        async with self.app.state.bistro.db.unit_of_work() as session:
            repo = ReviewRepository(session)
            values["id"] = await repo.create(values)
            stamp = values.get("created_at") or utcnow()
            await repo.apply_rating_delta(restaurant_id, 1, rating, stamp)
        return values


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


ROOT = Path(__file__).resolve().parents[1]


def child_env(extra: dict[str, str]) -> dict[str, str]:
    """The environment of a ``bistro`` child process: this one's minus any API_V4_* pins,
    the checkout's ``src`` on the path, warnings only, then ``extra``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("API_V4_")}
    env.update({"PYTHONPATH": str(ROOT / "src"), "BISTRO_LOG_LEVEL": "warning", **extra})
    return env


@contextmanager
def bistro_serve(env: dict[str, str], log: Path, timeout: float = 60.0) -> Iterator[str]:
    """``bistro serve`` in a child process on a free port: yields its base URL once /readyz
    answers 200, and stops it afterwards, with ``child_env(env)``; its output goes to
    ``log``."""
    port = free_port()
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "bistro.cli.main", "serve", "--port", str(port)],
            env=child_env(env),
            stdout=out,
            stderr=subprocess.STDOUT,
            cwd=ROOT,
        )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + timeout
        while True:
            assert process.poll() is None, log.read_text()[-2000:]
            try:
                if httpx.get(f"{base}/readyz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, f"server did not start within {timeout:.0f} s"
            time.sleep(0.1)
        yield base
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


class WebhookReceiver:
    """A real local webhook endpoint: what the alert/rollout notifier posted, in order. The
    first ``fail_first`` attempts answer 503, so the notifier's retry is exercised too."""

    def __init__(self, fail_first: int) -> None:
        self.events: list[dict[str, Any]] = []
        self.attempts = 0
        self.fail_first = fail_first


@contextmanager
def webhook_receiver(fail_first: int = 1) -> Iterator[tuple[WebhookReceiver, str]]:
    state = WebhookReceiver(fail_first)

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            state.attempts += 1
            if state.attempts <= state.fail_first:
                self.send_response(503)
                self.end_headers()
                return
            state.events.append(json.loads(body))
            self.send_response(200)
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield state, f"http://127.0.0.1:{server.server_address[1]}/hook"
    finally:
        server.shutdown()
        server.server_close()
