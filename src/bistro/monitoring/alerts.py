"""Alert rules over a window of the shared metrics, with firing/resolved state and history.

Rules (DESIGN section 4): 5xx error rate and p95 per version, cache hit rate floor, process
host CPU and memory, database connection failures. A rule with too few samples in the window
is *inconclusive* and leaves the alert as it is. The state row per alert is updated with a
conditional UPDATE, so when several instances evaluate at once exactly one of them records
the transition and sends the notification.
"""

from __future__ import annotations

import socket
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import psutil
import structlog
from sqlalchemy import text

from bistro.core.clock import Clock
from bistro.core.database import Database
from bistro.core.settings import MonitoringSettings
from bistro.monitoring.notifier import WebhookNotifier
from bistro.monitoring.pipeline import MetricsPipeline
from bistro.monitoring.repository import AlertRepository

log = structlog.get_logger("bistro.alerts")

ProcessSampler = Callable[[], dict[str, float]]


def sample_host() -> dict[str, float]:
    """Host CPU % (since the previous call) and memory %, the numbers the alert rules use."""
    return {
        "cpu_percent": psutil.cpu_percent(interval=None),
        "memory_percent": psutil.virtual_memory().percent,
    }


@dataclass(frozen=True)
class Finding:
    rule: str
    subject: str
    breached: bool | None  # None: not enough data to say
    value: float
    threshold: float
    message: str

    @property
    def key(self) -> str:
        return f"{self.rule}:{self.subject}"


def evaluate_rules(
    summary: dict[str, Any] | None,
    host: dict[str, float],
    db_ok: bool,
    settings: MonitoringSettings,
    host_name: str,
) -> list[Finding]:
    s = settings
    findings = [
        Finding(
            "database_connection",
            "primary",
            not db_ok,
            0.0 if db_ok else 1.0,
            1.0,
            "database reachable" if db_ok else "database connection failed",
        ),
        Finding(
            "high_cpu",
            host_name,
            host["cpu_percent"] > s.alert_cpu_percent,
            host["cpu_percent"],
            s.alert_cpu_percent,
            f"CPU {host['cpu_percent']:.0f}% (threshold {s.alert_cpu_percent:.0f}%)",
        ),
        Finding(
            "high_memory",
            host_name,
            host["memory_percent"] > s.alert_memory_percent,
            host["memory_percent"],
            s.alert_memory_percent,
            f"memory {host['memory_percent']:.0f}% (threshold {s.alert_memory_percent:.0f}%)",
        ),
    ]
    if summary is None:
        return findings
    for version in ("v3", "v4"):
        entry = summary["versions"][version]
        n = entry["requests"]
        enough = n >= s.alert_min_samples
        rate = entry["error_rate"]
        findings.append(
            Finding(
                "high_error_rate",
                version,
                rate > s.alert_error_rate if enough else None,
                rate,
                s.alert_error_rate,
                f"{version} 5xx error rate {rate:.1%} over {n} requests "
                f"(threshold {s.alert_error_rate:.0%})",
            )
        )
        p95_ms = entry["latency_ms"]["p95"]
        p95 = (p95_ms or 0.0) / 1000
        findings.append(
            Finding(
                "high_p95_latency",
                version,
                p95 > s.alert_p95_seconds if enough else None,
                p95,
                s.alert_p95_seconds,
                f"{version} p95 latency {p95 * 1000:.0f} ms over {n} requests "
                f"(threshold {s.alert_p95_seconds * 1000:.0f} ms)",
            )
        )
    cache = summary["cache"]
    hit_rate = cache["hit_rate"]
    enough = cache["lookups"] >= s.alert_cache_min_lookups and hit_rate is not None
    findings.append(
        Finding(
            "low_cache_hit_rate",
            "v4",
            (hit_rate < s.alert_cache_hit_floor) if enough else None,
            hit_rate or 0.0,
            s.alert_cache_hit_floor,
            f"v4 cache hit rate {(hit_rate or 0.0):.1%} over {cache['lookups']} lookups "
            f"(floor {s.alert_cache_hit_floor:.0%})",
        )
    )
    return findings


