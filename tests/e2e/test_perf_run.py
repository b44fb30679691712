"""``bistro perf run`` against a real server (127.0.0.1 only, a few seconds each).

- a 1 s SIGSTOP of the server shows in the open-loop p99 (latency from the intended send
  time) and not in the closed-loop p99 (only the request in flight waits);
- the reported percentiles match the raw per-request latencies within 1 %;
- bad input (unreachable URL, a non-Bistro URL, a rate that cannot be reached) exits 2 with
  one line.
"""

from __future__ import annotations

import asyncio
import http.server
import json
import os
import signal
import threading
import time
from collections.abc import Iterator
from functools import partial
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner

from bistro.cli.main import app
from bistro.perf.histogram import raw_percentile_ms
from bistro.perf.runner import PerfRun, RunOptions
from tests.e2e.perf_server import PerfServer, perf_server
from tests.support import free_port

pytestmark = [pytest.mark.slow]
runner = CliRunner()
STALL_S = 1.0


@pytest.fixture(scope="module")
def server(
    tmp_path_factory: pytest.TempPathFactory, _database_urls: dict[str, str]
) -> Iterator[PerfServer]:
    from tests.support import migrated_database

    tmp = tmp_path_factory.mktemp("perf")
    url = migrated_database("sqlite", str(tmp))
    with perf_server(url, tmp / "server.log") as srv:
        yield srv


def run_with_stall(srv: PerfServer, **options: object) -> dict:
    """A run during which the server process is stopped for STALL_S, 1.2 s after the start."""
    opts = RunOptions(
        base_url=srv.base,
        endpoints=("detail",),
        duration_s=4.0,
        warmup_s=0,
        slice_s=1.0,
        cache_phase=False,
        keep_raw=True,
        **options,  # type: ignore[arg-type]
    )

    def stall() -> None:
        time.sleep(1.2)
        os.kill(srv.pid, signal.SIGSTOP)
        try:
            time.sleep(STALL_S)
        finally:
            os.kill(srv.pid, signal.SIGCONT)

    stopper = threading.Thread(target=stall)
    stopper.start()
    try:
        return asyncio.run(PerfRun(opts).execute())
    finally:
        stopper.join()


def merged_p(result: dict, key: str) -> float:
    return max(v[key] for v in result["endpoints"]["detail"]["versions"].values())


def test_a_stall_shows_in_open_loop_p99_and_hides_in_closed_loop(server: PerfServer) -> None:
    open_run = run_with_stall(server, rate=40.0)
    closed_run = run_with_stall(server, concurrency=1)

    # Open loop: every request due during the stall waits for it, measured from its due time.
    assert merged_p(open_run, "p99_ms") >= 0.6 * STALL_S * 1000
    # Closed loop saw the stall (its slowest request) but its p99 does not show it.
    assert merged_p(closed_run, "max_ms") >= 0.8 * STALL_S * 1000
    closed_p99 = max(
        v["p99_ms"]
        for v in closed_run["endpoints"]["detail"]["versions"].values()
        if v["count"] >= 100
    )
    assert closed_p99 < 0.5 * merged_p(open_run, "p99_ms")
    assert closed_run["endpoints"]["detail"]["versions"]["v3"]["count"] >= 100

    # Reported percentiles agree with the raw latencies the run kept (within 1 %).
    for run in (open_run, closed_run):
        for version, raw in run["raw_latencies_us"]["detail"].items():
            reported = run["endpoints"]["detail"]["versions"][version]
            assert reported["count"] == len(raw)
            for p in (50.0, 90.0, 95.0, 99.0, 99.9):
                expected = raw_percentile_ms(raw, p)
                got = reported[f"p{p:g}_ms"]
                assert abs(got - expected) <= 0.01 * expected, (version, p, got, expected)
            assert abs(reported["max_ms"] - max(raw) / 1000) <= 0.01 * max(raw) / 1000

    generator = open_run["generator"]
    assert generator["sent"] == sum(
        v["requests"] for v in open_run["endpoints"]["detail"]["versions"].values()
    )
    assert generator["cpu_per_request_us"] > 0


def one_line_error(result: object) -> str:
    lines = [line for line in result.stderr.splitlines() if line.strip()]  # type: ignore[attr-defined]
    assert len(lines) == 1, result.stderr  # type: ignore[attr-defined]
    assert lines[0].startswith("error: ")
    return lines[0]


def test_unreachable_url_exits_2_with_one_line() -> None:
    url = f"http://127.0.0.1:{free_port()}"
    result = runner.invoke(app, ["perf", "run", "--base-url", url, "--rate", "10"])
    assert result.exit_code == 2
    assert f"cannot reach {url}" in one_line_error(result)


