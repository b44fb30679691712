"""Helpers for the service benchmarks: a throwaway PostgreSQL database, a pinned server
process, and wrk runs parsed into numbers."""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import asyncpg
import httpx
import psutil
from sqlalchemy.engine import make_url

ROOT = Path(__file__).resolve().parents[1]
APP_FACTORY = "benchmarks.bench_app:create_bench_app"


class BenchError(Exception):
    pass


def ensure_debian_tool(command: str, package: str) -> str:
    """``command``'s path; installs the Debian ``package`` when it is missing."""
    found = shutil.which(command)
    if found:
        return found
    print(
        f"{command} is missing: installing the Debian package (apt-get install {package})",
        file=sys.stderr,
    )
    for cmd in (["apt-get", "update", "-qq"], ["apt-get", "install", "-y", "-qq", package]):
        if subprocess.run(cmd, check=False).returncode != 0:
            raise BenchError(f"cannot install {package}: run `apt-get install {package}` as root")
    found = shutil.which(command)
    if not found:
        raise BenchError(f"{command} is still missing after apt-get install {package}")
    return found


def ensure_wrk() -> str:
    """wrk's path; installs the Debian package when it is missing."""
    return ensure_debian_tool("wrk", "wrk")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _plain(url: str) -> str:
    return url.replace("postgresql+asyncpg://", "postgresql://", 1)


def create_database(admin_url: str) -> str:
    """A new empty PostgreSQL database next to ``admin_url``; returns its URL."""
    name = f"bistro_bench_{uuid.uuid4().hex[:10]}"

    async def _create() -> None:
        conn = await asyncpg.connect(_plain(admin_url))
        try:
            await conn.execute(f'CREATE DATABASE "{name}"')
        finally:
            await conn.close()

    asyncio.run(_create())
    return make_url(admin_url).set(database=name).render_as_string(hide_password=False)


def drop_database(admin_url: str, url: str) -> None:
    name = make_url(url).database

    async def _drop() -> None:
        conn = await asyncpg.connect(_plain(admin_url))
        try:
            await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await conn.close()

    asyncio.run(_drop())


def migrate_and_seed(url: str, restaurants: int, reviews: int, seed: int) -> dict[str, float]:
    from bistro.core.database import create_engine
    from bistro.core.migrate import upgrade
    from bistro.core.settings import DatabaseSettings
    from bistro.seed import SeedPlan, default_users, seed_database

    upgrade(url)
    plan = SeedPlan(restaurants, reviews, default_users(restaurants, reviews), seed)

    async def _seed() -> dict[str, float]:
        engine = create_engine(DatabaseSettings(url=url))
        try:
            report = await seed_database(engine, plan)
        finally:
            await engine.dispose()
        return {
            "seconds": report.seconds,
            "restaurants": report.restaurants,
            "reviews": report.reviews,
        }

    return asyncio.run(_seed())


@dataclass
class Server:
    """One uvicorn process (1 worker, uvloop + httptools, no access log) pinned to a core."""

    name: str
    database_url: str
    core: int
    env: dict[str, str] = field(default_factory=dict)
    port: int = 0
    process: subprocess.Popen[bytes] | None = None
    log_path: Path | None = None
    # Run the interpreter under this (e.g. valgrind), which may need longer to start.
    launcher: list[str] = field(default_factory=list)
    start_timeout: float = 60.0
    # The app it serves (a baseline app is its own minimal app), and the path that answers
    # 200 once it is up.
    app_factory: str = APP_FACTORY
    ready_path: str = "/readyz"
    # Where Bistro's counters are read (cache hits, access-log lines dropped); None for a
    # baseline app, which has none.
    stats_path: str | None = "/bench/cache-stats"
    # The server program: "uvicorn" (uvloop + httptools, as `bistro serve`) or "granian"
    # (its Rust HTTP server, ASGI interface, uvloop), for measuring one against the other.
    program: str = "uvicorn"

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        self.port = free_port()
        env = {
            **os.environ,
            "PYTHONPATH": os.pathsep.join([str(ROOT / "src"), str(ROOT)]),
            "BISTRO_DATABASE_URL": self.database_url,
            "BISTRO_LOG_LEVEL": "warning",
            "BISTRO_LOG_FORMAT": "json",
            **self.env,
        }
        cmd = ["taskset", "-c", str(self.core), *self.launcher, sys.executable, "-m"]
        if self.program == "granian":
            cmd += [
                "granian",
                "--interface",
                "asgi",
                "--factory",
                "--host",
                "127.0.0.1",
                "--port",
                str(self.port),
                "--workers",
                "1",
                "--runtime-threads",
                "1",
                "--loop",
                "uvloop",
                "--no-ws",
                "--no-access-log",
                "--log-level",
                "warning",
                self.app_factory,
            ]
        else:
            cmd += [
                "uvicorn",
                self.app_factory,
                "--factory",
                "--host",
                "127.0.0.1",
                "--port",
                str(self.port),
                "--loop",
                "uvloop",
                "--http",
                "httptools",
                "--no-access-log",
                "--log-level",
                "warning",
            ]
        handle, name = tempfile.mkstemp(prefix=f"bench-{self.name}-", suffix=".log")
        self.log_path = Path(name)
        self.process = subprocess.Popen(
            cmd, env=env, stdout=handle, stderr=subprocess.STDOUT, cwd=ROOT
        )
        os.close(handle)
        deadline = time.monotonic() + self.start_timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise BenchError(f"server {self.name} exited: {self.log_tail()}")
            try:
                if httpx.get(f"{self.base}{self.ready_path}", timeout=2).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.2)
        raise BenchError(f"server {self.name} did not become ready: {self.log_tail()}")

    def log_tail(self) -> str:
        if self.log_path is None or not self.log_path.exists():
            return ""
        return " | ".join(self.log_path.read_text(errors="replace").splitlines()[-5:])

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
        if self.log_path is not None:
            self.log_path.unlink(missing_ok=True)

    def warm(self, paths: list[str]) -> None:
        with httpx.Client(base_url=self.base, timeout=10) as client:
            for path in paths:
                response = client.get(path)
                if response.status_code != 200:
                    raise BenchError(f"warming {path}: {response.status_code}")

    def cpu_seconds(self) -> float:
        """CPU seconds of the server, its worker processes included (granian serves from a
        child process; uvicorn with one worker from its own)."""
        assert self.process is not None
        main = psutil.Process(self.process.pid)
        total = 0.0
        for process in [main, *main.children(recursive=True)]:
            try:
                times = process.cpu_times()
            except psutil.NoSuchProcess:
                continue
            total += times.user + times.system
        return total

    def stats(self) -> dict[str, int]:
        if self.stats_path is None:
            return {}
        found: dict[str, int] = self.get(self.stats_path).json()
        return found

    def get(self, path: str, headers: dict[str, str] | None = None) -> httpx.Response:
        return httpx.get(self.base + path, timeout=10, headers=headers)


