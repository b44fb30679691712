"""The rollout controller live: a real ``bistro serve`` on PostgreSQL, real stable-path load
from this test, the real CLI. Evaluation every 2 s over a 10 s window, metrics flushed every
second. Bounded: every loop here has a deadline, and all traffic goes to 127.0.0.1."""

from __future__ import annotations

import asyncio
import contextlib
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest

from tests.support import ROOT, bistro_serve, child_env, truncate_all

pytestmark = [pytest.mark.slow, pytest.mark.postgres]


def cli(url: str, *args: str, timeout: float = 120) -> dict[str, Any]:
    result = subprocess.run(
        [sys.executable, "-m", "bistro.cli.main", *args, "--database-url", url, "--json"],
        env=child_env({}),
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=ROOT,
    )
    assert result.returncode == 0, result.stderr
    parsed: dict[str, Any] = orjson.loads(result.stdout)
    return parsed


class Load:
    """About ``rate`` requests/s to the stable path from 400 anonymous clients (so the
    percentage splits them), and optionally to direct /api/v4, until stopped."""

    def __init__(self, base: str, rate: float, *, direct_rate: float = 0.0) -> None:
        self.base = base
        self.rate = rate
        self.direct_rate = direct_rate
        self.stop = threading.Event()
        self.statuses: dict[str, dict[int, int]] = {"v3": {}, "v4": {}, "direct": {}}
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        interval = 1.0 / self.rate
        every_direct = round(self.rate / self.direct_rate) if self.direct_rate else 0
        n = 0
        next_at = time.monotonic()
        with httpx.Client(base_url=self.base, timeout=10) as client:
            while not self.stop.is_set():
                n += 1
                with contextlib.suppress(httpx.HTTPError):
                    r = client.get(
                        "/api/restaurants?limit=5", headers={"X-Client-ID": f"client-{n % 400}"}
                    )
                    version = r.headers.get("x-api-version", "?")
                    counts = self.statuses.setdefault(version, {})
                    counts[r.status_code] = counts.get(r.status_code, 0) + 1
                    if every_direct and n % every_direct == 0:
                        d = client.get("/api/v4/restaurants?limit=5")
                        direct = self.statuses["direct"]
                        direct[d.status_code] = direct.get(d.status_code, 0) + 1
                next_at += interval
                time.sleep(max(0.0, next_at - time.monotonic()))

    def __enter__(self) -> Load:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        self.thread.join(timeout=15)


@pytest.fixture
def fresh_postgres(postgres_url: str) -> str:
    """The session's PostgreSQL database, emptied (no rollout left from another test)."""
    asyncio.run(truncate_all(postgres_url))
    return postgres_url


@pytest.fixture
def served(fresh_postgres: str, tmp_path: Path) -> Iterator[tuple[str, str]]:
    postgres_url = fresh_postgres
    env = {
        "BISTRO_DATABASE_URL": postgres_url,
        "BISTRO_MONITORING_FLUSH_INTERVAL": "1",
        "BISTRO_ALLOW_FAULT_INJECTION": "true",
        "BISTRO_ROLLOUT_TICK_SECONDS": "0.25",
        "BISTRO_ROLLOUT_HEARTBEAT_SECONDS": "1",
        "BISTRO_ROLLOUT_STATUS_FILE": str(tmp_path / "rollout-status.json"),
        "BISTRO_DEMO": "false",
    }
    with bistro_serve(env, tmp_path / "server.log", timeout=120) as base:
        yield base, postgres_url


def rollout_status(url: str) -> dict[str, Any]:
    return cli(url, "rollout", "status", "--flag", "api_v4_restaurants")


def test_drill_rolls_back_within_three_evaluations(served: tuple[str, str]) -> None:
    base, url = served
    with Load(base, 50):
        cli(
            url,
            "rollout",
            "start",
            "--flag",
            "api_v4_restaurants",
            "--steps",
            "50,100",
            "--increment-interval",
            "1h",
            "--monitoring-period",
            "10s",
            "--evaluation-interval",
            "2s",
            "--min-requests",
            "20",
        )
        time.sleep(4)  # a few healthy evaluations first
        assert rollout_status(url)["rollouts"][0]["state"] == "running"
        result = cli(
            url,
            "drill",
            "--group",
            "restaurants",
            "--error-rate",
            "0.3",
            "--duration",
            "30s",
        )
    assert result["rolled_back"] is True, result
    assert result["action"] == "emergency_rollback"
    # Three evaluation intervals from the drill's start, which precedes its first failure.
    assert result["time_to_rollback_seconds"] <= 6.0, result
    status = rollout_status(url)
    (rollout,) = status["rollouts"]
    assert rollout["state"] == "rolled_back"
    assert rollout["percentage"] == 0.0
    report = cli(url, "rollout", "report", "--flag", "api_v4_restaurants", "--format", "json")
    (timing,) = report["self_measurement"]
    assert timing["time_to_detect_seconds"] >= 0
    assert timing["time_to_rollback_seconds"] <= 7.0  # from the first failing flush bucket
    rollback = report["decisions"][-1]
    assert rollback["verdict"] == "fail_critical"
    canary = rollback["numbers"]["checks"]["canary"]
    assert canary["errors_5xx"] > 0 and canary["requests"] >= canary["errors_5xx"]
    # Everyone is back on v3 within the flags' propagation time.
    time.sleep(1)
    r = httpx.get(f"{base}/api/restaurants?limit=5", headers={"X-Client-ID": "client-7"})
    assert r.headers["x-api-version"] == "v3"


