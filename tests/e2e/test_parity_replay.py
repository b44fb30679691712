"""``bistro parity run``: 2,000+ generated requests against a real ``bistro serve`` find no
mismatch (SQLite; PostgreSQL with the Redis L2), and planted v4 bugs are each reported with
the JSON path of the difference; a server timestamp is learned as noise, not a mismatch."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
import uvicorn
from typer.testing import CliRunner

from bistro.app import create_app
from bistro.cli.main import app as cli
from bistro.core.settings import (
    CacheSettings,
    DatabaseSettings,
    MonitoringSettings,
    ServerSettings,
    Settings,
)
from bistro.legacy.statistics_sql import StatisticsSQL
from bistro.parity.report import JSON_NAME, MARKDOWN_NAME
from bistro.restaurants import service as restaurant_service
from bistro.restaurants.service import RestaurantService
from bistro.statistics.service import StatisticsService
from tests.support import REDIS_URL, bistro_serve, free_port, new_cache_prefix, truncate_all

runner = CliRunner()
ADMIN = ("parity-admin@example.com", "parity-admin-pass")


def bistro(*args: str) -> Any:
    return runner.invoke(cli, list(args))


def seed(url: str, restaurants: int, reviews: int) -> None:
    asyncio.run(truncate_all(url))
    done = bistro(
        "seed",
        "--restaurants",
        str(restaurants),
        "--reviews",
        str(reviews),
        "--users",
        str(reviews // 10),
        "--seed",
        "7",
        "--database-url",
        url,
        "--json",
    )
    assert done.exit_code == 0, done.output
    admin = bistro(
        "users",
        "create-admin",
        "--email",
        ADMIN[0],
        "--password",
        ADMIN[1],
        "--database-url",
        url,
    )
    assert admin.exit_code == 0, admin.output


def admin_token(base: str) -> str:
    login = httpx.post(
        f"{base}/api/v4/auth/login", json={"email": ADMIN[0], "password": ADMIN[1]}, timeout=10
    )
    assert login.status_code == 200, login.text
    return str(login.json()["data"]["token"])


def parity_run(base: str, output: Path, *extra: str) -> tuple[int, dict[str, Any]]:
    result = bistro("parity", "run", "--base-url", base, "--output", str(output), "--json", *extra)
    assert result.exit_code in (0, 1), result.output
    doc = orjson.loads(result.stdout)
    assert orjson.loads((output / JSON_NAME).read_bytes())["compared"] == doc["compared"]
    return result.exit_code, doc


@pytest.mark.slow
def test_generated_replay_finds_no_mismatch(
    backend: str, _database_urls: dict[str, str], tmp_path: Path
) -> None:
    url = _database_urls[backend]
    # Small enough for v3's uncached queries to answer 6,000 calls in well under a minute.
    seed(url, restaurants=120, reviews=900)
    env = {"BISTRO_DATABASE_URL": url, "BISTRO_MONITORING_ACCESS_LOG": "false"}
    if backend == "postgres":
        env |= {"BISTRO_REDIS_URL": REDIS_URL, "BISTRO_CACHE_KEY_PREFIX": new_cache_prefix()}
    with bistro_serve(env, tmp_path / "server.log") as base:
        token = admin_token(base)
        code, doc = parity_run(
            base, tmp_path / "report", "--sample", "2000", "--token", token, "--concurrency", "4"
        )
    assert (code, doc["passed"]) == (0, True), doc["endpoints"]
    assert doc["requests"] == doc["compared"] == 2000
    assert (doc["mismatches"], doc["errors"]) == (0, 0)
    endpoints = doc["endpoints"]
    for name in (
        "GET /restaurants",
        "GET /restaurants/search",
        "GET /restaurants/{id}",
        "GET /reviews",
        "GET /reviews/{id}",
        "GET /statistics",
        "GET /users/me",
        "GET /admin/users",
        "GET /admin/users/{id}",
    ):
        assert endpoints[name]["compared"] > 0, name
    applied = {rule["name"]: rule["applied"] for rule in doc["known_differences"]}
    assert applied["bad_input_refused"] > 0  # bad input was sent and compared as both refused
    assert applied["v3_error_body"] > 0  # ...and missing ids (404) with v3's error body
    assert "PASSED" in (tmp_path / "report" / MARKDOWN_NAME).read_text()


# -- planted bugs: an in-process server whose v4 the test patches ---------------------------


SERVER_DATABASES: dict[str, str] = {}


def patched_server_database(base: str) -> str:
    return SERVER_DATABASES[base]


@pytest.fixture(scope="module")
def patched_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real HTTP server (uvicorn in a thread) over a small seeded SQLite database, with
    v4's cache off so that a patch applies to the very next request."""
    folder = tmp_path_factory.mktemp("parity")
    url = f"sqlite+aiosqlite:///{folder}/parity.db"
    assert bistro("db", "upgrade", "--database-url", url).exit_code == 0
    seed(url, restaurants=40, reviews=300)
    settings = Settings(
        server=ServerSettings(log_format="console", log_level="warning"),
        database=DatabaseSettings(url=url),
        cache=CacheSettings(enabled=False),
        monitoring=MonitoringSettings(enabled=False, access_log=False),
    )
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(
            create_app(settings),
            host="127.0.0.1",
            port=port,
            log_level="warning",
            access_log=False,
            loop="asyncio",
        )
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "server did not start"
        time.sleep(0.05)
    base = f"http://127.0.0.1:{port}"
    SERVER_DATABASES[base] = url
    try:
        yield base
    finally:
        server.should_exit = True
        thread.join(15)


