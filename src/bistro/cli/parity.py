"""``bistro parity run``: replay GET requests against a service's /api/v3 and /api/v4, compare.

Exit codes: 0 when the mismatch rate is at most ``--max-mismatch-rate`` (and every request was
compared), 1 when it is above (or requests failed, or nothing could be compared), 2 for bad
usage (an unreadable requests file, a malformed URL).
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import typer
from rich.console import Console
from rich.table import Table

from bistro.cli.common import (
    EXIT_FAILURE,
    EXIT_USAGE,
    DatabaseUrlOption,
    JsonOption,
    cli_errors,
    database_settings,
    emit,
    ensure_reachable,
    fail,
    run,
)
from bistro.cli.common import progress as progress_bar
from bistro.core.clock import SystemClock
from bistro.core.database import Database
from bistro.parity.generate import (
    ReplayRequest,
    RequestFileError,
    catalogue,
    generate,
    read_requests,
)
from bistro.parity.replay import Replayer
from bistro.parity.report import report_document, write_report
from bistro.parity.repository import ParityRepository
from bistro.parity.sections import parity_section

app = typer.Typer(help="v3/v4 response parity: offline replay and comparison.")


@app.callback()
def _group() -> None:
    """v3/v4 response parity."""


@app.command("run")
def run_command(
    base_url: str = typer.Option(..., "--base-url", help="The service, e.g. http://127.0.0.1:5000"),
    requests_file: Path | None = typer.Option(
        None, "--requests", help="A file of GET paths, one a line (default: generate them)."
    ),
    sample: int = typer.Option(
        2000, "--sample", min=1, max=1_000_000, help="Requests to generate (without --requests)."
    ),
    token: str | None = typer.Option(
        None, "--token", help="Bearer token: also replay the signed-in endpoints."
    ),
    output: Path = typer.Option(
        Path("parity-report"), "--output", help="Directory for parity-report.json and .md."
    ),
    max_mismatch_rate: float = typer.Option(
        0.0, "--max-mismatch-rate", min=0.0, max=1.0, help="Fail (exit 1) above this rate."
    ),
    concurrency: int = typer.Option(4, "--concurrency", min=1, max=64),
    seed: int = typer.Option(1, "--seed", help="Same seed and data, same generated requests."),
    timeout: float = typer.Option(10.0, "--timeout", min=0.1, max=300, help="Seconds a call."),
    ignore: list[str] = typer.Option(
        [], "--ignore", help="A JSON path compared for presence only, everywhere (repeatable)."
    ),
    save_noise: bool = typer.Option(
        False,
        "--save-noise",
        help="Store the noise found in the service's database, for shadow mode (replaces the "
        "last replay's).",
    ),
    database_url: DatabaseUrlOption = None,
    json_output: JsonOption = False,
) -> None:
    """Replay GET requests against /api/v3 (twice, to learn noise) and /api/v4 on one
    service, compare every answer, and write a JSON and a Markdown report."""
    with cli_errors():
        if not base_url.startswith(("http://", "https://")):
            fail(f"--base-url must start with http:// or https://, not {base_url!r}", EXIT_USAGE)
        bad = [p for p in ignore if not p.startswith("$")]
        if bad:
            fail(f"--ignore takes JSON paths starting with '$' (got {bad[0]!r})", EXIT_USAGE)
        planned: list[ReplayRequest] | None = None
        if requests_file is not None:
            try:
                planned = read_requests(requests_file)
            except RequestFileError as exc:
                fail(str(exc), EXIT_USAGE)
        started = datetime.now(UTC)
        doc = run(
            _replay(
                base_url.rstrip("/"),
                planned,
                sample=sample,
                token=token,
                concurrency=concurrency,
                seed=seed,
                call_seconds=timeout,
                ignore=ignore,
                max_mismatch_rate=max_mismatch_rate,
                started=started,
                show_progress=not json_output,
            )
        )
        if save_noise:
            url = database_settings(database_url).url
            run(ensure_reachable(url))
            doc["noise_saved"] = run(store_noise(url, doc["noise_paths"]))
        json_path, md_path = write_report(doc, output)
    doc["report_files"] = {"json": str(json_path), "markdown": str(md_path)}
    emit(doc, json_output=json_output, human=render(doc))
    if not doc["passed"]:
        raise typer.Exit(EXIT_FAILURE)


async def _replay(
    base_url: str,
    planned: list[ReplayRequest] | None,
    *,
    sample: int,
    token: str | None,
    concurrency: int,
    seed: int,
    call_seconds: float,
    ignore: list[str],
    max_mismatch_rate: float,
    started: datetime,
    show_progress: bool,
    transport: httpx.AsyncBaseTransport | None = None,
) -> dict[str, Any]:
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(
        base_url=base_url, timeout=call_seconds, limits=limits, transport=transport
    ) as client:
        try:
            probe = await client.get("/api/v3/statistics")
        except httpx.HTTPError as exc:
            fail(f"cannot reach {base_url}: {type(exc).__name__}: {exc}")
        if probe.status_code != 200:
            fail(
                f"{base_url}/api/v3/statistics answered {probe.status_code}: not a Bistro service?"
            )
        requests = planned
        if requests is None:
            requests = generate(await catalogue(client, token), sample, seed)
        bars = progress_bar(enabled=show_progress and sys.stderr.isatty())
        with bars:
            task = bars.add_task("replaying", total=len(requests))
            replayer = Replayer(
                client,
                token=token,
                concurrency=concurrency,
                ignore=ignore,
                on_done=lambda: bars.advance(task),
            )
            result = await replayer.run(requests)
    return report_document(
        result, base_url=base_url, started_at=started, max_mismatch_rate=max_mismatch_rate
    )


async def store_noise(url: str, learned: dict[str, list[str]]) -> int:
    """Replace the stored noise with this replay's; returns the number of paths stored."""
    db = Database(database_settings(url))
    try:
        async with db.unit_of_work() as session:
            return await ParityRepository(session).replace_noise(learned, datetime.now(UTC))
    finally:
        await db.dispose()


