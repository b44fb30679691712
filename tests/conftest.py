from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
from fastapi import FastAPI

from tests.support import (
    REDIS_URL,
    Factory,
    WebhookReceiver,
    app_client,
    drop_postgres_database,
    migrated_database,
    truncate_all,
    webhook_receiver,
)

BACKENDS = ["sqlite", "postgres"]


@pytest.fixture(scope="session")
def _database_urls(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    made: dict[str, str] = {}
    tmp = str(tmp_path_factory.mktemp("db"))

    class Lazy(dict[str, str]):
        def __missing__(self, backend: str) -> str:
            # Called from async fixtures: migrate in a thread with its own event loop.
            with ThreadPoolExecutor(1) as pool:
                url = pool.submit(migrated_database, backend, tmp).result()
            made[backend] = url
            self[backend] = url
            return url

    yield Lazy()
    if "postgres" in made:
        drop_postgres_database(made["postgres"])


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
async def db_url(backend: str, _database_urls: dict[str, str]) -> AsyncIterator[str]:
    """A migrated database of the test's backend, emptied before the test."""
    url = _database_urls[backend]
    await truncate_all(url)
    yield url


@pytest.fixture
def sqlite_url(_database_urls: dict[str, str]) -> str:
    return _database_urls["sqlite"]


@pytest.fixture
def postgres_url(_database_urls: dict[str, str]) -> str:
    return _database_urls["postgres"]


@pytest.fixture
async def app_and_client(
    backend: str, db_url: str
) -> AsyncIterator[tuple[FastAPI, httpx.AsyncClient]]:
    # The v4 cache runs L1-only on SQLite and L1 + Redis L2 on PostgreSQL (as in production),
    # so every API test covers both cache set-ups without running twice.
    async with app_client(db_url, REDIS_URL if backend == "postgres" else None) as pair:
        yield pair


@pytest.fixture
def app(app_and_client: tuple[FastAPI, httpx.AsyncClient]) -> FastAPI:
    return app_and_client[0]


@pytest.fixture
def client(app_and_client: tuple[FastAPI, httpx.AsyncClient]) -> httpx.AsyncClient:
    return app_and_client[1]


@pytest.fixture
def factory(app: FastAPI) -> Factory:
    return Factory(app)


@pytest.fixture
def receiver() -> Iterator[tuple[WebhookReceiver, str]]:
    """A local webhook endpoint (its first attempt answers 503) and its URL."""
    with webhook_receiver(fail_first=1) as pair:
        yield pair
