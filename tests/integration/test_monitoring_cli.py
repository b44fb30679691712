"""``bistro monitoring status``: the shared store's numbers, human and --json; bad input."""

from __future__ import annotations

import asyncio
from typing import Any

import orjson
from typer.testing import CliRunner

from bistro.cli.main import app
from bistro.monitoring.runtime import STATE_KEY, Monitoring
from tests.support import app_client

runner = CliRunner()


def bistro(*args: str) -> Any:
    return runner.invoke(app, list(args))


async def test_status_reports_flushed_traffic(db_url: str) -> None:
    async with app_client(db_url) as (application, _client):
        monitoring: Monitoring = application.state.bistro.extras[STATE_KEY]
        for i in range(40):
            status = "5xx" if i % 10 == 0 else "2xx"
            monitoring.pipeline.recorder.record(
                ("direct", "v4", "reviews", "/reviews", status), 0.01, 5
            )
        for _ in range(10):
            monitoring.pipeline.recorder.record(
                ("direct", "v3", "reviews", "/reviews", "2xx"), 0.02, 5
            )
        assert await monitoring.flush()

    result = await asyncio.to_thread(
        bistro, "monitoring", "status", "--window", "10m", "--database-url", db_url, "--json"
    )
    assert result.exit_code == 0, result.output
    report = orjson.loads(result.stdout)
    v4 = report["metrics"]["versions"]["v4"]
    assert (v4["requests"], v4["errors_5xx"], v4["error_rate"]) == (40, 4, 0.1)
    assert report["metrics"]["versions"]["v3"]["groups"]["reviews"]["requests"] == 10
    assert report["alerts"] == {"active": [], "recent": []}

    human = await asyncio.to_thread(bistro, "monitoring", "status", "--database-url", db_url)
    assert human.exit_code == 0
    assert "reviews" in human.stdout and "10.00%" in human.stdout
    assert "none firing" in human.stdout


def test_bad_window_is_a_one_line_usage_error(sqlite_url: str) -> None:
    result = bistro("monitoring", "status", "--window", "5 minutes", "--database-url", sqlite_url)
    assert result.exit_code == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: invalid --window")
