"""``bistro perf``: v3 against v4 performance of a running service, and of the data layer."""

from __future__ import annotations

import sys
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
import typer
import uvloop
from rich.console import Console
from rich.table import Table

from bistro.cli.common import (
    EXIT_USAGE,
    DatabaseUrlOption,
    JsonOption,
    cli_errors,
    emit,
    fail,
    progress,
    run,
    stderr,
)
from bistro.perf.compare import compare_runs
from bistro.perf.plan import DEFAULT_ENDPOINTS, PlanError, parse_duration, parse_endpoints
from bistro.perf.report_html import write_html
from bistro.perf.runner import Hooks, PerfRun, ProbeError, RateUnreachable, RunOptions

app = typer.Typer(
    help="v3 against v4 performance: load a running service, compare runs, report.",
    no_args_is_help=True,
)

RESULTS_DIR = Path("perf-results")


@app.command("run")
def run_command(
    base_url: str = typer.Option(..., "--base-url", help="The service, e.g. http://10.0.0.5:5000"),
    endpoints: str = typer.Option(
        ",".join(DEFAULT_ENDPOINTS),
        help="Comma-separated: detail,list,search,statistics,reviews,write (write needs --token).",
    ),
    stable: bool = typer.Option(False, "--stable", help="Also load the stable path /api."),
    duration: str = typer.Option("30s", help="Measured time (after the warm-up): 30s, 2m."),
    warmup: str = typer.Option("5s", help="Unmeasured load first (0 to skip)."),
    slice_length: str = typer.Option("2s", "--slice", help="Length of one version's turn."),
    rate: float | None = typer.Option(
        None, help="Open loop: total requests per second, split evenly."
    ),
    concurrency: int | None = typer.Option(None, help="Closed loop: requests in flight."),
    token: str | None = typer.Option(
        None, envvar="BISTRO_PERF_TOKEN", help="Admin bearer token (resources, cache, writes)."
    ),
    connections: int = typer.Option(256, min=1, max=10_000, help="Open connections at most."),
    timeout: float = typer.Option(10.0, min=0.1, help="Per-request timeout, seconds."),
    cache_phase: bool = typer.Option(True, help="Measure cold/warm and L1/L2 cache reads."),
    save: bool = typer.Option(False, "--save", help="Write perf-results/<timestamp>.json."),
    output: Path | None = typer.Option(None, "--output", help="Write the JSON result here."),
    html: Path | None = typer.Option(None, "--html", help="Also write the HTML report here."),
    json_output: JsonOption = False,
) -> None:
    """Load /api/v3 and /api/v4 with the same mix, in alternating slices; report latency
    percentiles, throughput, errors, cache, resources and recommendations."""
    with cli_errors():
        try:
            options = RunOptions(
                base_url=base_url,
                endpoints=parse_endpoints(endpoints),
                versions=("v3", "v4", "stable") if stable else ("v3", "v4"),
                duration_s=parse_duration(duration),
                warmup_s=parse_duration(warmup),
                slice_s=parse_duration(slice_length),
                rate=rate,
                concurrency=concurrency,
                token=token,
                connections=connections,
                timeout_s=timeout,
                cache_phase=cache_phase,
            )
            options.check()
        except PlanError as exc:
            fail(str(exc), EXIT_USAGE)
        result = _run(options, show_progress=not json_output and sys.stderr.isatty())
        paths = _write(result, save=save, output=output, html=html)
    if json_output:
        emit(result, json_output=True, human="")
        return
    emit(result, json_output=False, human=render_run(result, paths))


def _run(options: RunOptions, *, show_progress: bool) -> dict[str, Any]:
    bars = progress(enabled=show_progress)
    current: dict[str, Any] = {}

    def phase(name: str, total: int) -> None:
        if "task" in current:
            bars.update(current["task"], completed=bars.tasks[-1].total or 0)
        current["task"] = bars.add_task(name, total=total or None)

    def tick(n: int) -> None:
        if "task" in current:
            bars.advance(current["task"], n)

    hooks = Hooks(
        warn=lambda m: stderr().print(f"warning: {m}", highlight=False), phase=phase, tick=tick
    )
    try:
        with bars:
            # uvloop: the generator's own cost per request is what limits the rates it holds.
            return uvloop.run(PerfRun(options, hooks).execute())
    except (ProbeError, RateUnreachable) as exc:
        fail(str(exc), EXIT_USAGE)


def _write(
    result: dict[str, Any], *, save: bool, output: Path | None, html: Path | None
) -> list[Path]:
    paths: list[Path] = []
    body = orjson.dumps(result, option=orjson.OPT_INDENT_2)
    if save:
        RESULTS_DIR.mkdir(exist_ok=True)
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
        paths.append(RESULTS_DIR / f"{stamp}.json")
    if output is not None:
        paths.append(output)
    for path in paths:
        path.write_bytes(body)
    if html is not None:
        write_html(result, html)
        paths.append(html)
    return paths


