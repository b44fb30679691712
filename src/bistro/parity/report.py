"""The replay report: one JSON document with every figure, and a readable Markdown summary."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

import orjson

from bistro.parity.known import KNOWN_DIFFERENCES
from bistro.parity.replay import ReplayResult

JSON_NAME = "parity-report.json"
MARKDOWN_NAME = "parity-report.md"


def report_document(
    result: ReplayResult, *, base_url: str, started_at: datetime, max_mismatch_rate: float
) -> dict[str, Any]:
    rate = result.mismatch_rate
    return {
        "base_url": base_url,
        "started_at": started_at.isoformat(),
        "seconds": round(result.seconds, 3),
        "requests": result.requests,
        "calls": result.calls,
        "compared": result.compared,
        "matched": sum(e.matched for e in result.endpoints.values()),
        "noise": sum(e.noise for e in result.endpoints.values()),
        "mismatches": result.mismatches,
        "errors": result.error_count,
        "mismatch_rate": round(rate, 6),
        "max_mismatch_rate": max_mismatch_rate,
        "passed": rate <= max_mismatch_rate and result.error_count == 0 and result.compared > 0,
        "endpoints": {
            name: {
                "compared": e.compared,
                "matched": e.matched,
                "noise": e.noise,
                "mismatches": e.mismatches,
                "errors": e.errors,
                "mismatch_rate": round(e.mismatch_rate, 6),
                "noise_paths": sorted(result.noise.by_endpoint.get(name, ())),
                "examples": e.examples,
            }
            for name, e in result.endpoints.items()
        },
        "noise_paths": result.noise.as_dict(),
        "ignored_everywhere": sorted(result.noise.everywhere),
        "known_differences": [
            {"name": rule.name, "reason": rule.reason, "applied": result.known.get(rule.name, 0)}
            for rule in KNOWN_DIFFERENCES
        ],
        "transport_errors": result.errors,
    }


def _cell(value: Any, width: int = 60) -> str:
    text = "(missing)" if value is None else orjson.dumps(value).decode()
    text = text if len(text) <= width else text[: width - 1] + "…"
    return text.replace("|", "\\|")


def markdown(doc: dict[str, Any]) -> str:
    verdict = "PASSED" if doc["passed"] else "FAILED"
    lines = [
        f"# v3/v4 parity replay: {verdict}",
        "",
        f"Target {doc['base_url']}, started {doc['started_at']}, {doc['seconds']} s.",
        "",
        f"- requests: {doc['requests']}, compared: {doc['compared']}",
        f"- matched: {doc['matched']}, noise only: {doc['noise']}",
        f"- **mismatches: {doc['mismatches']}** (rate {doc['mismatch_rate']:.4%}, "
        f"allowed {doc['max_mismatch_rate']:.4%})",
        f"- errors (not compared): {doc['errors']}",
        "",
        "## Per endpoint",
        "",
        "| endpoint | compared | matched | noise | mismatches | rate | errors |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for name, e in doc["endpoints"].items():
        lines.append(
            f"| `{name}` | {e['compared']} | {e['matched']} | {e['noise']} | "
            f"{e['mismatches']} | {e['mismatch_rate']:.2%} | {e['errors']} |"
        )
    lines += ["", "## First differences per endpoint", ""]
    shown = False
    for name, e in doc["endpoints"].items():
        if not e["examples"]:
            continue
        shown = True
        lines += [f"### `{name}`", ""]
        for example in e["examples"]:
            status = example["status"]
            lines += [
                f"`GET {example['path']}` (v3 {status['v3']}, v4 {status['v4']})",
                "",
                "| JSON path | kind | v3 | v4 |",
                "|---|---|---|---|",
            ]
            for d in example["differences"]:
                v3 = None if d["v3_missing"] else d["v3"]
                v4 = None if d["v4_missing"] else d["v4"]
                lines.append(f"| `{d['path']}` | {d['kind']} | {_cell(v3)} | {_cell(v4)} |")
            if example["more_differences"]:
                lines.append(f"| ... {example['more_differences']} more | | | |")
            lines.append("")
    if not shown:
        lines += ["None.", ""]
    lines += ["## Noise (paths on which v3 disagreed with itself)", ""]
    if doc["noise_paths"]:
        for name, found in doc["noise_paths"].items():
            lines.append(f"- `{name}`: " + ", ".join(f"`{p}`" for p in found))
    else:
        lines.append("None found.")
    if doc["ignored_everywhere"]:
        lines += [
            "",
            "Ignored everywhere: " + ", ".join(f"`{p}`" for p in doc["ignored_everywhere"]),
        ]
    lines += ["", "## Known differences applied", ""]
    for rule in doc["known_differences"]:
        lines.append(f"- `{rule['name']}` ({rule['applied']}): {rule['reason']}")
    if doc["transport_errors"]:
        lines += ["", "## Errors", ""]
        lines += [f"- `{e['path']}`: {e['error']}" for e in doc["transport_errors"]]
    return "\n".join(lines) + "\n"


def write_report(doc: dict[str, Any], directory: Path) -> tuple[Path, Path]:
    directory.mkdir(parents=True, exist_ok=True)
    json_path = directory / JSON_NAME
    md_path = directory / MARKDOWN_NAME
    json_path.write_bytes(orjson.dumps(doc, option=orjson.OPT_INDENT_2) + b"\n")
    md_path.write_text(markdown(doc), encoding="utf-8")
    return json_path, md_path
