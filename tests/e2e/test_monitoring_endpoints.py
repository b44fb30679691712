"""/metrics (Prometheus exposition, promtool-valid), health, and one access-log line per
request, through the real app."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import textwrap

import httpx
from prometheus_client.parser import text_string_to_metric_families

from bistro.core.clock import FakeClock
from bistro.monitoring.runtime import STATE_KEY, Monitoring
from tests.support import REDIS_URL, Factory, app_client

V4 = "/api/v4"


def samples(text: str) -> dict[str, list[tuple[dict[str, str], float]]]:
    out: dict[str, list[tuple[dict[str, str], float]]] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            out.setdefault(sample.name, []).append((sample.labels, sample.value))
    return out


def check_with_promtool(text: str) -> None:
    promtool = shutil.which("promtool")
    assert promtool, "promtool is installed by `make test` (Debian package prometheus)"
    result = subprocess.run(
        [promtool, "check", "metrics"], input=text.encode(), capture_output=True, timeout=30
    )
    assert result.returncode == 0, result.stdout + result.stderr


async def test_metrics_endpoint_counts_real_requests(db_url: str) -> None:
    async with app_client(db_url) as (app, client):
        user = await Factory(app).user()
        for _ in range(3):
            assert (await client.get(f"{V4}/users/me", headers=user.headers)).status_code == 200
        assert (await client.get(f"{V4}/users/me")).status_code == 401
        assert (await client.get(f"{V4}/nope")).status_code == 404
        r = await client.get("/metrics")
        assert r.status_code == 200
        assert r.headers["content-type"].startswith("text/plain")
        found = samples(r.text)
        requests = {
            (s["version"], s["group"], s["route"], s["status_class"]): v
            for s, v in found["bistro_http_requests_total"]
        }
        assert requests[("v4", "users", "/users/me", "2xx")] == 3, requests
        assert requests[("v4", "users", "/users/me", "4xx")] == 1
        assert requests[("none", "other", "unmatched", "4xx")] == 1
        buckets = {
            s["le"]: v
            for s, v in found["bistro_http_request_duration_seconds_bucket"]
            if s["route"] == "/users/me"
        }
        assert buckets["+Inf"] == 4
        counts = [
            v
            for s, v in found["bistro_http_request_duration_seconds_count"]
            if s["route"] == "/users/me"
        ]
        assert counts == [4]
        assert any(
            v > 0 for s, v in found["bistro_http_response_bytes_total"] if s["route"] == "/users/me"
        )
        assert "process_resident_memory_bytes" in found
        check_with_promtool(r.text)


def test_multiprocess_mode_merges_workers(tmp_path: object) -> None:
    """Two worker processes write their own files; a scrape in a third sees the sum."""
    directory = str(tmp_path)
    env = dict(os.environ, PROMETHEUS_MULTIPROC_DIR=directory, PYTHONPATH="src")
    worker = textwrap.dedent("""
        from bistro.monitoring.prom import PrometheusExporter
        from bistro.monitoring.recorder import Recorder
        recorder = Recorder()
        for i in range(5):
            key = ("direct", "v4", "restaurants", "/restaurants", "2xx")
            recorder.record(key, 0.003 * (i + 1), 10)
        PrometheusExporter().apply(recorder.drain())
    """)
    scrape = textwrap.dedent("""
        import sys
        from bistro.monitoring.prom import PrometheusExporter
        sys.stdout.write(PrometheusExporter().render()[0].decode())
    """)
    for _ in range(2):
        subprocess.run([sys.executable, "-c", worker], env=env, check=True, timeout=300)
    out = subprocess.run(
        [sys.executable, "-c", scrape], env=env, check=True, timeout=300, capture_output=True
    ).stdout.decode()
    found = samples(out)
    assert [v for s, v in found["bistro_http_requests_total"]] == [10]
    le = {s["le"]: v for s, v in found["bistro_http_request_duration_seconds_bucket"]}
    assert le["0.005"] == 2 and le["0.01"] == 6 and le["0.025"] == 10
    check_with_promtool(out)


async def test_health_reports_components(db_url: str) -> None:
    async with app_client(db_url, clock=FakeClock()) as (app, client):
        monitoring: Monitoring = app.state.bistro.extras[STATE_KEY]
        await monitoring.flush()
        r = await client.get(f"{V4}/migration/health")
        assert r.status_code == 200, r.text
        data = r.json()["data"]
        assert data["status"] in ("healthy", "degraded")
        components = data["components"]
        assert set(components) == {"database", "cache", "services", "process"}
        assert components["database"]["status"] == "healthy"
        assert components["database"]["round_trip_ms"] >= 0
        assert components["database"]["pool"]["capacity"] >= 1
        assert components["cache"]["redis"] == "not configured (L1 only)"
        assert components["process"]["rss_bytes"] > 10_000_000
        assert components["services"]["metrics_flusher"]["consecutive_failures"] == 0


async def test_redis_down_is_degraded_not_unhealthy(sqlite_url: str) -> None:
    async with app_client(sqlite_url, redis_url="redis://127.0.0.1:1/0") as (_app, client):
        r = await client.get(f"{V4}/migration/health")
        assert r.status_code == 200
        cache = r.json()["data"]["components"]["cache"]
        assert cache["status"] == "degraded" and cache["redis"] == "unreachable"
    async with app_client(sqlite_url, redis_url=REDIS_URL) as (_app, client):
        r = await client.get(f"{V4}/migration/health")
        cache = r.json()["data"]["components"]["cache"]
        assert cache["status"] == "healthy" and cache["ping_ms"] >= 0


async def test_database_down_is_unhealthy_503(tmp_path: object) -> None:
    url = "postgresql+asyncpg://postgres@127.0.0.1:1/nowhere"
    async with app_client(url) as (_app, client):
        r = await client.get(f"{V4}/migration/health")
        assert r.status_code == 503
        body = r.json()
        assert body["success"] is False
        assert body["data"]["components"]["database"]["status"] == "unhealthy"


async def test_one_access_log_line_per_request(sqlite_url: str, capsys: object) -> None:
    import json

    from bistro.app import create_app
    from bistro.core.logging import configure_logging
    from bistro.core.settings import ServerSettings
    from tests.support import make_settings, running_app

    settings = make_settings(sqlite_url)
    settings.server = ServerSettings(log_format="json", log_level="info")
    app = create_app(settings)
    try:
        async with running_app(app):
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
                r = await client.get(f"{V4}/users/me", headers={"X-Request-ID": "req-42"})
                assert r.status_code == 401
                r = await client.get("/api/restaurants", headers={"X-Client-ID": "c-1"})
                assert r.status_code == 200
        err = capsys.readouterr().err  # type: ignore[attr-defined]
        lines = [
            json.loads(line)
            for line in err.splitlines()
            if '"event": "request"' in line or '"event":"request"' in line
        ]
        assert len(lines) == 2
        line, stable = lines
        assert line["request_id"] == "req-42"
        assert (line["version"], line["route"], line["status"]) == ("v4", "/users/me", 401)
        assert line["latency_ms"] > 0
        assert line["stable_path"] is None and line["flag_reason"] is None
        # A stable-path request: the path routed, the path asked for, and why that version.
        assert (stable["path"], stable["version"]) == ("/api/v3/restaurants", "v3")
        assert stable["stable_path"] == "/api/restaurants"
        assert stable["flag_reason"] == "stage disabled"
    finally:
        configure_logging("console", "warning")


async def test_cache_counters_reach_status_and_metrics(db_url: str) -> None:
    """The app's real cache object (the v4 routes read through it): its L1 hits and misses
    show up in the window summary and in /metrics."""
    async with app_client(db_url, clock=FakeClock()) as (app, client):
        monitoring: Monitoring = app.state.bistro.extras[STATE_KEY]
        cache = app.state.bistro.extras["cache"]

        async def load() -> bytes:
            return b'{"id": 1}'

        for _ in range(4):
            assert await cache.get_or_load("restaurant:1", load, ttl=60) == b'{"id": 1}'
        await monitoring.flush()
        summary = await monitoring.pipeline.summary(300)
        assert summary["cache"]["levels"]["l1"] == {"hits": 3, "misses": 1, "hit_rate": 0.75}
        assert summary["cache"]["hit_rate"] == 0.75
        assert summary["versions"]["v4"]["cache_hit_rate"] == 0.75
        text_ = (await client.get("/metrics")).text
        lookups = {
            (s["level"], s["result"]): v for s, v in samples(text_)["bistro_cache_lookups_total"]
        }
        assert lookups == {("l1", "hit"): 3, ("l1", "miss"): 1}
