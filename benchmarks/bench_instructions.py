"""Instructions per request, counted by valgrind: the noise-free side of bench_service.py.

    python benchmarks/bench_instructions.py [--json] [--scenario NAME ...] [--requests 300]

On a shared machine a process's throughput moves by 10-30 % from one second to the next, so a
wrk ratio needs many rounds to show a 2 % difference. This script counts instead: each server
(the same app and settings as bench_service.py) runs under ``valgrind --tool=callgrind`` with
instrumentation off; after a warm-up, ``callgrind_control`` switches it on for exactly
``--requests`` requests of one kind, sent one at a time over keep-alive by this process (which
valgrind does not count), dumps the count and switches it off again. Subject and baseline
alternate for ``--rounds`` rounds. The same instructions on the same interpreter cost the same
time, whatever the neighbours do, so ``baseline / subject`` instructions per request is the
throughput ratio a CPU-bound server would show, measured without noise. Background loops
(monitoring flush, flag polling) are slowed down so they do not add to the counts. Only the
service's own process is counted: PostgreSQL's work for a query is not (it matters for the
uncached and v3 sides, whose real cost is therefore higher than counted here).

Needs valgrind (``apt-get install valgrind``); takes about a minute per scenario.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

sys.path[:0] = [
    str(Path(__file__).resolve().parents[1] / "src"),
    str(Path(__file__).resolve().parents[1]),
]

import httpx  # noqa: E402
import orjson  # noqa: E402
from benchmarks.bench_service import (  # noqa: E402
    ADMIN_URL,
    SCENARIOS,
    Probe,
    Scenario,
    make_server,
)
from benchmarks.bench_service import SERVERS as SERVICE_SERVERS  # noqa: E402
from benchmarks.benchlib import (  # noqa: E402
    BenchError,
    create_database,
    drop_database,
    ensure_debian_tool,
    migrate_and_seed,
)

# The scenarios and servers are bench_service.py's own (add a scenario there, it is counted
# here too), with no background work inside the counted windows: no monitoring loop, flag
# polls every 5 s.
QUIET = {"BISTRO_MONITORING_ENABLED": "false", "BISTRO_FLAGS_POLL_INTERVAL": "5"}
SERVERS: dict[str, dict[str, str]] = {
    name: {**env, **QUIET} for name, env in SERVICE_SERVERS.items()
}


def ensure_valgrind() -> None:
    ensure_debian_tool("valgrind", "valgrind")
    ensure_debian_tool("callgrind_control", "valgrind")


class CountedServer:
    """A bench server under callgrind, counting instructions only when asked to."""

    def __init__(self, name: str, url: str, core: int, workdir: Path) -> None:
        self.out = workdir / f"{name}.callgrind"
        launcher = [
            "valgrind",
            "--tool=callgrind",
            "--instr-atstart=no",
            f"--callgrind-out-file={self.out}",
        ]
        self.server = make_server(name, url, core, launcher=launcher, start_timeout=300.0)
        self.server.env = SERVERS[name]

    def start(self) -> None:
        self.server.start()

    def stop(self) -> None:
        self.server.stop()

    def _control(self, *args: str) -> None:
        assert self.server.process is not None
        done = subprocess.run(
            ["callgrind_control", *args, str(self.server.process.pid)],
            capture_output=True,
            text=True,
            check=False,
            timeout=120,
        )
        if done.returncode != 0:
            raise BenchError(f"callgrind_control {' '.join(args)}: {done.stderr.strip()}")

    def count(self, client: httpx.Client, side: Probe, paths: list[str], requests: int) -> float:
        """Instructions per request over ``requests`` requests of ``side``."""
        before = set(self.out.parent.glob(self.out.name + ".*"))
        self._control("--zero")
        self._control("--instr=on")
        send(client, side, paths, requests)
        self._control("--dump")
        self._control("--instr=off")
        dumps = sorted(set(self.out.parent.glob(self.out.name + ".*")) - before)
        if not dumps:
            raise BenchError(f"{side.label}: callgrind wrote no dump")
        text = dumps[-1].read_text(errors="replace")
        found = re.search(r"^(?:summary|totals):\s*(\d+)", text, re.MULTILINE)
        if found is None:
            raise BenchError(f"{side.label}: no instruction total in {dumps[-1]}")
        return int(found.group(1)) / requests


def send(client: httpx.Client, side: Probe, paths: list[str], requests: int) -> None:
    """``requests`` GETs cycling over ``paths``, one at a time, each checked."""
    for i in range(requests):
        response = client.get(paths[i % len(paths)], headers=side.headers)
        if response.status_code != 200:
            raise BenchError(
                f"{side.label}: {response.request.url.path} answered {response.status_code}"
            )
        path = response.request.url.path
        stable = path.startswith("/api/") and not path.startswith(("/api/v3/", "/api/v4/"))
        if stable and response.headers.get("x-api-version") != "v4":
            raise BenchError(f"{side.label}: not routed to v4")


def run_scenario(
    scenario: Scenario,
    servers: dict[str, CountedServer],
    restaurants: int,
    requests: int,
    rounds: int,
) -> dict[str, Any]:
    sides = (scenario.subject, scenario.baseline)
    paths = {side.label: side.paths(restaurants) for side in sides}
    clients = {
        side.label: httpx.Client(base_url=servers[side.server].server.base, timeout=120)
        for side in sides
    }
    try:
        for side in sides:  # warm-up over the very requests counted: caches, connections
            send(clients[side.label], side, paths[side.label], requests)
        counts: dict[str, list[float]] = {side.label: [] for side in sides}
        for round_no in range(rounds):
            for side in sides if round_no % 2 == 0 else sides[::-1]:
                server = servers[side.server]
                counted = server.count(clients[side.label], side, paths[side.label], requests)
                counts[side.label].append(counted)
    finally:
        for client in clients.values():
            client.close()
    subject = statistics.median(counts[scenario.subject.label])
    baseline = statistics.median(counts[scenario.baseline.label])
    ratio = baseline / subject
    return {
        "name": scenario.name,
        "title": scenario.title,
        "target": scenario.target,
        "subject": scenario.subject.label,
        "baseline": scenario.baseline.label,
        "subject_instructions": round(subject),
        "baseline_instructions": round(baseline),
        "rounds": {label: [round(c) for c in values] for label, values in counts.items()},
        "ratio": round(ratio, 3),
        "status": "pass" if ratio >= scenario.target else "below target",
    }


def print_table(report: dict[str, Any]) -> None:
    cfg = report["config"]
    print(
        f"\nInstructions per request (valgrind callgrind), {cfg['requests']} requests x "
        f"{cfg['rounds']} rounds per side, {cfg['restaurants']} restaurants\n"
    )
    header = (
        f"{'scenario':<18}{'subject instr':>15}{'baseline instr':>16}{'ratio':>8}"
        f"{'target':>8}  status"
    )
    print(header)
    print("-" * len(header))
    for s in report["scenarios"]:
        print(
            f"{s['name']:<18}{s['subject_instructions']:>15,}{s['baseline_instructions']:>16,}"
            f"{s['ratio']:>8.3f}{s['target']:>8}  {s['status']}"
        )
    print(
        "\nratio: baseline instructions / subject instructions per request, the throughput\n"
        "ratio of a CPU-bound server (median of rounds). Per-round counts:"
    )
    for s in report["scenarios"]:
        print(f"  {s['name']}: {s['title']}")
        for label, values in s["rounds"].items():
            print(f"    {label}: {', '.join(f'{v:,}' for v in values)}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--json", action="store_true", help="print one JSON document")
    parser.add_argument("--scenario", action="append", choices=[s.name for s in SCENARIOS])
    parser.add_argument("--requests", type=int, default=300, help="counted requests per run")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--restaurants", type=int, default=2_000)
    parser.add_argument("--reviews", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--server-core", type=int, default=1)
    parser.add_argument("--database-url", help="use this seeded database instead of a new one")
    args = parser.parse_args(argv)
    chosen = [s for s in SCENARIOS if not args.scenario or s.name in args.scenario]
    log = sys.stderr

    try:
        ensure_valgrind()
    except BenchError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    own_db = args.database_url is None
    url = args.database_url or create_database(ADMIN_URL)
    servers: dict[str, CountedServer] = {}
    workdir = Path(tempfile.mkdtemp(prefix="bench-callgrind-"))
    results = []
    try:
        if own_db:
            print(f"seeding {args.restaurants} restaurants ...", file=log)
            migrate_and_seed(url, args.restaurants, args.reviews, args.seed)
        for scenario in chosen:
            for side in (scenario.subject, scenario.baseline):
                if side.server not in servers:
                    print(f"starting {side.server} under valgrind ...", file=log)
                    servers[side.server] = CountedServer(
                        side.server, url, args.server_core, workdir
                    )
                    servers[side.server].start()
            print(f"counting {scenario.name} ...", file=log)
            results.append(
                run_scenario(scenario, servers, args.restaurants, args.requests, args.rounds)
            )
            for name in [n for n in servers if n not in _later(chosen, scenario)]:
                servers.pop(name).stop()  # valgrind servers are heavy: stop when done
    except BenchError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    finally:
        for server in servers.values():
            server.stop()
        shutil.rmtree(workdir, ignore_errors=True)
        if own_db:
            drop_database(ADMIN_URL, url)
    report = {
        "config": {
            "requests": args.requests,
            "rounds": args.rounds,
            "restaurants": args.restaurants,
            "reviews": args.reviews,
            "python": sys.version.split()[0],
            "cpus": os.cpu_count(),
        },
        "scenarios": results,
    }
    if args.json:
        print(orjson.dumps(report, option=orjson.OPT_INDENT_2).decode())
    else:
        print_table(report)
    return 0


def _later(chosen: list[Scenario], current: Scenario) -> set[str]:
    """Servers a scenario after ``current`` still needs."""
    after = chosen[chosen.index(current) + 1 :]
    return {side.server for s in after for side in (s.subject, s.baseline)}


if __name__ == "__main__":
    sys.exit(main())