def render_run(result: dict[str, Any], paths: list[Path]) -> Callable[[Console], None]:
    def render(console: Console) -> None:
        for warning in result.get("warnings", []):
            console.print(f"[yellow]warning:[/] {warning}")
        table = Table(title=f"bistro perf ({result['mode']} loop) {result['base_url']}")
        for col in (
            "endpoint",
            "version",
            "req/s",
            "p50",
            "p90",
            "p99",
            "p99.9",
            "max",
            "errors",
            "429",
        ):
            table.add_column(col, justify="left" if col in ("endpoint", "version") else "right")
        for endpoint, entry in result["endpoints"].items():
            for version, s in entry["versions"].items():
                table.add_row(
                    endpoint,
                    version,
                    _n(s.get("rps")),
                    *(_n(s.get(k)) for k in ("p50_ms", "p90_ms", "p99_ms", "p99.9_ms", "max_ms")),
                    str(s.get("errors", 0)),
                    str(s.get("rate_limited", 0)),
                )
            if entry.get("v4_over_v3_p50") is not None:
                table.add_row(
                    endpoint,
                    "[bold]v4/v3[/]",
                    "",
                    f"x{entry['v4_over_v3_p50']:.2f}",
                    "",
                    f"x{entry.get('v4_over_v3_p99') or 0:.2f}",
                    "",
                    "",
                    "",
                    "",
                )
        console.print(table)
        console.print(
            "latencies in ms, "
            + (
                "measured from each request's intended send time (open loop)"
                if result["mode"] == "open"
                else "measured from each request's send (closed loop: stalls hide from p99)"
            )
        )
        g = result["generator"]
        console.print(
            f"generator: {g['achieved_rps']} req/s, CPU {g['cpu_percent']} % of a core, "
            f"{g['cpu_per_request_us']} us/request, {g['late']} sent late"
            + (" [red](saturated: figures measure the generator)[/]" if g["saturated"] else "")
        )
        for rec in result.get("recommendations", []):
            console.print(f"- [{_colour(rec['severity'])}]{rec['rule']}[/]: {rec['message']}")
        for path in paths:
            console.print(f"wrote {path}")

    return render


def _colour(severity: str) -> str:
    return {"critical": "red", "warning": "yellow"}.get(severity, "cyan")


def _n(value: Any) -> str:
    if value is None:
        return "-"
    return f"{value:,.2f}" if isinstance(value, float) else str(value)


def _load(path: Path) -> dict[str, Any]:
    try:
        data = orjson.loads(path.read_bytes())
    except FileNotFoundError:
        fail(f"no such file: {path}", EXIT_USAGE)
    except orjson.JSONDecodeError as exc:
        fail(f"{path} is not JSON: {exc}", EXIT_USAGE)
    if not isinstance(data, dict) or data.get("format") != "bistro-perf/1":
        fail(f"{path} is not a bistro perf result", EXIT_USAGE)
    return data


@app.command("compare")
def compare_command(
    first: Path = typer.Argument(..., help="The earlier run (JSON)."),
    second: Path = typer.Argument(..., help="The later run (JSON)."),
    json_output: JsonOption = False,
) -> None:
    """Two runs side by side; a change is marked only outside both runs' per-slice spread."""
    with cli_errors():
        report = compare_runs(_load(first), _load(second))

    def render(console: Console) -> None:
        table = Table(title=f"{first} -> {second}")
        for col in ("endpoint", "figure", "A", "A 95% interval", "B", "B 95% interval", "B/A", ""):
            table.add_column(col)
        for row in report["rows"]:
            a, b = row["a"], row["b"]
            table.add_row(
                row["endpoint"],
                row["figure"],
                _n(a["median"]),
                _interval(a["interval"]),
                _n(b["median"]),
                _interval(b["interval"]),
                f"x{row['b_over_a']:.2f}" if row["b_over_a"] else "-",
                "[bold red]changed[/]" if row["changed"] else "",
            )
        console.print(table)
        console.print(
            f"{len(report['changed'])} change(s) outside both runs' spread"
            if report["changed"]
            else "no change outside both runs' spread"
        )

    emit(report, json_output=json_output, human=render)


def _interval(interval: list[float] | None) -> str:
    return f"{interval[0]:.3f} .. {interval[1]:.3f}" if interval else "-"


@app.command("report")
def report_command(
    result: Path = typer.Argument(..., help="A run's JSON (perf run --save / --output)."),
    html: Path = typer.Option(..., "--html", help="Where to write the HTML report."),
    json_output: JsonOption = False,
) -> None:
    """A self-contained HTML report (charts included; opens without a network)."""
    with cli_errors():
        write_html(_load(result), html)
    emit({"html": str(html)}, json_output=json_output, human=f"wrote {html}")


@app.command("db")
def db_command(
    database_url: DatabaseUrlOption = None,
    scale: str = typer.Option(
        "10000", help="Restaurant counts to measure at, comma-separated (e.g. 10000,100000)."
    ),
    reviews_per_restaurant: int = typer.Option(10, min=0, max=100),
    repeat: int = typer.Option(200, min=5, max=100_000, help="Calls per query and side."),
    reuse: bool = typer.Option(
        False, help="Measure the data already in the database instead of seeding (one scale)."
    ),
    json_output: JsonOption = False,
) -> None:
    """In process: v3's DatabaseManagerV3 against v4's services for the same queries, on a
    database seeded here at each size."""
    from bistro.perf.dbbench import DbBenchError, parse_scales, prepare, render_db, run_db_bench

    with cli_errors(database_url):
        try:
            scales = parse_scales(scale)
        except ValueError as exc:
            fail(str(exc), EXIT_USAGE)
        settings = prepare(database_url)
        try:
            report = run(
                run_db_bench(
                    settings,
                    scales,
                    reviews_per_restaurant=reviews_per_restaurant,
                    repeat=repeat,
                    reuse=reuse,
                    show_progress=not json_output and sys.stderr.isatty(),
                )
            )
        except DbBenchError as exc:
            fail(str(exc), exc.exit_code)
    emit(report, json_output=json_output, human=render_db(report))