async def parity_report(url: str, seconds: int) -> dict[str, Any]:
    """The parity status section, read from the database at ``url``."""
    db = Database(database_settings(url))
    try:
        async with db.unit_of_work() as session:
            return await parity_section(session, SystemClock(), seconds)
    finally:
        await db.dispose()


def render(doc: dict[str, Any]) -> Callable[[Console], None]:
    def show(console: Console) -> None:
        verdict = "[green]PASSED[/]" if doc["passed"] else "[bold red]FAILED[/]"
        console.print(
            f"Parity {verdict}: {doc['compared']} compared, {doc['mismatches']} mismatches "
            f"({doc['mismatch_rate']:.4%}, allowed {doc['max_mismatch_rate']:.4%}), "
            f"{doc['noise']} noise only, {doc['errors']} errors, {doc['seconds']} s"
        )
        table = Table(box=None, padding=(0, 1), title_justify="left")
        for column in ("endpoint", "compared", "mismatches", "noise", "errors"):
            table.add_column(column, justify="left" if column == "endpoint" else "right")
        for name, e in doc["endpoints"].items():
            table.add_row(
                name, str(e["compared"]), str(e["mismatches"]), str(e["noise"]), str(e["errors"])
            )
        console.print(table)
        for name, e in doc["endpoints"].items():
            for example in e["examples"][:1]:
                first = example["differences"][0]
                console.print(
                    f"  {name}: GET {example['path']}: {first['path']} "
                    f"v3 {first['v3']!r} v4 {first['v4']!r}",
                    highlight=False,
                )
        files = doc.get("report_files", {})
        console.print(f"Report: {files.get('json')} and {files.get('markdown')}", highlight=False)

    return show
