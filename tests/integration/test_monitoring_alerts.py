"""Alerts: fire on v4's error rate with enough samples, not on 3 requests; resolve; de-dup;
history; and a real local webhook receiver gets both events (after a failed first try)."""

from __future__ import annotations

import pytest

from bistro.core.clock import FakeClock
from bistro.core.settings import MonitoringSettings
from bistro.monitoring.runtime import STATE_KEY, Monitoring
from bistro.monitoring.sections import alerts_section
from tests.support import Factory, WebhookReceiver, app_client

V4_KEY = ("direct", "v4", "restaurants", "/restaurants", "2xx")
V4_ERR = ("direct", "v4", "restaurants", "/restaurants", "5xx")
CALM_HOST = {"cpu_percent": 5.0, "memory_percent": 20.0}


def record(monitoring: Monitoring, ok: int, errors: int, latency: float = 0.02) -> None:
    for _ in range(ok):
        monitoring.pipeline.recorder.record(V4_KEY, latency, 10)
    for _ in range(errors):
        monitoring.pipeline.recorder.record(V4_ERR, latency, 10)


async def test_error_rate_alert_fires_resolves_and_notifies(
    db_url: str, receiver: tuple[WebhookReceiver, str]
) -> None:
    hook, url = receiver
    settings = MonitoringSettings(  # type: ignore[call-arg]
        enabled=False,
        alert_min_samples=50,
        alert_window_seconds=300,
        BISTRO_ALERT_WEBHOOK_URL=url,
    )
    clock = FakeClock()
    async with (
        app_client(db_url, monitoring=settings, clock=clock) as (app, client),
        app_client(db_url, monitoring=settings, clock=clock) as (app_b, _),
    ):
        monitoring: Monitoring = app.state.bistro.extras[STATE_KEY]
        other: Monitoring = app_b.state.bistro.extras[STATE_KEY]
        sleeps: list[float] = []

        async def no_wait(seconds: float) -> None:
            sleeps.append(seconds)

        for m in (monitoring, other):
            m.notifier.sleep = no_wait
            m.alerts.sampler = lambda: CALM_HOST

        # 3 requests with 1 error (33 %) are too few to judge.
        record(monitoring, ok=2, errors=1)
        await monitoring.flush()
        assert await monitoring.alerts.evaluate() == []

        # 103 requests, 11 errors (10.7 %): fires, once, even with two instances evaluating.
        clock.advance(5)
        record(monitoring, ok=90, errors=10)
        await monitoring.flush()
        fired = await monitoring.alerts.evaluate()
        assert [(e["key"], e["state"]) for e in fired] == [("high_error_rate:v4", "firing")]
        assert fired[0]["value"] == pytest.approx(11 / 103, abs=1e-6)
        assert await other.alerts.evaluate() == []
        assert await monitoring.alerts.evaluate() == []

        admin = await Factory(app).user(role="admin")
        r = await client.get("/api/v4/migration/alerts", headers=admin.headers)
        active = r.json()["data"]["active"]
        assert [a["key"] for a in active] == ["high_error_rate:v4"]

        # The bad minutes leave the window; 200 requests at 1 % resolve it.
        clock.advance(400)
        await monitoring.flush()  # the periodic flush: a new interval starts now
        record(monitoring, ok=198, errors=2)
        await monitoring.flush()
        resolved = await monitoring.alerts.evaluate()
        assert [(e["key"], e["state"]) for e in resolved] == [("high_error_rate:v4", "resolved")]

        await monitoring.notifier.wait_idle()
        assert [e["alert"]["state"] for e in hook.events] == ["firing", "resolved"]
        assert all(e["alert"]["key"] == "high_error_rate:v4" for e in hook.events)
        assert "FIRING" in hook.events[0]["text"] and "v4" in hook.events[0]["text"]
        assert "RESOLVED" in hook.events[1]["text"]
        assert hook.attempts == 3 and sleeps == [0.5]  # one retry after the 503

        r = await client.get("/api/v4/migration/alerts", headers=admin.headers)
        data = r.json()["data"]
        assert data["active"] == []
        assert [(e["key"], e["state"]) for e in data["recent"]] == [
            ("high_error_rate:v4", "resolved"),
            ("high_error_rate:v4", "firing"),
        ]


