"""``bistro perf db``: v3's and v4's data layers in process, on a database it seeds itself."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from bistro.cli.main import app
from tests.support import create_postgres_database, drop_postgres_database

runner = CliRunner()
QUERIES = {"detail", "list", "list_cuisine", "search", "reviews", "statistics"}


@pytest.fixture(params=["sqlite", "postgres"])
def empty_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path}/perf-db.db"
        return
    url = create_postgres_database()
    try:
        yield url
    finally:
        drop_postgres_database(url)


def perf_db(url: str, *args: str) -> tuple[int, str, str]:
    result = runner.invoke(app, ["perf", "db", "--database-url", url, "--json", *args])
    return result.exit_code, result.stdout, result.stderr


def test_seeds_each_size_and_times_both_data_layers(empty_url: str) -> None:
    code, out, err = perf_db(empty_url, "--scale", "20,40", "--repeat", "5")
    assert code == 0, err
    report = json.loads(out)
    assert [s["restaurants"] for s in report["scales"]] == [20, 40]
    for scale in report["scales"]:
        assert scale["seeded"]["reviews"] == scale["restaurants"] * 10
        assert set(scale["queries"]) == QUERIES
        for figures in scale["queries"].values():
            assert figures["v3_ms"] > 0 and figures["v4_ms"] > 0
            assert figures["v3_over_v4"] == pytest.approx(
                figures["v3_ms"] / figures["v4_ms"], rel=0.01
            )

    # It refuses a database that holds data, unless told to reuse it.
    code, _, err = perf_db(empty_url, "--scale", "20", "--repeat", "5")
    assert code == 2
    assert err.strip().splitlines() == [
        "error: the database already holds 40 restaurants: pass --reuse to measure them, or "
        "give an empty database (perf db seeds its own)"
    ]
    code, out, err = perf_db(empty_url, "--reuse", "--scale", "40", "--repeat", "5")
    assert code == 0, err
    (scale,) = json.loads(out)["scales"]
    assert scale["restaurants"] == 40 and scale["seeded"] is None


def test_bad_scales_are_usage_errors(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path}/x.db"
    for scale in ("many", "5", "2000000"):
        code, _, err = perf_db(url, "--scale", scale)
        assert code == 2 and err.startswith("error: --scale"), err
