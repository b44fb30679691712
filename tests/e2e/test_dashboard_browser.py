"""Browser test: a real server under load, /dashboard in headless Chromium (Playwright),
sign-in as an admin, charts update live and show v3 and v4 series, the rollout panel's
buttons steer a rollout; screenshot saved."""

from __future__ import annotations

import asyncio
import contextlib
import json
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import sync_playwright

from tests.support import DEFAULT_PASSWORD, Factory, bistro_serve, make_settings, running_app

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "artifacts"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def make_admin(url: str) -> str:
    from bistro.app import create_app

    async def _make() -> str:
        app = create_app(make_settings(url))
        async with running_app(app):
            return (await Factory(app).user(role="admin")).email

    return asyncio.run(_make())


@pytest.fixture
def server(sqlite_url: str, tmp_path: Path) -> Iterator[tuple[str, str]]:
    email = make_admin(sqlite_url)
    env = {
        "BISTRO_DATABASE_URL": sqlite_url,
        "BISTRO_MONITORING_FLUSH_INTERVAL": "1",
        "BISTRO_DEMO": "false",
    }
    # Generous: on a loaded 2-core machine importing the app alone can take 20 s.
    with bistro_serve(env, tmp_path / "server.log", timeout=120) as base:
        yield base, email


def load(base: str, stop: threading.Event) -> None:
    """Steady traffic on both versions (v3 answers 404 where its routes are not built)."""
    with httpx.Client(base_url=base, timeout=30) as client:
        while not stop.is_set():
            for path in (
                "/api/v4/restaurants?limit=5",
                "/api/v4/restaurants/999999",
                "/api/v3/restaurants?limit=5",
            ):
                # A slow answer on a busy machine must not stop the load.
                with contextlib.suppress(httpx.HTTPError):
                    client.get(path)
            time.sleep(0.01)


def series_points(page: object, canvas_id: str) -> dict[str, int]:
    raw = page.eval_on_selector(f"#{canvas_id}", "c => c.dataset.seriesPoints || '{}'")  # type: ignore[attr-defined]
    return dict(json.loads(raw))


def row_state(page: object, flag: str) -> tuple[str, str]:
    found = page.eval_on_selector(  # type: ignore[attr-defined]
        f"#rollouts tr[data-flag='{flag}']", "r => [r.dataset.state, r.dataset.percentage]"
    )
    return found[0], found[1]


def steer_rollout_from_the_panel(page: Any, base: str, email: str) -> None:
    """Start a rollout through the admin API, then pause, resume, promote and roll it back
    with the panel's buttons, as an operator would; each click is checked in the panel."""
    token = httpx.post(
        f"{base}/api/v4/auth/login", json={"email": email, "password": DEFAULT_PASSWORD}
    ).json()["data"]["token"]
    started = httpx.post(
        f"{base}/api/v4/migration/rollout/start",
        json={"flags": ["api_v4_reviews"], "config": {"steps": "5,20,100"}},
        headers={"Authorization": f"Bearer {token}"},
    )
    assert started.status_code == 200, started.text
    flag = "api_v4_reviews"
    row = f"#rollouts tr[data-flag='{flag}']"
    page.wait_for_selector(f"{row}[data-state='running']", timeout=30_000)
    assert row_state(page, flag) == ("running", "5")
    assert "start" in page.inner_text("#decisions")
    page.click(f"{row} button[data-action='pause']")
    page.wait_for_selector(f"{row}[data-state='paused']", timeout=30_000)
    page.click(f"{row} button[data-action='resume']")
    page.wait_for_selector(f"{row}[data-state='running']", timeout=30_000)
    page.click(f"{row} button[data-action='promote']")
    page.wait_for_selector(f"{row}[data-percentage='20']", timeout=30_000)
    page.once("dialog", lambda dialog: dialog.accept())
    page.click(f"{row} button[data-action='rollback']")
    page.wait_for_selector(f"{row}[data-state='rolled_back']", timeout=30_000)
    assert row_state(page, flag) == ("rolled_back", "0")
    decisions = page.inner_text("#decisions")
    for action in ("pause", "resume", "promote", "emergency_rollback"):
        assert action in decisions
    assert "admin:" in decisions  # the admin is the actor of each click
    flags = httpx.get(
        f"{base}/api/v4/migration/flags", headers={"Authorization": f"Bearer {token}"}
    ).json()["data"]
    by_name = {f["name"]: f for f in flags}
    assert by_name[flag]["stage"] == "disabled"


def test_dashboard_draws_live_v3_and_v4_charts(server: tuple[str, str]) -> None:
    base, email = server
    stop = threading.Event()
    loader = threading.Thread(target=load, args=(base, stop), daemon=True)
    loader.start()
    ARTIFACTS.mkdir(exist_ok=True)
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
            page = browser.new_page(viewport={"width": 1280, "height": 1500})
            page.goto(f"{base}/dashboard")
            # Not in demo mode: the page asks an admin to sign in.
            page.wait_for_selector("#login:not([hidden])", timeout=30_000)
            page.fill("#email", email)
            page.fill("#password", DEFAULT_PASSWORD)
            page.click("#login-form button[type=submit]")
            page.wait_for_selector("#main:not([hidden])", timeout=30_000)
            # Wait for flushed traffic of both versions to reach the charts.
            page.wait_for_function(
                """() => {
                    const c = document.getElementById('chart-throughput');
                    const pts = JSON.parse(c.dataset.seriesPoints || '{}');
                    return pts.v3 > 0 && pts.v4 > 0;
                }""",
                timeout=60_000,
            )
            first = int(page.eval_on_selector("#chart-throughput", "c => c.dataset.updates"))
            before = page.eval_on_selector("#summary", "e => e.innerText")
            # Live: the charts redraw with new numbers on the next polls.
            page.wait_for_function(
                f"() => Number(document.getElementById('chart-throughput').dataset.updates) "
                f">= {first + 2}",
                timeout=45_000,
            )
            after = page.eval_on_selector("#summary", "e => e.innerText")
            assert after != before
            assert page.eval_on_selector("#chart-throughput", "c => c.dataset.series") == "v3,v4"
            assert page.eval_on_selector("#chart-errors", "c => c.dataset.series") == "v3,v4"
            # v3 and v4 latency on one chart, one scale.
            latency = series_points(page, "chart-latency")
            assert latency["v4 p95"] > 0 and latency["v3 p95"] > 0
            assert page.eval_on_selector("#chart-latency", "c => c.dataset.series") == (
                "v3 p50,v3 p95,v3 p99,v4 p50,v4 p95,v4 p99"
            )
            tiles = page.eval_on_selector_all(".tile", "ts => ts.map(t => t.dataset.version)")
            assert tiles == ["v3", "v4"]
            # The parity panel: one row per group with comparisons, and the total.
            groups = page.eval_on_selector_all("#parity tr", "rs => rs.map(r => r.dataset.group)")
            assert groups[-1] == "all"
            assert "No rollout started" in page.inner_text("#rollouts")
            steer_rollout_from_the_panel(page, base, email)
            page.screenshot(path=str(ARTIFACTS / "dashboard.png"), full_page=True)
            browser.close()
    finally:
        stop.set()
        loader.join(timeout=10)
    assert (ARTIFACTS / "dashboard.png").stat().st_size > 10_000