def test_healthy_live_rollout_completes_and_direct_errors_change_nothing(
    served: tuple[str, str],
) -> None:
    base, url = served
    steps = ",".join(str(p) for p in range(5, 101, 5))
    with Load(base, 60, direct_rate=10) as load:
        # Direct /api/v4 calls fail half the time during the whole rollout.
        cli(
            url,
            "drill",
            "--group",
            "restaurants",
            "--error-rate",
            "0.5",
            "--traffic",
            "direct",
            "--duration",
            "10m",
            "--no-wait",
        )
        cli(
            url,
            "rollout",
            "start",
            "--flag",
            "api_v4_restaurants",
            "--steps",
            steps,
            "--increment-interval",
            "5s",
            "--monitoring-period",
            "10s",
            "--evaluation-interval",
            "1s",
            "--min-requests",
            "10",
            # A loaded machine may fall behind the 60 requests/s for a while: that is a
            # quiet spell (inconclusive), not a reason to pause this test's rollout.
            "--progress-deadline",
            "2m",
        )
        deadline = time.monotonic() + 240
        state = "running"
        while time.monotonic() < deadline:
            state = rollout_status(url)["rollouts"][0]["state"]
            if state != "running":
                break
            time.sleep(2)
    assert state == "completed", rollout_status(url)["rollouts"][0]["last_reason"]
    assert load.statuses["direct"].get(500, 0) > 10  # the direct errors really happened
    report = cli(url, "rollout", "report", "--flag", "api_v4_restaurants", "--format", "json")
    actions = [d["action"] for d in report["decisions"] if d["action"] != "hold"]
    assert "step_back" not in actions and "emergency_rollback" not in actions
    assert actions[0] == "start" and actions[-1] == "complete"
    assert actions.count("increment") == 19
    assert httpx.get(f"{base}/api/restaurants?limit=5").headers["x-api-version"] == "v4"


def lease_holder(url: str) -> str | None:
    controller = cli(url, "rollout", "status")["controller"]
    return controller["instance"] if controller else None


def pid_of(instance: str) -> int:
    """Instance names are ``<host>-<pid>-<random>`` (monitoring.pipeline.instance_name)."""
    return int(instance.rsplit("-", 2)[1])


def test_failover_after_the_holder_is_killed(fresh_postgres: str, tmp_path: Path) -> None:
    """Two instances; SIGKILL the lease holder mid-rollout; the other takes over within the
    lease time and finishes the rollout with no step repeated or skipped."""
    import os
    import signal

    postgres_url = fresh_postgres
    env = {
        "BISTRO_DATABASE_URL": postgres_url,
        "BISTRO_MONITORING_FLUSH_INTERVAL": "1",
        "BISTRO_ROLLOUT_TICK_SECONDS": "0.25",
        "BISTRO_ROLLOUT_LEASE_SECONDS": "3",
        "BISTRO_ROLLOUT_HEARTBEAT_SECONDS": "1",
        "BISTRO_DEMO": "false",
    }
    with (
        bistro_serve(env, tmp_path / "a.log", timeout=120) as base_a,
        bistro_serve(env, tmp_path / "b.log", timeout=120) as base_b,
        Load(base_a, 30),
        Load(base_b, 30),
    ):
        cli(
            postgres_url, "rollout", "start", "--flag", "api_v4_restaurants",
            "--steps", "10,20,30,40,50,60,70,80,90,100", "--increment-interval", "3s",
            "--monitoring-period", "10s", "--evaluation-interval", "1s", "--min-requests", "5",
            "--progress-deadline", "2m",
        )  # fmt: skip
        deadline = time.monotonic() + 30
        while (holder := lease_holder(postgres_url)) is None:
            assert time.monotonic() < deadline, "no instance took the lease"
            time.sleep(0.5)
        # Let it move a couple of steps, then kill the holder without a chance to clean up.
        deadline = time.monotonic() + 60
        while rollout_status(postgres_url)["rollouts"][0]["percentage"] < 30:
            assert time.monotonic() < deadline
            time.sleep(0.5)
        os.kill(pid_of(holder), signal.SIGKILL)
        killed_at = time.monotonic()
        while (new := lease_holder(postgres_url)) in (None, holder):
            assert time.monotonic() - killed_at < 15, "nobody took over"
            time.sleep(0.2)
        takeover = time.monotonic() - killed_at
        deadline = time.monotonic() + 180
        while rollout_status(postgres_url)["rollouts"][0]["state"] == "running":
            assert time.monotonic() < deadline
            time.sleep(1)
    assert new != holder
    # The lease time, plus a tick, the status CLI (a process start each poll) and load.
    assert takeover <= 3 + 6
    report = cli(
        postgres_url, "rollout", "report", "--flag", "api_v4_restaurants", "--format", "json"
    )
    moves = [d for d in report["decisions"] if d["action"] in ("start", "increment")]
    assert [d["to_percentage"] for d in moves] == [10, 20, 30, 40, 50, 60, 70, 80, 90, 100]
    assert report["rollout"]["state"] == "completed"
    versions = [d["version"] for d in report["decisions"]]
    assert versions == sorted(set(versions))
    print(f"failover: lease taken over {takeover:.2f} s after SIGKILL")


def test_sigterm_releases_the_lease(fresh_postgres: str, tmp_path: Path) -> None:
    postgres_url = fresh_postgres
    env = {"BISTRO_DATABASE_URL": postgres_url, "BISTRO_ROLLOUT_TICK_SECONDS": "0.25"}
    with bistro_serve(env, tmp_path / "server.log", timeout=120):
        deadline = time.monotonic() + 30
        while lease_holder(postgres_url) is None:
            assert time.monotonic() < deadline
            time.sleep(0.3)
    # bistro_serve sent SIGTERM and waited: the lease is free at once, not at expiry.
    assert lease_holder(postgres_url) is None