REQUESTS = """\
# read endpoints, promised orders
/restaurants?sort=name&limit=10
/restaurants?sort=rating&limit=10
GET /api/v3/restaurants?sort=newest&limit=5&offset=5
/api/restaurants?sort=review_count
/restaurants/1
/restaurants/2
/restaurants/3
/statistics
/reviews?sort=rating&limit=10
"""


def replay_file(base: str, tmp_path: Path) -> tuple[int, dict[str, Any]]:
    requests = tmp_path / "requests.txt"
    requests.write_text(REQUESTS)
    return parity_run(base, tmp_path / "report", "--requests", str(requests), "--concurrency", "1")


def differences(doc: dict[str, Any], endpoint: str) -> dict[str, list[dict[str, Any]]]:
    """Request path -> the differences reported for it."""
    return {
        example["path"]: example["differences"]
        for example in doc["endpoints"][endpoint]["examples"]
    }


def test_the_unpatched_pair_matches(patched_server: str, tmp_path: Path) -> None:
    code, doc = replay_file(patched_server, tmp_path)
    assert (code, doc["compared"], doc["mismatches"]) == (0, 9, 0), doc["endpoints"]


def test_a_dropped_last_item_is_reported(
    patched_server: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    original = RestaurantService.list

    async def drops_last(self: RestaurantService, *args: Any) -> Any:
        items, total, next_cursor = await original(self, *args)
        return items[:-1], total, next_cursor

    monkeypatch.setattr(RestaurantService, "list", drops_last)
    code, doc = replay_file(patched_server, tmp_path)
    assert code == 1 and not doc["passed"]
    found = differences(doc, "GET /restaurants")
    diff = found["/restaurants?sort=name&limit=10"]
    assert [(d["path"], d["kind"], d["v4_missing"]) for d in diff] == [
        ("$.data[9]", "length", True)
    ]
    assert doc["endpoints"]["GET /restaurants"]["mismatches"] == 4
    assert doc["endpoints"]["GET /restaurants/{id}"]["mismatches"] == 0
    assert "`$.data[9]`" in (tmp_path / "report" / MARKDOWN_NAME).read_text()


def test_a_rating_rounded_differently_is_reported(
    patched_server: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    original = restaurant_service.restaurant_representation

    def one_decimal(row: Any) -> dict[str, Any]:
        data = original(row)
        data["rating_avg"] = round(data["rating_avg"], 1)
        return data

    monkeypatch.setattr(restaurant_service, "restaurant_representation", one_decimal)
    code, doc = replay_file(patched_server, tmp_path)
    assert code == 1
    listed = [d for diff in differences(doc, "GET /restaurants").values() for d in diff]
    assert listed and {d["kind"] for d in listed} == {"value"}
    assert all(d["path"].endswith("].rating_avg") for d in listed)
    assert all(round(d["v3"], 1) == d["v4"] != d["v3"] for d in listed)
    detail = [d for diff in differences(doc, "GET /restaurants/{id}").values() for d in diff]
    assert {d["path"] for d in detail} == {"$.data.rating_avg"}


def test_a_renamed_field_is_reported(
    patched_server: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    original = restaurant_service.restaurant_representation

    def renamed(row: Any) -> dict[str, Any]:
        data = original(row)
        data["reviews_count"] = data.pop("review_count")
        return data

    monkeypatch.setattr(restaurant_service, "restaurant_representation", renamed)
    code, doc = replay_file(patched_server, tmp_path)
    assert code == 1
    assert doc["endpoints"]["GET /restaurants/{id}"]["mismatches"] == 3
    detail = differences(doc, "GET /restaurants/{id}")["/restaurants/1"]
    assert [(d["path"], d["kind"]) for d in detail] == [("$.data.review_count", "missing")]
    first = differences(doc, "GET /restaurants")["/restaurants?sort=name&limit=10"]
    assert [d["path"] for d in first] == [f"$.data[{i}].review_count" for i in range(10)]


def test_another_order_where_order_is_promised_is_reported(
    patched_server: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    original = RestaurantService.list

    async def name_sort_reversed(self: RestaurantService, query: Any, *args: Any) -> Any:
        items, total, next_cursor = await original(self, query, *args)
        return (items[::-1] if query.sort == "name" else items), total, next_cursor

    monkeypatch.setattr(RestaurantService, "list", name_sort_reversed)
    code, doc = replay_file(patched_server, tmp_path)
    assert code == 1
    assert doc["endpoints"]["GET /restaurants"]["mismatches"] == 1  # only sort=name
    diff = differences(doc, "GET /restaurants")["/restaurants?sort=name&limit=10"]
    assert {"$.data[0].id", "$.data[0].name"} <= {d["path"] for d in diff}
    # The report keeps the first ten differences of an example and counts the rest.
    (example,) = doc["endpoints"]["GET /restaurants"]["examples"]
    assert len(example["differences"]) == 10 and example["more_differences"] > 0


def test_a_server_timestamp_is_noise_not_a_mismatch(
    patched_server: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    v3_stats, v4_stats = StatisticsSQL.statistics, StatisticsService.summary

    def stamped(original: Any) -> Any:
        async def with_now(self: Any) -> dict[str, Any]:
            data = dict(await original(self))
            data["generated_at"] = datetime.now(UTC).isoformat()  # microseconds: always moves
            return data

        return with_now

    monkeypatch.setattr(StatisticsSQL, "statistics", stamped(v3_stats))
    monkeypatch.setattr(StatisticsService, "summary", stamped(v4_stats))
    requests = tmp_path / "requests.txt"
    requests.write_text("/statistics\n" * 5 + "/restaurants?sort=name\n")
    url = patched_server_database(patched_server)
    code, doc = parity_run(
        patched_server,
        tmp_path / "report",
        "--requests",
        str(requests),
        "--save-noise",
        "--database-url",
        url,
    )
    assert (code, doc["mismatches"], doc["compared"]) == (0, 0, 6), doc["endpoints"]
    stats = doc["endpoints"]["GET /statistics"]
    assert stats["noise_paths"] == ["$.data.generated_at"]
    assert (stats["noise"], stats["matched"]) == (5, 0)
    assert doc["noise_paths"] == {"GET /statistics": ["$.data.generated_at"]}
    assert "`$.data.generated_at`" in (tmp_path / "report" / MARKDOWN_NAME).read_text()
    # Saved for shadow mode, and shown by migration status.
    assert doc["noise_saved"] == 1
    status = bistro("migration", "status", "--json", "--database-url", url)
    assert status.exit_code == 0, status.output
    parity = orjson.loads(status.stdout)["parity"]
    assert parity["noise_paths"] == {"GET /statistics": ["$.data.generated_at"]}
    assert parity["overall"]["compared"] == 0  # replay is not shadow traffic


def test_cli_failures_are_one_line(patched_server: str, tmp_path: Path) -> None:
    bad = tmp_path / "bad.txt"
    bad.write_text("POST /restaurants\n")
    for args, code, message in (
        (["--base-url", "127.0.0.1:1"], 2, "--base-url must start with http"),
        (["--base-url", patched_server, "--requests", str(bad)], 2, "only GET requests"),
        (["--base-url", patched_server, "--requests", str(tmp_path / "no")], 2, "cannot read"),
        (["--base-url", patched_server, "--ignore", "data.x"], 2, "--ignore takes JSON paths"),
        (["--base-url", f"http://127.0.0.1:{free_port()}"], 1, "cannot reach"),
    ):
        result = runner.invoke(cli, ["parity", "run", "--output", str(tmp_path), *args])
        assert result.exit_code == code, result.output
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("error: ") and message in lines[0], lines