async def test_latency_cpu_and_memory_rules(db_url: str) -> None:
    settings = MonitoringSettings(enabled=False, alert_min_samples=10)
    clock = FakeClock()
    async with app_client(db_url, monitoring=settings, clock=clock) as (app, _client):
        monitoring: Monitoring = app.state.bistro.extras[STATE_KEY]
        monitoring.alerts.sampler = lambda: {"cpu_percent": 93.0, "memory_percent": 81.0}
        record(monitoring, ok=20, errors=0, latency=1.5)
        await monitoring.flush()
        fired = {e["key"].split(":")[0]: e for e in await monitoring.alerts.evaluate()}
        assert set(fired) == {"high_p95_latency", "high_cpu", "high_memory"}
        assert fired["high_p95_latency"]["value"] == pytest.approx(1.5, rel=0.01)
        monitoring.alerts.sampler = lambda: CALM_HOST
        resolved = await monitoring.alerts.evaluate()
        assert {e["key"].split(":")[0] for e in resolved} == {"high_cpu", "high_memory"}


async def test_cache_hit_rate_floor_uses_cache_counters(db_url: str) -> None:
    settings = MonitoringSettings(
        enabled=False, alert_cache_hit_floor=0.6, alert_cache_min_lookups=100
    )
    clock = FakeClock()
    counts = {"l1": (0, 0), "l2": (0, 0)}
    async with app_client(db_url, monitoring=settings, clock=clock) as (app, _client):
        monitoring: Monitoring = app.state.bistro.extras[STATE_KEY]
        monitoring.alerts.sampler = lambda: CALM_HOST
        monitoring.pipeline.cache_counts = lambda: counts
        counts.update(l1=(30, 70), l2=(10, 60))  # 40 of 100 lookups served from cache
        await monitoring.flush()
        summary = await monitoring.pipeline.summary(300)
        assert summary["cache"]["hit_rate"] == 0.4
        assert summary["versions"]["v4"]["cache_hit_rate"] == 0.4
        fired = await monitoring.alerts.evaluate()
        assert [e["key"] for e in fired] == ["low_cache_hit_rate:v4"]
        clock.advance(400)
        await monitoring.flush()
        counts.update(l1=(130, 80), l2=(15, 65))  # +100 L1 hits, +10 misses
        await monitoring.flush()
        resolved = await monitoring.alerts.evaluate()
        assert [(e["key"], e["state"]) for e in resolved] == [("low_cache_hit_rate:v4", "resolved")]


async def test_database_failure_alert_is_local_then_recorded(db_url: str) -> None:
    settings = MonitoringSettings(enabled=False)
    async with app_client(db_url, monitoring=settings) as (app, _client):
        monitoring: Monitoring = app.state.bistro.extras[STATE_KEY]
        monitoring.alerts.sampler = lambda: CALM_HOST
        monitoring.pipeline.consecutive_failures = 3  # three flushes in a row failed
        fired = await monitoring.alerts.evaluate()
        assert [(e["key"], e["state"]) for e in fired] == [
            ("database_connection:primary", "firing")
        ]
        monitoring.pipeline.consecutive_failures = 0
        resolved = await monitoring.alerts.evaluate()
        assert [e["state"] for e in resolved] == ["resolved"]
        async with app.state.bistro.db.unit_of_work() as session:
            history = (await alerts_section(session))["recent"]
        assert [e["state"] for e in history] == ["resolved", "firing"]


async def test_alerts_and_status_judge_client_traffic_only(db_url: str) -> None:
    """Failing shadow and synthetic traffic, slow aborted requests: no alert, and the status
    numbers show client traffic only (with the aborts counted apart)."""
    settings = MonitoringSettings(enabled=False, alert_min_samples=50)  # type: ignore[call-arg]
    async with app_client(db_url, monitoring=settings, clock=FakeClock()) as (app, _client):
        monitoring: Monitoring = app.state.bistro.extras[STATE_KEY]
        monitoring.alerts.sampler = lambda: CALM_HOST
        recorder = monitoring.pipeline.recorder
        for source in ("shadow", "synthetic"):
            for _ in range(200):
                recorder.record((source, "v4", "restaurants", "/restaurants", "5xx"), 3.0, 10)
        for _ in range(200):
            recorder.record(("stable", "v4", "restaurants", "/restaurants", "client_abort"), 9.0, 0)
        for _ in range(60):
            recorder.record(("stable", "v4", "restaurants", "/restaurants", "2xx"), 0.01, 10)
        assert await monitoring.flush()
        transitions = await monitoring.alerts.evaluate()
        assert [e for e in transitions if e["rule"] != "database_connection"] == []
        v4 = (await monitoring.pipeline.summary(300))["versions"]["v4"]
        assert (v4["requests"], v4["errors_5xx"], v4["client_aborts"]) == (60, 0, 200)
        assert v4["latency_ms"]["p95"] < 20
