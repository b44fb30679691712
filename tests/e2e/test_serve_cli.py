"""``bistro serve``: start-up checks, and the demo service over real HTTP."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner

import bistro
from bistro.cli.main import app
from tests.support import free_port

runner = CliRunner()
SRC = str(Path(bistro.__file__).resolve().parents[1])


def test_bad_setting_stops_start_up_naming_the_variable() -> None:
    result = runner.invoke(app, ["serve"], env={"BISTRO_LOG_LEVEL": "loud"})
    assert result.exit_code == 2
    assert result.stderr.strip().startswith("error: invalid setting BISTRO_LOG_LEVEL: ")
    assert len(result.stderr.strip().splitlines()) == 1


def test_bad_database_url_stops_start_up() -> None:
    result = runner.invoke(app, ["serve", "--database-url", "oracle://x"])
    assert result.exit_code == 2
    assert result.stderr.strip() == (
        "error: invalid setting BISTRO_DATABASE_URL: must be a postgresql:// or sqlite:/// URL"
    )


def test_reload_cannot_run_several_workers() -> None:
    result = runner.invoke(app, ["serve", "--reload", "--workers", "2"])
    assert result.exit_code == 2
    assert "cannot be combined with --workers > 1" in result.stderr


def test_several_workers_without_redis_are_refused_with_the_reason() -> None:
    # Without Redis the v4 cache could not tell the other workers about a write.
    result = runner.invoke(app, ["serve", "--workers", "3"], env={"BISTRO_REDIS_URL": ""})
    assert result.exit_code == 2
    assert result.stderr.strip() == (
        "error: --workers 3 needs BISTRO_REDIS_URL: without Redis the v4 cache cannot tell "
        "other workers about writes (or set BISTRO_CACHE_ENABLED=false)"
    )


def test_demo_mode_with_an_unreachable_database_fails_in_one_line() -> None:
    result = runner.invoke(
        app,
        ["serve", "--database-url", "postgresql://postgres@127.0.0.1:1/x"],
        env={"BISTRO_DEMO": "true"},
    )
    assert result.exit_code == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1
    assert lines[0].startswith("error: cannot reach the database at postgresql+asyncpg://")


@pytest.mark.slow
def test_demo_serve_migrates_seeds_and_answers(tmp_path: Path) -> None:
    port = free_port()
    env = {
        **os.environ,
        "PYTHONPATH": SRC,
        "BISTRO_DEMO": "true",
        "BISTRO_DATABASE_URL": f"sqlite:///{tmp_path}/demo.db",
        "BISTRO_LOG_FORMAT": "json",
    }
    log = (tmp_path / "serve.log").open("w")
    proc = subprocess.Popen(
        [sys.executable, "-m", "bistro.cli.main", "serve", "--port", str(port)],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90
        while True:
            assert proc.poll() is None, (tmp_path / "serve.log").read_text()
            try:
                if httpx.get(f"{base}/readyz", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, "service did not start"
            time.sleep(0.3)
        r = httpx.get(f"{base}/api/v4/restaurants", params={"cuisine": "thai", "sort": "rating"})
        assert r.status_code == 200
        body = r.json()
        assert body["meta"]["total"] > 0 and body["data"]
        assert {item["cuisine"] for item in body["data"]} == {"thai"}
        scores = [item["rating_score"] for item in body["data"]]
        assert scores == sorted(scores, reverse=True)
        login = httpx.post(
            f"{base}/api/v4/auth/login",
            json={"email": "admin@demo.bistro.example", "password": "bistro-demo-admin"},
        )
        assert login.status_code == 200, login.text
        assert login.json()["data"]["user"]["role"] == "admin"
        assert "demo mode: sign in as admin" in (tmp_path / "serve.log").read_text()
    finally:
        proc.terminate()
        proc.wait(timeout=15)
        log.close()
