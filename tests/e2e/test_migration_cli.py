"""``bistro migration`` and ``bistro flags`` against a real database (SQLite and PostgreSQL)."""

from __future__ import annotations

import asyncio
import json

import pytest
from typer.testing import CliRunner

from bistro.cli.main import app
from tests.support import truncate_all

runner = CliRunner()


@pytest.fixture(params=["sqlite", "postgres"])
def url(request: pytest.FixtureRequest, _database_urls: dict[str, str]) -> str:
    db = _database_urls[request.param]
    asyncio.run(truncate_all(db))
    return db


def cli(url: str, *args: str) -> tuple[int, str, str]:
    result = runner.invoke(app, [*args, "--database-url", url])
    return result.exit_code, result.stdout, result.stderr


def flags_json(url: str) -> dict[str, dict]:
    code, out, _ = cli(url, "flags", "list", "--json")
    assert code == 0
    return {f["name"]: f for f in json.loads(out)}


def test_partial_full_rollback_and_history(url: str) -> None:
    code, out, _ = cli(
        url,
        "migration",
        "partial",
        "--percentage",
        "30",
        "--flag",
        "api_v4_restaurants",
        "--reason",
        "step 1",
        "--actor",
        "ops:ana",
    )
    assert code == 0 and "disabled 0% -> partial 30%" in out
    assert flags_json(url)["api_v4_restaurants"]["stage"] == "partial"

    code, out, _ = cli(url, "migration", "full", "--json")
    assert code == 0 and len(json.loads(out)["changed"]) == 4
    code, out, _ = cli(url, "migration", "rollback", "--json")
    assert code == 0 and len(json.loads(out)["changed"]) == 4
    code, out, _ = cli(url, "migration", "rollback")
    assert code == 0 and "nothing to change" in out
    assert {f["stage"] for f in flags_json(url).values() if f["routing"]} == {"disabled"}

    code, out, _ = cli(url, "flags", "history", "api_v4_restaurants", "--json")
    entries = json.loads(out)
    assert [e["action"] for e in entries] == ["rollback", "set", "set"]
    first = entries[-1]
    assert first["actor"] == "ops:ana" and first["reason"] == "step 1"
    assert first["old"] == {"stage": "disabled", "percentage": 0.0}


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["migration", "partial", "--percentage", "150"], "between 0 and 100"),
        (["migration", "partial", "--percentage", "abc"], "not a number"),
        (["migration", "full", "--flag", "api_v4_bookings"], "unknown flag"),
        (["flags", "set", "api_v4_cache", "--stage", "halfway"], "unknown stage"),
        (["flags", "set", "api_v4_cache", "--stage", "full", "--percentage", "5"], "partial only"),
        (["flags", "override", "api_v4_users", "7", "--version", "v9"], "v3 or v4"),
        (["flags", "override", "api_v4_users", "7"], "exactly one of"),
    ],
)
def test_invalid_values_exit_non_zero_with_one_line(url: str, args: list[str], says: str) -> None:
    code, out, err = cli(url, *args)
    assert code == 2
    assert err.startswith("error: ") and says in err and err.count("\n") == 1
    code, out, _ = cli(url, "flags", "history", "--json")
    assert json.loads(out) == []


def test_overrides_and_testers(url: str) -> None:
    code, _, _ = cli(
        url,
        "migration",
        "testing",
        "--flag",
        "api_v4_users",
        "--tester",
        "42",
        "--tester",
        "qa-client",
    )
    assert code == 0
    assert flags_json(url)["api_v4_users"]["overrides"] == 2
    assert cli(url, "flags", "override", "api_v4_users", "42", "--remove")[0] == 0
    code, _, err = cli(url, "flags", "override", "api_v4_users", "42", "--remove")
    assert code == 1 and "No override" in err
    assert flags_json(url)["api_v4_users"]["overrides"] == 1


def test_status_shows_env_source_and_bad_env_is_refused(
    url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("API_V4_STATISTICS", "true")
    code, out, _ = cli(url, "migration", "status", "--json")
    stats = next(f for f in json.loads(out)["flags"] if f["name"] == "api_v4_statistics")
    assert (stats["stage"], stats["source"]["stage"]) == ("full", "env:API_V4_STATISTICS")
    monkeypatch.setenv("API_V4_STATISTICS", "perhaps")
    code, _, err = cli(url, "migration", "status")
    assert code == 2 and "API_V4_STATISTICS" in err


def test_report_file(url: str, tmp_path: object) -> None:
    from pathlib import Path

    target = Path(str(tmp_path)) / "report.json"
    cli(url, "migration", "partial", "--percentage", "5")
    code, _, _ = cli(url, "migration", "report", "--output", str(target))
    assert code == 0
    report = json.loads(target.read_text())
    assert len(report["flags"]) == 9 and len(report["history"]) == 4
    code, _, err = cli(url, "migration", "report", "--output", "/nonexistent/dir/r.json")
    assert code == 1 and "cannot write" in err
