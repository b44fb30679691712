"""``bistro perf report RUN.json --html FILE``: one self-contained HTML file.

Chart.js (MIT, vendored from its npm package into ``static/``, licence beside it) is inlined,
as are the run's figures, so the report opens from a file, a mail or an air-gapped laptop.
"""

from __future__ import annotations

import html
import re
from pathlib import Path
from typing import Any

import orjson

STATIC = Path(__file__).parent / "static"
CHART_JS = STATIC / "chart.umd.min.js"
TEMPLATE = STATIC / "report.html"


def _script_json(data: Any) -> str:
    # Inside <script>, "</" would end the element: escape it (JSON allows "<\/").
    return orjson.dumps(data).decode().replace("</", "<\\/")


def chart_data(run: dict[str, Any]) -> dict[str, Any]:
    curves = {}
    for endpoint, entry in run.get("endpoints", {}).items():
        curves[endpoint] = {
            version: summary.get("curve", []) for version, summary in entry["versions"].items()
        }
    versions = sorted({v for e in run.get("endpoints", {}).values() for v in e["versions"]})
    return {"curves": curves, "timeline": run.get("timeline", []), "versions": versions}


def _cell(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:,.3f}".rstrip("0").rstrip(".")
    return html.escape("" if value is None else str(value))


def _table(headers: list[str], rows: list[list[Any]]) -> str:
    head = "".join(f"<th>{html.escape(h)}</th>" for h in headers)
    body = "".join("<tr>" + "".join(f"<td>{_cell(v)}</td>" for v in r) + "</tr>" for r in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _summary_table(run: dict[str, Any]) -> str:
    rows = []
    for endpoint, entry in run.get("endpoints", {}).items():
        for version, s in entry["versions"].items():
            rows.append(
                [
                    endpoint,
                    version,
                    s.get("requests"),
                    s.get("rps"),
                    s.get("p50_ms"),
                    s.get("p90_ms"),
                    s.get("p99_ms"),
                    s.get("p99.9_ms"),
                    s.get("max_ms"),
                    s.get("errors"),
                    s.get("rate_limited"),
                ]
            )
        if entry.get("v4_over_v3_p50") is not None:
            rows.append(
                [
                    endpoint,
                    "v4 / v3",
                    "",
                    "",
                    entry["v4_over_v3_p50"],
                    "",
                    entry.get("v4_over_v3_p99"),
                    "",
                    "",
                    "",
                    "",
                ]
            )
    return _table(
        [
            "endpoint",
            "version",
            "requests",
            "req/s",
            "p50 ms",
            "p90 ms",
            "p99 ms",
            "p99.9 ms",
            "max ms",
            "errors",
            "429s",
        ],
        rows,
    )


def _generator_table(run: dict[str, Any]) -> str:
    g = run.get("generator", {})
    keys = [
        "target_rps",
        "achieved_rps",
        "sent",
        "completed",
        "late",
        "max_lag_ms",
        "cpu_percent",
        "cpu_per_request_us",
        "saturated",
    ]
    return _table(keys, [[g.get(k) for k in keys]])


def _resources_table(run: dict[str, Any]) -> str:
    rows = []
    for instance, r in run.get("resources", {}).get("instances", {}).items():
        mib = [
            None if r.get(k) is None else r[k] / 2**20
            for k in ("rss_before_bytes", "rss_max_during_bytes", "rss_after_bytes")
        ]
        rows.append([instance, *mib, r.get("cpu_mean_percent"), r.get("cpu_max_percent")])
    if not rows:
        return "<p>No resource figures (the detailed health needs an admin or scrape token).</p>"
    return _table(
        ["instance", "RSS before MiB", "RSS max MiB", "RSS after MiB", "CPU mean %", "CPU max %"],
        rows,
    )


def _cache_table(run: dict[str, Any]) -> str:
    cache = run.get("cache", {})
    passes = cache.get("passes")
    if not passes:
        return f"<p>{html.escape(str(cache.get('skipped', 'No cache phase.')))}</p>"
    rows = [
        [
            name,
            p.get("p50_ms"),
            p.get("p99_ms"),
            *(p.get("levels", {}).get(k) for k in ("l1_hits", "l2_hits", "misses")),
        ]
        for name, p in passes.items()
    ]
    return _table(["pass", "p50 ms", "p99 ms", "L1 hits", "L2 hits", "misses"], rows)


def _recommendations(run: dict[str, Any]) -> str:
    items = run.get("recommendations", [])
    if not items:
        return "<p>No rule fired.</p>"
    return (
        "<ul>"
        + "".join(
            f'<li class="{html.escape(r["severity"])}"><b>{html.escape(r["rule"])}</b>: '
            f"{html.escape(r['message'])}</li>"
            for r in items
        )
        + "</ul>"
    )


def render_html(run: dict[str, Any]) -> str:
    template = TEMPLATE.read_text()
    warnings = "".join(f"<p class=warn>{html.escape(w)}</p>" for w in run.get("warnings", []))
    sections = {
        "{{TITLE}}": html.escape(
            f"bistro perf: {run.get('base_url', '')} {run.get('started_at', '')}"
        ),
        "{{HEADER}}": html.escape(
            f"{run.get('mode', '')} loop against {run.get('base_url', '')}, "
            f"started {run.get('started_at', '')}"
        )
        + warnings,
        "{{SUMMARY}}": _summary_table(run),
        "{{GENERATOR}}": _generator_table(run),
        "{{RESOURCES}}": _resources_table(run),
        "{{CACHE}}": _cache_table(run),
        "{{RECOMMENDATIONS}}": _recommendations(run),
        "{{CHART_JS}}": CHART_JS.read_text().replace("</script", "<\\/script"),
        "{{DATA}}": _script_json(chart_data(run)),
    }
    # One pass, so a figure that happens to contain a marker is never expanded.
    return re.sub(r"\{\{[A-Z_]+\}\}", lambda m: sections.get(m.group(0), m.group(0)), template)


def write_html(run: dict[str, Any], path: Path) -> None:
    path.write_text(render_html(run), encoding="utf-8")
