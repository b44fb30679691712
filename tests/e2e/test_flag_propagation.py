"""Acceptance: two `bistro serve` processes sharing PostgreSQL see a CLI change within 1 s.

Real processes, real ports, the real CLI: the change is made by ``bistro migration partial``
in a third process, and the test measures how long each server takes to start routing a
client in the new rollout to v4 (each instance polls the change counter every 0.25 s).
"""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from bistro.migration.evaluation import rollout_bucket
from tests.support import truncate_all

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _env(url: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("API_V4_")}
    env.update(
        {
            "PYTHONPATH": str(ROOT / "src"),
            "BISTRO_DATABASE_URL": url,
            "BISTRO_LOG_LEVEL": "warning",
            "BISTRO_MONITORING_ACCESS_LOG": "false",
        }
    )
    return env


@pytest.fixture
def servers(postgres_url: str, tmp_path: Path) -> Iterator[list[str]]:
    asyncio.run(truncate_all(postgres_url))
    started: list[subprocess.Popen[bytes]] = []
    bases = []
    try:
        for n in range(2):
            port = free_port()
            log = (tmp_path / f"server{n}.log").open("wb")
            started.append(
                subprocess.Popen(
                    [sys.executable, "-m", "bistro.cli.main", "serve", "--port", str(port)],
                    env=_env(postgres_url),
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    cwd=ROOT,
                )
            )
            bases.append(f"http://127.0.0.1:{port}")
        deadline = time.monotonic() + 60
        for proc, base in zip(started, bases, strict=True):
            while True:
                assert proc.poll() is None, (tmp_path / "server0.log").read_text()[-2000:]
                try:
                    if httpx.get(f"{base}/readyz", timeout=1).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                assert time.monotonic() < deadline, "server did not start within 60 s"
                time.sleep(0.1)
        yield bases
    finally:
        for proc in started:
            proc.terminate()
        for proc in started:
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


@pytest.mark.slow
def test_cli_change_reaches_both_servers_within_one_second(
    servers: list[str], postgres_url: str
) -> None:
    # A client whose bucket is inside 50 % but not inside 0 %: v3 before, v4 after.
    client_id = next(
        f"probe-{i}"
        for i in range(1000)
        if rollout_bucket("api_v4_restaurants", f"probe-{i}") <= 50
    )
    headers = {"X-Client-ID": client_id}
    for base in servers:
        r = httpx.get(f"{base}/api/restaurants", headers=headers, timeout=5)
        assert (r.status_code, r.headers["x-api-version"]) == (200, "v3")

    cli = subprocess.run(
        [
            sys.executable,
            "-m",
            "bistro.cli.main",
            "migration",
            "partial",
            "--percentage",
            "50",
            "--flag",
            "api_v4_restaurants",
        ],
        env=_env(postgres_url),
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    committed = time.monotonic()  # the CLI has committed and exited
    assert cli.returncode == 0, cli.stderr

    seen: dict[str, float] = {}
    with httpx.Client(timeout=2) as client:
        while len(seen) < len(servers) and time.monotonic() - committed < 5:
            for base in servers:
                if base not in seen:
                    r = client.get(f"{base}/api/restaurants", headers=headers)
                    if r.headers["x-api-version"] == "v4":
                        seen[base] = time.monotonic() - committed
            time.sleep(0.01)
    print(f"propagation after CLI commit: {sorted(round(s, 3) for s in seen.values())} s")
    assert len(seen) == 2, f"only {len(seen)} of 2 servers switched within 5 s"
    assert max(seen.values()) < 1.0, seen
    # And it stays: the next requests agree.
    for base in servers:
        assert (
            httpx.get(f"{base}/api/restaurants", headers=headers).headers["x-api-version"] == "v4"
        )
