"""``bistro rollout`` and ``bistro drill`` against a real database (SQLite and PostgreSQL)."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
from typer.testing import CliRunner

from bistro.cli.main import app
from bistro.core.database import Database
from bistro.core.settings import DatabaseSettings
from bistro.rollout.store import RolloutStore
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


def test_start_status_steer_and_report(url: str, tmp_path: Path) -> None:
    code, out, err = cli(
        url,
        "rollout",
        "start",
        "--flag",
        "api_v4_reviews",
        "--steps",
        "1,5,10,25,50,100",
        "--increment-interval",
        "2h",
        "--json",
    )
    assert code == 0, err
    data = json.loads(out)
    assert data["applied"][0]["to_percentage"] == 1.0
    assert data["config"]["increment_interval"] == "2h"
    assert data["config"]["plan"] == [1, 5, 10, 25, 50, 100]

    code, out, _ = cli(url, "rollout", "status")
    assert code == 0
    assert "api_v4_reviews" in out and "running" in out
    code, out, _ = cli(url, "rollout", "status", "--json")
    (rollout,) = json.loads(out)["rollouts"]
    assert rollout["next"]["action"].startswith("evaluate; move to 5 %")

    code, out, _ = cli(url, "rollout", "promote", "--flag", "api_v4_reviews", "--json")
    assert code == 0 and json.loads(out)["applied"][0]["to_percentage"] == 5.0
    code, out, _ = cli(url, "rollout", "pause", "--reason", "lunch")
    assert code == 0 and "paused" in out
    code, _, err = cli(url, "rollout", "pause")
    assert code == 1 and err.startswith("error: cannot pause: the rollout is paused")
    code, out, _ = cli(url, "rollout", "resume", "--json")
    assert code == 0 and json.loads(out)["applied"][0]["state"] == "running"
    code, out, _ = cli(url, "rollout", "force", "--percentage", "0", "--json")
    assert code == 0
    applied = json.loads(out)["applied"][0]
    assert applied["action"] == "emergency_rollback" and applied["state"] == "rolled_back"
    code, out, _ = cli(url, "flags", "list", "--json")
    flags = {f["name"]: f for f in json.loads(out)}
    assert flags["api_v4_reviews"]["stage"] == "disabled"

    report = tmp_path / "report.md"
    code, out, _ = cli(
        url, "rollout", "report", "--flag", "api_v4_reviews", "--output", str(report)
    )
    assert code == 0
    text = report.read_text()
    assert "# Rollout of api_v4_reviews" in text
    for action in ("start", "promote", "pause", "resume", "emergency_rollback"):
        assert f"| {action} |" in text
    code, out, _ = cli(url, "rollout", "report", "--flag", "api_v4_reviews", "--format", "json")
    assert code == 0
    assert [d["action"] for d in json.loads(out)["decisions"]] == [
        "start",
        "promote",
        "pause",
        "resume",
        "emergency_rollback",
    ]


def test_one_rollout_per_flag_each_with_its_own_pace(url: str) -> None:
    code, out, err = cli(url, "rollout", "start", "--json")
    assert code == 0, err
    assert sorted(a["flag"] for a in json.loads(out)["applied"]) == [
        "api_v4_restaurants",
        "api_v4_reviews",
        "api_v4_statistics",
        "api_v4_users",
    ]
    code, out, _ = cli(url, "rollout", "promote", "--flag", "api_v4_users", "--json")
    assert code == 0
    code, out, _ = cli(url, "rollout", "status", "--json")
    percentages = {r["flag"]: r["percentage"] for r in json.loads(out)["rollouts"]}
    assert percentages == {
        "api_v4_restaurants": 5.0,
        "api_v4_reviews": 5.0,
        "api_v4_statistics": 5.0,
        "api_v4_users": 15.0,
    }
    code, _, err = cli(url, "rollout", "start", "--flag", "api_v4_users")
    assert code == 1 and "already has an active rollout" in err


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--initial-percentage", "150"], "initial-percentage"),
        (["--increment-interval", "soon"], "increment_interval: 'soon' is not a duration"),
        (["--steps", "10,5"], "steps must be strictly increasing"),
        (["--significance", "2"], "significance"),
        (["--evaluation-interval", "2h", "--increment-interval", "1h"], "evaluation_interval"),
        (["--flag", "api_v4_cache"], "not a routing flag"),
        (["--flag", "nope"], "unknown flag"),
        (["--min-requests", "0"], "min-requests"),
    ],
)
def test_invalid_values_are_refused_with_the_reason(
    url: str, args: list[str], message: str
) -> None:
    code, _, err = cli(url, "rollout", "start", *args)
    assert code == 2
    assert err.startswith("error: ") and message in err
    assert len(err.strip().splitlines()) == 1


def test_a_config_file_and_options_over_it(url: str, tmp_path: Path) -> None:
    config = tmp_path / "rollout.toml"
    config.write_text('[rollout]\nsteps = "2,20,100"\nincrement-interval = "3h"\ndry_run = true\n')
    code, out, err = cli(
        url, "rollout", "start", "--flag", "api_v4_users", "--config", str(config),
        "--increment-interval", "4h", "--json",
    )  # fmt: skip
    assert code == 0, err
    data = json.loads(out)
    assert data["config"]["plan"] == [2, 20, 100]
    assert data["config"]["increment_interval"] == "4h"
    assert data["config"]["dry_run"] is True
    assert data["applied"][0]["flag_changed"] is False  # dry run: no flag moved
    bad = tmp_path / "bad.toml"
    bad.write_text("initial_percentage = [\n")
    code, _, err = cli(url, "rollout", "start", "--config", str(bad))
    assert code == 2 and "not valid TOML" in err


def test_start_is_refused_when_the_master_switch_is_off(url: str) -> None:
    code, _, _ = cli(url, "migration", "rollback")
    code, _, _ = cli(url, "flags", "set", "api_v4_enabled", "--stage", "disabled")
    assert code == 0
    code, _, err = cli(url, "rollout", "start")
    assert code == 1
    assert "api_v4_enabled is disabled; a rollout needs it full" in err


def test_steering_with_no_rollout_says_so(url: str) -> None:
    code, _, err = cli(url, "rollout", "resume")
    assert code == 1 and err == "error: no active rollout\n"
    code, _, err = cli(url, "rollout", "report", "--flag", "api_v4_users")
    assert code == 1 and "never had a rollout" in err


def test_a_drill_is_refused_unless_an_instance_allows_it(url: str) -> None:
    code, _, err = cli(url, "drill", "--group", "restaurants", "--error-rate", "0.3")
    assert code == 1 and "no running instance allows fault injection" in err
    code, _, err = cli(url, "drill", "--group", "kitchen", "--error-rate", "0.3")
    assert code == 2 and "unknown group" in err

    async def allow() -> None:
        db = Database(DatabaseSettings(url=url))
        try:
            async with db.unit_of_work() as session:
                await RolloutStore(session).heartbeat("host-1", {}, True, datetime.now(UTC))
        finally:
            await db.dispose()

    asyncio.run(allow())
    code, out, err = cli(
        url, "drill", "--group", "restaurants", "--error-rate", "0.3", "--duration", "5s",
        "--no-wait", "--json",
    )  # fmt: skip
    assert code == 0, err
    data = json.loads(out)
    assert data["instances"] == ["host-1"] and data["rolled_back"] is False