class QuietFiles(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass  # its access log would land in the captured stderr


def test_a_service_that_is_not_bistro_exits_2(tmp_path: Path) -> None:
    httpd = http.server.ThreadingHTTPServer(
        ("127.0.0.1", 0), partial(QuietFiles, directory=str(tmp_path))
    )
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        url = f"http://127.0.0.1:{httpd.server_address[1]}"
        result = runner.invoke(app, ["perf", "run", "--base-url", url, "--concurrency", "2"])
    finally:
        httpd.shutdown()
    assert result.exit_code == 2
    assert "is not a Bistro service" in one_line_error(result)


def test_a_rate_the_generator_cannot_reach_exits_2_saying_what_it_reached(
    server: PerfServer,
) -> None:
    started = time.monotonic()
    result = runner.invoke(
        app,
        [
            "perf", "run", "--base-url", server.base, "--endpoints", "detail",
            "--rate", "1000000", "--warmup", "1s", "--duration", "2s",
        ],
    )  # fmt: skip
    assert result.exit_code == 2
    line = one_line_error(result)
    assert "1e+06 req/s" in line and "reached" in line
    assert time.monotonic() - started < 30


def test_usage_errors_exit_2(server: PerfServer) -> None:
    for args, words in (
        (["--rate", "10", "--concurrency", "2"], "exactly one of --rate"),
        (["--rate", "10", "--endpoints", "detail,nope"], "unknown endpoint nope"),
        (["--rate", "10", "--endpoints", "write"], "needs --token"),
        (["--rate", "10", "--duration", "soon"], "cannot read the duration"),
    ):
        result = runner.invoke(app, ["perf", "run", "--base-url", server.base, *args])
        assert result.exit_code == 2, result.stderr
        assert words in one_line_error(result)


@pytest.mark.browser
def test_a_run_with_writes_and_its_html_report_drawn_offline(
    server: PerfServer, tmp_path: Path
) -> None:
    """A run with an admin token (writes, cache phase, resources), then its HTML report in
    headless Chromium with the network off: every chart has data; screenshot saved."""
    from playwright.sync_api import sync_playwright

    from tests.e2e.test_dashboard_browser import ARTIFACTS, CHROMIUM_ARGS

    saved = tmp_path / "run.json"
    result = runner.invoke(
        app,
        [
            "perf", "run", "--base-url", server.base, "--endpoints", "detail,list,write",
            "--rate", "30", "--duration", "2s", "--warmup", "0", "--slice", "0.5s",
            "--token", server.token, "--output", str(saved), "--json",
        ],
    )  # fmt: skip
    assert result.exit_code == 0, result.stderr
    run = json.loads(result.stdout)
    assert json.loads(saved.read_text()) == run
    for version in ("v3", "v4"):
        statuses = run["endpoints"]["write"]["versions"][version]["statuses"]
        assert statuses and all(s.startswith("2") for s in statuses), statuses
    # The writes cleaned up after themselves.
    headers = {"Authorization": f"Bearer {server.token}"}
    me = httpx.get(f"{server.base}/api/v4/users/me", headers=headers, timeout=30).json()
    mine = httpx.get(
        f"{server.base}/api/v4/reviews", params={"user_id": me["data"]["id"]}, timeout=30
    ).json()
    assert mine["data"] == []
    # Cold reads miss, warm reads hit L1 (SQLite: no Redis, so no L2 pass).
    passes = run["cache"]["passes"]
    assert passes["cold"]["levels"]["misses"] >= 1
    assert passes["warm_l1"]["levels"]["l1_hits"] >= 1
    assert passes["warm_l1"]["levels"]["misses"] == 0
    (instance,) = run["resources"]["instances"].values()
    assert instance["rss_before_bytes"] > 0 and instance["rss_after_bytes"] > 0

    page_path = tmp_path / "report.html"
    report = runner.invoke(app, ["perf", "report", str(saved), "--html", str(page_path)])
    assert report.exit_code == 0, report.stderr
    ARTIFACTS.mkdir(exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
        context = browser.new_context(offline=True, viewport={"width": 1280, "height": 1600})
        page = context.new_page()
        page.goto(page_path.as_uri())
        page.wait_for_selector("body[data-ready='1']", timeout=30_000)
        curves = page.eval_on_selector_all("canvas.curve", "cs => cs.map(c => c.id)")
        assert sorted(curves) == [
            "chart-curve-detail", "chart-curve-list", "chart-curve-write",
        ]  # fmt: skip
        for canvas in [*curves, "chart-throughput"]:
            points = json.loads(page.eval_on_selector(f"#{canvas}", "c => c.dataset.points"))
            assert set(points) == {"v3", "v4"}, (canvas, points)
            assert min(points.values()) > 0, (canvas, points)
        page.screenshot(path=str(ARTIFACTS / "perf-report.png"), full_page=True)
        browser.close()
    assert (ARTIFACTS / "perf-report.png").stat().st_size > 10_000


def test_it_warns_before_starting_while_a_rollout_is_running(server: PerfServer) -> None:
    admin = {"Authorization": f"Bearer {server.token}"}
    started = httpx.post(
        f"{server.base}/api/v4/migration/rollout/start",
        json={"flags": ["api_v4_statistics"], "config": {"steps": "5,20,100"}},
        headers=admin,
        timeout=30,
    )
    assert started.status_code == 200, started.text
    try:
        result = runner.invoke(
            app,
            [
                "perf", "run", "--base-url", server.base, "--endpoints", "detail",
                "--rate", "10", "--duration", "1s", "--warmup", "0", "--slice", "0.5s",
                "--token", server.token, "--no-cache-phase", "--json",
            ],
        )  # fmt: skip
    finally:
        stopped = httpx.post(
            f"{server.base}/api/v4/migration/rollout/stop",
            json={"flag": "api_v4_statistics", "reason": "perf test done"},
            headers=admin,
            timeout=30,
        )
        assert stopped.status_code == 200, stopped.text
    assert result.exit_code == 0, result.stderr
    assert "warning: rollout of api_v4_statistics (at 5 %) is running" in result.stderr
    assert json.loads(result.stdout)["warnings"][0].startswith("rollout of api_v4_statistics")
    # Without a rollout running, no warning.
    quiet = runner.invoke(
        app,
        [
            "perf", "run", "--base-url", server.base, "--endpoints", "detail",
            "--rate", "10", "--duration", "1s", "--warmup", "0", "--slice", "0.5s",
            "--token", server.token, "--no-cache-phase", "--json",
        ],
    )  # fmt: skip
    assert quiet.exit_code == 0 and "warning" not in quiet.stderr
