"""The shipped Prometheus rules and Grafana dashboard: valid, tested, and about metrics the
service really exports."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml
from prometheus_client.parser import text_string_to_metric_families

from bistro.monitoring.prom import PrometheusExporter
from bistro.monitoring.recorder import Recorder

DEPLOY = Path(__file__).resolve().parents[2] / "deploy" / "monitoring"
RULES = DEPLOY / "prometheus-rules.yml"
DASHBOARD = DEPLOY / "grafana-dashboard.json"
METRIC = re.compile(r"\b((?:bistro|process)_[a-z_]+)\b")


def promtool(*args: str) -> subprocess.CompletedProcess[bytes]:
    tool = shutil.which("promtool")
    assert tool, "promtool is installed by `make test` (Debian package prometheus)"
    return subprocess.run([tool, *args], capture_output=True, timeout=60, cwd=DEPLOY)


@pytest.fixture(scope="module")
def exported_samples() -> set[str]:
    exporter = PrometheusExporter()
    recorder = Recorder()
    recorder.record(("direct", "v4", "restaurants", "/restaurants", "5xx"), 0.02, 10)
    exporter.apply(recorder.drain())
    exporter.apply_cache({"l1": (3, 1)})
    exporter.database_up.set(1)
    text = exporter.render()[0].decode()
    return {s.name for f in text_string_to_metric_families(text) for s in f.samples}


def test_rules_pass_promtool_check_and_unit_tests() -> None:
    check = promtool("check", "rules", str(RULES))
    assert check.returncode == 0, check.stdout + check.stderr
    tests = promtool("test", "rules", "prometheus-rules.test.yml")
    assert tests.returncode == 0, tests.stdout + tests.stderr


def test_rules_cover_every_design_threshold() -> None:
    rules = yaml.safe_load(RULES.read_text())
    alerts = {r["alert"]: r["expr"] for g in rules["groups"] for r in g["rules"] if "alert" in r}
    assert set(alerts) == {
        "BistroHighErrorRate",
        "BistroHighP95Latency",
        "BistroHighCPU",
        "BistroHighMemory",
        "BistroDatabaseDown",
        "BistroLowCacheHitRate",
    }
    assert "> 0.05" in alerts["BistroHighErrorRate"]
    assert "> 1" in alerts["BistroHighP95Latency"]
    assert "> 0.8" in alerts["BistroHighCPU"] and "> 0.8" in alerts["BistroHighMemory"]


def test_rules_and_dashboard_use_exported_metric_names(exported_samples: set[str]) -> None:
    dashboard = json.loads(DASHBOARD.read_text())
    exprs = [t["expr"] for p in dashboard["panels"] for t in p["targets"]]
    names = set(METRIC.findall(RULES.read_text())) | {n for e in exprs for n in METRIC.findall(e)}
    assert names, "no metric names found"
    assert names <= exported_samples, names - exported_samples


def test_dashboard_queries_are_valid_promql(tmp_path: Path) -> None:
    dashboard = json.loads(DASHBOARD.read_text())
    titles = [p["title"] for p in dashboard["panels"]]
    for wanted in ("Throughput", "error rate", "p95", "cache hit", "CPU", "memory", "Database"):
        assert any(wanted.lower() in t.lower() for t in titles), wanted
    exprs = [t["expr"] for p in dashboard["panels"] for t in p["targets"]]
    rules = {
        "groups": [
            {
                "name": "dashboard",
                "rules": [
                    {"record": f"dashboard:query_{i}", "expr": e} for i, e in enumerate(exprs)
                ],
            }
        ]
    }
    path = tmp_path / "dashboard-queries.yml"
    path.write_text(yaml.safe_dump(rules))
    check = promtool("check", "rules", str(path))
    assert check.returncode == 0, check.stdout + check.stderr


SELECTOR = re.compile(r"(bistro_http_[a-z_]+)\{([^}]*)\}")


def test_rules_and_dashboard_judge_client_traffic_only() -> None:
    """Every request selector keeps to the stable path and direct calls (never shadow or
    synthetic traffic), and a client that hung up is in no request rate but its own."""
    dashboard = json.loads(DASHBOARD.read_text())
    texts = [RULES.read_text(), *(t["expr"] for p in dashboard["panels"] for t in p["targets"])]
    selectors = [m for text in texts for m in SELECTOR.findall(text)]
    assert len(selectors) > 10
    for name, labels in selectors:
        assert 'source=~"stable|direct"' in labels, (name, labels)
        if name == "bistro_http_requests_total":
            assert (
                'status_class!="client_abort"' in labels or 'status_class="client_abort"' in labels
            ), labels
