"""Acceptance: two `bistro serve` processes sharing PostgreSQL see a CLI change within 1 s.

Real processes, real ports, the real CLI: the change is made by ``bistro migration partial``
in a third process, and the test measures how long each server takes to start routing a
client in the new rollout to v4 (each instance polls the change counter every 0.25 s).
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path

import httpx
import pytest

from bistro.migration.evaluation import rollout_bucket
from tests.support import ROOT, bistro_serve, child_env, truncate_all


def _settings(url: str) -> dict[str, str]:
    """What the servers and the CLI process are given on top of ``child_env``."""
    return {"BISTRO_DATABASE_URL": url, "BISTRO_MONITORING_ACCESS_LOG": "false"}


@pytest.fixture
def servers(postgres_url: str, tmp_path: Path) -> Iterator[list[str]]:
    asyncio.run(truncate_all(postgres_url))
    env = _settings(postgres_url)
    with ExitStack() as stack:
        yield [stack.enter_context(bistro_serve(env, tmp_path / f"server{n}.log")) for n in (0, 1)]


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
        env=child_env(_settings(postgres_url)),
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