class AlertManager:
    def __init__(
        self,
        settings: MonitoringSettings,
        db: Database,
        clock: Clock,
        pipeline: MetricsPipeline,
        notifier: WebhookNotifier,
        sampler: ProcessSampler = sample_host,
    ) -> None:
        self.settings = settings
        self.db = db
        self.clock = clock
        self.pipeline = pipeline
        self.notifier = notifier
        self.sampler = sampler
        # CPU and memory are the host's: every worker on a host shares one alert, and a
        # restarted process finds (and can resolve) the alert its predecessor raised.
        self.host_name = socket.gethostname()[:64]
        # The database rule cannot rely on the database to remember it is down.
        self._db_firing = False
        self._unrecorded: list[dict[str, Any]] = []

    async def _db_reachable(self) -> bool:
        try:
            async with self.db.engine.connect() as conn:
                await conn.execute(text("SELECT 1"))
        except Exception:
            ok = False
        else:
            ok = self.pipeline.consecutive_failures < 3
        self.pipeline.exporter.database_up.set(1 if ok else 0)
        return ok

    async def evaluate(self) -> list[dict[str, Any]]:
        """Evaluate every rule once; returns the transitions this instance recorded."""
        db_ok = await self._db_reachable()
        summary = None
        if db_ok:
            try:
                summary = await self.pipeline.summary(self.settings.alert_window_seconds)
            except Exception as exc:
                log.warning("alert_window_query_failed", error=type(exc).__name__)
                db_ok = False
        findings = evaluate_rules(summary, self.sampler(), db_ok, self.settings, self.host_name)
        now = self.clock.now()
        transitions: list[dict[str, Any]] = []
        db_finding = findings[0]
        if db_finding.breached != self._db_firing:
            # Handled locally: a down database cannot hold its own alert. The events reach
            # the history table once it answers again.
            self._db_firing = bool(db_finding.breached)
            event = self._event(db_finding, "firing" if self._db_firing else "resolved", now)
            transitions.append(event)
            self._unrecorded.append(event)
            self._send(event)
        if not db_ok:
            return transitions
        async with self.db.unit_of_work() as session:
            repo = AlertRepository(session)
            for event in self._unrecorded:
                await repo.record(event)
            self._unrecorded.clear()
            states = {row.key: row.state for row in await repo.states()}
            for finding in findings[1:]:
                current = states.get(finding.key, "resolved")
                if finding.breached is True and current != "firing":
                    target = "firing"
                elif finding.breached is False and current == "firing":
                    target = "resolved"
                else:
                    if finding.breached and current == "firing":
                        await repo.touch(finding.key, finding.value, now)
                    continue
                values = self._event(finding, target, now)
                if await repo.transition(values, target):
                    transitions.append(values)
                    self._send(values)
        return transitions

    def _event(self, finding: Finding, state: str, now: Any) -> dict[str, Any]:
        return {
            "key": finding.key,
            "rule": finding.rule,
            "subject": finding.subject,
            "state": state,
            "value": finding.value,
            "threshold": finding.threshold,
            "message": finding.message,
            "at": now,
        }

    def _send(self, event: dict[str, Any]) -> None:
        icon = ":rotating_light:" if event["state"] == "firing" else ":white_check_mark:"
        text_ = (
            f"{icon} [{event['state'].upper()}] {event['rule']} {event['subject']}: "
            f"{event['message']}"
        )
        alert = dict(event)
        alert["at"] = event["at"].isoformat()
        log.warning(
            "alert", **{k: v for k, v in alert.items() if k != "message"}, detail=event["message"]
        )
        self.notifier.notify({"text": text_, "alert": alert})