@dataclass
class WrkResult:
    requests: int
    seconds: float
    rps: float
    latency_p50_ms: float
    latency_p99_ms: float
    non_2xx: int
    socket_errors: int
    # CPU seconds the server process spent during the run (user + system): requests per
    # CPU-second is steadier than req/s on a shared machine, where the server's core is
    # not always its own.
    server_cpu_s: float = float("nan")

    @property
    def requests_per_cpu_s(self) -> float:
        return self.requests / self.server_cpu_s if self.server_cpu_s > 0 else float("nan")


_UNITS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0}


def _ms(value: str) -> float:
    match = re.fullmatch(r"([\d.]+)(us|ms|s|m)", value)
    if not match:
        return float("nan")
    return float(match.group(1)) * _UNITS[match.group(2)]


def parse_wrk(output: str) -> WrkResult:
    rps = re.search(r"Requests/sec:\s+([\d.]+)", output)
    total = re.search(r"(\d+) requests in ([\d.]+)(us|ms|s|m)", output)
    if not rps or not total:
        raise BenchError(f"cannot parse wrk output: {output[-300:]}")
    p50 = re.search(r"^\s+50%\s+(\S+)", output, re.M)
    p99 = re.search(r"^\s+99%\s+(\S+)", output, re.M)
    non2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", output)
    errors = re.search(
        r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output
    )
    return WrkResult(
        requests=int(total.group(1)),
        seconds=_ms(total.group(2) + total.group(3)) / 1000,
        rps=float(rps.group(1)),
        latency_p50_ms=_ms(p50.group(1)) if p50 else float("nan"),
        latency_p99_ms=_ms(p99.group(1)) if p99 else float("nan"),
        non_2xx=int(non2xx.group(1)) if non2xx else 0,
        socket_errors=sum(int(g) for g in errors.groups()) if errors else 0,
    )


def lua_cycle(paths: list[str]) -> str:
    """A wrk script sending GETs to ``paths`` in turn (so each request hits another row)."""
    items = ",\n".join(f'  "{p}"' for p in paths)
    return (
        f"local paths = {{\n{items}\n}}\nlocal n = #paths\nlocal i = 0\n"
        'request = function()\n  i = i % n + 1\n  return wrk.format("GET", paths[i])\nend\n'
    )


def run_wrk(
    base: str,
    paths: list[str],
    *,
    seconds: float,
    connections: int,
    core: int,
    headers: dict[str, str] | None = None,
) -> WrkResult:
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
        script.write(lua_cycle(paths))
    try:
        cmd = [
            "taskset",
            "-c",
            str(core),
            ensure_wrk(),
            "-t1",
            f"-c{connections}",
            f"-d{max(1, round(seconds))}s",
            "--latency",
            "--timeout",
            "10s",
            "-s",
            script.name,
            *[arg for k, v in (headers or {}).items() for arg in ("-H", f"{k}: {v}")],
            base + paths[0],
        ]
        done = subprocess.run(
            cmd, capture_output=True, text=True, check=False, timeout=seconds + 60
        )
    finally:
        os.unlink(script.name)
    if done.returncode != 0:
        raise BenchError(f"wrk failed: {done.stderr.strip() or done.stdout.strip()}")
    return parse_wrk(done.stdout)
