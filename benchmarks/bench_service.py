"""Service benchmarks: v4 against its baselines, measured in one run, printed as ratios.

    python benchmarks/bench_service.py [--json] [--scenario NAME ...] [--rounds N --duration S]

Creates its own PostgreSQL database (dropped at the end), migrates and seeds it, starts the
servers in SERVERS (uvicorn, 1 worker, uvloop + httptools) pinned to one core with taskset and
drives them with wrk (1 thread) pinned to the other. The baselines the issue's targets name
(a bare FastAPI hello, a bare Starlette hello, a Starlette app running the detail's SELECT
through asyncpg) are their own minimal apps in their own processes (baseline_apps.py), on the
same server program and settings. Each scenario compares a *subject* with a
*baseline*; the two runs alternate for a number of rounds after a warm-up and the ratio is the
median of the per-round ratios, so drift on a shared machine hits both sides alike.

Host noise on these shared machines moves a process's throughput by 10-30 % from one second
to the next, so alternating runs (even 31 x 1 s) cannot resolve a difference of a few per cent:
their per-round ratios spread from 0.75 to 1.2. A scenario whose figure lies within a few per
cent of its target (cached detail vs hello, metrics on/off, stable path vs /api/v4) therefore
runs *together*: two server
processes pinned to the same core, one serving the subject and one the baseline, both loaded
by their own wrk at the same time. The scheduler time-slices the core between them every few
milliseconds, so both see the same machine, and each one's requests per CPU-second of its
own process is its throughput per core. The ratio of the two is judged; the instances swap
sides every round (when both sides use the same settings) so neither process's luck counts.
Per-round ratios then spread by a few per cent instead of tens.
``--rounds`` / ``--duration`` override every scenario's own choice.

To add a scenario, add a Probe pair to SCENARIOS (and a server to SERVERS if it needs other
settings, e.g. metrics off); ``needs`` names what must exist for it to run. A probe's
``cache`` says what the cache counters must show during the run ("none": not one hit;
"hits": nearly every request a hit), so a ratio is never reported for the wrong thing.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import threading
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

sys.path[:0] = [
    str(Path(__file__).resolve().parents[1] / "src"),
    str(Path(__file__).resolve().parents[1]),
]

import orjson  # noqa: E402
from benchmarks.benchlib import (  # noqa: E402
    BenchError,
    Server,
    WrkResult,
    create_database,
    drop_database,
    ensure_wrk,
    migrate_and_seed,
    run_wrk,
)

ADMIN_URL = os.environ.get(
    "BISTRO_BENCH_POSTGRES_URL",
    os.environ.get("BISTRO_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres"),
)

# Server name -> environment overrides. Every server runs the same app on the same core.
SERVERS: dict[str, dict[str, str]] = {
    "uncached": {"BISTRO_CACHE_ENABLED": "false"},
    "cached": {"BISTRO_CACHE_ENABLED": "true"},
    "cached_no_metrics": {
        "BISTRO_CACHE_ENABLED": "true",
        "BISTRO_MONITORING_REQUEST_METRICS": "false",
    },
    # Restaurants at a 100 % partial rollout: every stable-path request is evaluated (bucket
    # hash) and routed to v4, so both sides of the stable_path scenario run the same v4 code.
    "stable_path": {
        "BISTRO_CACHE_ENABLED": "true",
        "API_V4_RESTAURANTS_ROLLOUT": "100",
    },
    # The same with Bistro's access log on (a JSON line per request, to the server's log
    # file), as `bistro serve` runs by default: flags, metrics and access log all on.
    "stable_path_logged": {
        "BISTRO_CACHE_ENABLED": "true",
        "API_V4_RESTAURANTS_ROLLOUT": "100",
        "BISTRO_LOG_LEVEL": "info",
    },
    # The stable-path server again, on granian instead of uvicorn (see SERVER_PROGRAMS).
    "stable_path_granian": {
        "BISTRO_CACHE_ENABLED": "true",
        "API_V4_RESTAURANTS_ROLLOUT": "100",
        "BISTRO_LOG_LEVEL": "info",
    },
    # The baselines: minimal apps of their own (see BASELINE_APPS).
    "fastapi_hello": {},
    "starlette_hello": {},
    "starlette_asyncpg": {},
}
# Server name -> (app factory, path that answers once it is up) for the servers that run a
# baseline app instead of Bistro.
BASELINE_APPS: dict[str, tuple[str, str]] = {
    "fastapi_hello": ("benchmarks.baseline_apps:fastapi_hello", "/"),
    "starlette_hello": ("benchmarks.baseline_apps:starlette_hello", "/"),
    "starlette_asyncpg": ("benchmarks.baseline_apps:starlette_asyncpg", "/"),
}

# A returning anonymous client, as the stable path sees most traffic.
CLIENT_HEADERS = {"X-Client-ID": "bench-client-0001"}

LIST_QUERIES = [
    "cuisine=thai&sort=rating",
    "cuisine=italian&sort=rating",
    "sort=review_count",
    "city=london&sort=rating",
    "cuisine=japanese,korean&price_max=3",
    "sort=newest&limit=50",
]


@dataclass
class Probe:
    label: str
    server: str
    paths: Callable[[int], list[str]]  # restaurant count -> paths to cycle through
    cache: Literal["none", "hits", "any"] = "any"
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class Scenario:
    name: str
    title: str
    subject: Probe
    baseline: Probe
    target: float
    needs: list[str] = field(default_factory=list)  # paths that must answer 200 first
    rounds: int = 5  # alternating subject/baseline pairs
    duration: float = 3.0  # seconds per measured run
    # Run subject and baseline at the same time on one core (two server processes) and judge
    # requests per CPU-second: for targets a few per cent wide (see the module docstring).
    together: bool = False


# Server instance names: "<SERVERS key>" is shared by the alternating scenarios;
# "<SERVERS key>@<scenario>" is a ``together`` scenario's own, started fresh for it so both
# sides have the same history (a process that served other scenarios first carries a larger
# heap and cache, which cost it a few per cent); "...#2" is its second instance when both
# sides use the same settings.
TWIN = "#2"


def instances(scenario: Scenario, round_no: int) -> tuple[str, str]:
    """The server instances (subject's, baseline's) a round of ``scenario`` runs on."""
    subject, baseline = scenario.subject.server, scenario.baseline.server
    if not scenario.together:
        return subject, baseline
    subject, baseline = f"{subject}@{scenario.name}", f"{baseline}@{scenario.name}"
    if subject == baseline:
        twin = subject + TWIN  # the same settings on both sides: swap instances every round
        return (subject, twin) if round_no % 2 == 0 else (twin, subject)
    return subject, baseline


def settings_of(instance: str) -> dict[str, str]:
    """The environment of a server instance (see ``instances``)."""
    return SERVERS[instance.split("@", 1)[0]]


# Servers run by another server program than uvicorn (`bistro serve`'s).
SERVER_PROGRAMS: dict[str, str] = {"stable_path_granian": "granian"}


def make_server(instance: str, url: str, core: int, **options: Any) -> Server:
    """The Server for an instance: Bistro, or the baseline app its settings name."""
    name = instance.split("@", 1)[0]
    options.setdefault("program", SERVER_PROGRAMS.get(name, "uvicorn"))
    baseline = BASELINE_APPS.get(name)
    if baseline is not None:
        options |= {"app_factory": baseline[0], "ready_path": baseline[1], "stats_path": None}
    return Server(instance, url, core, settings_of(instance), **options)


def servers_needed(scenario: Scenario) -> set[str]:
    return {name for round_no in (0, 1) for name in instances(scenario, round_no)}


def detail_paths(prefix: str, limit: int | None = None) -> Callable[[int], list[str]]:
    return lambda n: [f"{prefix}/{i}" for i in range(1, min(n, limit or n) + 1)]


def list_paths(prefix: str) -> Callable[[int], list[str]]:
    return lambda _n: [f"{prefix}/restaurants?{q}" for q in LIST_QUERIES]


HELLO = lambda _n: ["/"]  # noqa: E731
FASTAPI_HELLO = Probe("bare FastAPI hello app", "fastapi_hello", HELLO)
STARLETTE_HELLO = Probe("bare Starlette hello app", "starlette_hello", HELLO)
STABLE_DETAIL = Probe(
    "stable /api detail (v4, warm cache; flags, metrics, access log on)",
    "stable_path_logged",
    detail_paths("/api/restaurants", limit=1000),
    cache="hits",
    headers=CLIENT_HEADERS,
)

SCENARIOS: list[Scenario] = [
    Scenario(
        "uncached_detail",
        "(a) v4 GET /restaurants/{id}, cache off / Starlette app, same SELECT through asyncpg",
        subject=Probe(
            "v4 detail (no cache)", "uncached", detail_paths("/api/v4/restaurants"), cache="none"
        ),
        baseline=Probe(
            "Starlette + asyncpg detail", "starlette_asyncpg", detail_paths("/restaurants")
        ),
        target=0.8,
    ),
    Scenario(
        "cached_detail",
        "(b) stable-path GET /api/restaurants/{id}, warm cache / bare FastAPI hello app",
        subject=STABLE_DETAIL,
        baseline=FASTAPI_HELLO,
        target=1.5,
        rounds=10,
        duration=2.0,
        together=True,
    ),
    Scenario(
        "cached_detail_vs_starlette",
        "(b') stable-path GET /api/restaurants/{id}, warm cache / bare Starlette hello app",
        subject=STABLE_DETAIL,
        baseline=STARLETTE_HELLO,
        target=0.5,
        rounds=10,
        duration=2.0,
        together=True,
    ),
    Scenario(
        "cached_list_v4",
        "(c') v4 GET /api/v4/restaurants list, warm cache / bare FastAPI hello app",
        subject=Probe("v4 list (warm cache)", "cached", list_paths("/api/v4"), cache="hits"),
        baseline=FASTAPI_HELLO,
        target=1.3,
        rounds=10,
        duration=2.0,
        together=True,
    ),
    Scenario(
        "cached_list_stable",
        "(c'') stable-path GET /api/restaurants list, warm cache / bare FastAPI hello app",
        subject=Probe(
            "stable /api list (v4, warm cache)",
            "stable_path_logged",
            list_paths("/api"),
            cache="hits",
            headers=CLIENT_HEADERS,
        ),
        baseline=FASTAPI_HELLO,
        target=1.3,
        rounds=10,
        duration=2.0,
        together=True,
    ),
    Scenario(
        "granian_vs_uvicorn",
        "(g) stable-path GET /api/restaurants/{id}, warm cache: Bistro on granian / on uvicorn",
        subject=Probe(
            "on granian",
            "stable_path_granian",
            detail_paths("/api/restaurants", limit=1000),
            cache="hits",
            headers=CLIENT_HEADERS,
        ),
        baseline=STABLE_DETAIL,
        target=1.0,
        rounds=6,
        duration=2.0,
        together=True,
    ),
    Scenario(
        "starlette_vs_fastapi",
        "(f) for scale: bare Starlette hello app / bare FastAPI hello app (no target)",
        subject=STARLETTE_HELLO,
        baseline=FASTAPI_HELLO,
        target=0.0,
        rounds=6,
        duration=2.0,
        together=True,
    ),
    Scenario(
        "list_v4_vs_v3",
        "(c) GET /restaurants list: v4 with a warm cache / v3",
        subject=Probe("v4 list (warm cache)", "cached", list_paths("/api/v4"), cache="hits"),
        baseline=Probe("v3 list", "cached", list_paths("/api/v3")),
        target=3.0,
        needs=["/api/v3/restaurants"],
    ),
    Scenario(
        "metrics_overhead",
        "(d) v4 GET /restaurants/{id}, warm cache: metrics middleware on / off",
        subject=Probe(
            "metrics on",
            "cached",
            detail_paths("/api/v4/restaurants", limit=100),
            cache="hits",
        ),
        baseline=Probe(
            "metrics off",
            "cached_no_metrics",
            detail_paths("/api/v4/restaurants", limit=100),
            cache="hits",
        ),
        target=0.95,
        rounds=20,
        duration=2.0,
        together=True,
    ),
    Scenario(
        "stable_path",
        "(e) GET /restaurants/{id}, warm cache: stable path /api (routed to v4) / /api/v4",
        subject=Probe(
            "stable /api (v4)",
            "stable_path",
            detail_paths("/api/restaurants", limit=100),
            cache="hits",
            headers=CLIENT_HEADERS,
        ),
        baseline=Probe(
            "direct /api/v4",
            "stable_path",
            detail_paths("/api/v4/restaurants", limit=100),
            cache="hits",
            headers=CLIENT_HEADERS,
        ),
        target=0.95,
        rounds=20,
        duration=2.0,
        together=True,
    ),
]


@dataclass
class Options:
    duration: float | None  # None: each scenario's own
    warmup: float
    rounds: int | None
    connections: int
    server_core: int
    load_core: int


def measure(
    server: Server,
    probe: Probe,
    count: int,
    opts: Options,
    seconds: float,
    start: threading.Barrier | None = None,
) -> tuple[WrkResult, dict[str, int]]:
    before = server.stats()
    cpu_before = server.cpu_seconds()
    if start is not None:  # a together run: both loads start at once
        start.wait(timeout=60)
    result = run_wrk(
        server.base,
        probe.paths(count),
        seconds=seconds,
        connections=opts.connections,
        core=opts.load_core,
        headers=probe.headers,
    )
    result.server_cpu_s = server.cpu_seconds() - cpu_before
    after = server.stats()
    delta = {k: after.get(k, 0) - before.get(k, 0) for k in after}
    if result.non_2xx or result.socket_errors:
        raise BenchError(
            f"{probe.label}: {result.non_2xx} non-2xx responses, "
            f"{result.socket_errors} socket errors"
        )
    return result, delta


def measure_together(
    runs: list[tuple[Server, Probe]], count: int, opts: Options, seconds: float
) -> list[tuple[WrkResult, dict[str, int]]]:
    """``measure`` for each (server, probe) at the same time, each load in its own thread."""
    start = threading.Barrier(len(runs))
    results: list[tuple[WrkResult, dict[str, int]] | None] = [None] * len(runs)
    errors: list[BaseException] = []

    def run(index: int, server: Server, probe: Probe) -> None:
        try:
            results[index] = measure(server, probe, count, opts, seconds, start)
        except BaseException as exc:  # re-raised below, in the caller's thread
            start.abort()
            errors.append(exc)

    threads = [
        threading.Thread(target=run, args=(i, server, probe))
        for i, (server, probe) in enumerate(runs)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if errors:
        first = next((e for e in errors if not isinstance(e, threading.BrokenBarrierError)), None)
        raise first or errors[0]
    return [r for r in results if r is not None]


def quartiles(values: list[float]) -> tuple[float, float]:
    """The 25th and 75th percentiles: how far the rounds spread around the median."""
    if len(values) < 2:
        return (values[0], values[0]) if values else (float("nan"), float("nan"))
    q = statistics.quantiles(values, n=4, method="inclusive")
    return q[0], q[2]


def cache_problem(probe: Probe, result: WrkResult, delta: dict[str, int]) -> str | None:
    hits = delta.get("l1_hits", 0) + delta.get("l2_hits", 0)
    if probe.cache == "none" and hits:
        return f"{probe.label}: {hits} cache hits in an uncached run"
    if probe.cache == "hits" and hits < 0.95 * result.requests:
        return (
            f"{probe.label}: only {hits} of {result.requests} requests were cache hits "
            "(is the cache wired into this route on this build?)"
        )
    return None


def run_scenario(
    scenario: Scenario, servers: dict[str, Server], count: int, opts: Options
) -> dict[str, Any]:
    out: dict[str, Any] = {
        "name": scenario.name,
        "title": scenario.title,
        "target": scenario.target,
        "together": scenario.together,
    }
    for path in scenario.needs:
        status = servers[instances(scenario, 0)[0]].get(path).status_code
        if status != 200:
            return {**out, "status": "skipped", "reason": f"{path} answered {status}"}
    probes = (scenario.subject, scenario.baseline)
    # Every server a probe runs on in some round, checked and warmed.
    where = {
        probe.label: sorted({instances(scenario, r)[side] for r in (0, 1)})
        for side, probe in enumerate(probes)
    }
    for probe in probes:
        first = probe.paths(count)[0]
        for name in where[probe.label]:
            response = servers[name].get(first, probe.headers)
            stable = first.startswith("/api/") and not first.startswith(("/api/v3/", "/api/v4/"))
            if stable and response.headers.get("x-api-version") != "v4":
                return {
                    **out,
                    "status": "skipped",
                    "reason": f"{probe.label}: {first} was not routed to v4",
                }
            if response.status_code != 200:
                return {
                    **out,
                    "status": "skipped",
                    "reason": f"{probe.label}: {first} answered {response.status_code}",
                }
            if probe.cache == "hits":  # fill the cache with every path the run will ask for
                servers[name].warm(probe.paths(count))
    rps: dict[str, list[float]] = {p.label: [] for p in probes}
    ratios, cpu_ratios, problems, notes, detail = [], [], [], [], {}
    rounds = opts.rounds or scenario.rounds
    duration = opts.duration or scenario.duration
    for round_no in range(-1, rounds):  # round -1: the warm-up, not counted
        seconds = opts.warmup if round_no < 0 else duration
        placed = list(zip(instances(scenario, round_no), probes, strict=True))
        if scenario.together:
            runs = [(servers[name], probe) for name, probe in placed]
            measured = measure_together(runs, count, opts, seconds)
        else:
            if round_no % 2:
                placed.reverse()
            measured = [
                measure(servers[name], probe, count, opts, seconds) for name, probe in placed
            ]
        if round_no < 0:
            continue
        got = {}
        for (_name, probe), (result, delta) in zip(placed, measured, strict=True):
            got[probe.label] = result
            rps[probe.label].append(result.rps)
            if (problem := cache_problem(probe, result, delta)) is not None:
                problems.append(problem)
            if result.socket_errors:
                notes.append(f"{probe.label}: {result.socket_errors} socket errors (timeouts)")
        subject, baseline = got[scenario.subject.label], got[scenario.baseline.label]
        ratios.append(subject.rps / baseline.rps)
        cpu_ratios.append(subject.requests_per_cpu_s / baseline.requests_per_cpu_s)
        detail = {label: asdict(r) for label, r in got.items()}
    ratio = statistics.median(ratios)
    cpu_ratio = statistics.median(cpu_ratios)
    # Together, the two processes' shares of the core differ a little from round to round:
    # requests per CPU-second is each side's throughput per core. Apart, req/s is judged.
    judged_on = "cpu_ratio" if scenario.together else "ratio"
    judged = cpu_ratio if scenario.together else ratio
    judged_rounds = cpu_ratios if scenario.together else ratios
    verdict = "invalid" if problems else ("pass" if judged >= scenario.target else "below target")
    return {
        **out,
        "status": verdict,
        "judged_on": judged_on,
        "subject": scenario.subject.label,
        "baseline": scenario.baseline.label,
        "subject_rps": statistics.median(rps[scenario.subject.label]),
        "baseline_rps": statistics.median(rps[scenario.baseline.label]),
        "ratio": round(ratio, 3),
        "cpu_ratio": round(cpu_ratio, 3),
        "judged_quartiles": [round(q, 3) for q in quartiles(judged_rounds)],
        "rounds": rounds,
        "duration": duration,
        "round_ratios": [round(r, 3) for r in ratios],
        "round_cpu_ratios": [round(r, 3) for r in cpu_ratios],
        "last_round": detail,
        "problems": sorted(set(problems)),
        "notes": notes,
    }


def _rounds_label(rounds: int | None, duration: float | None) -> str:
    if rounds is None and duration is None:
        return "each scenario's own (below)"
    return f"{rounds or 'own'} x {duration or 'own'}"


def print_table(report: dict[str, Any]) -> None:
    cfg = report["config"]
    print(
        f"\nBistro service benchmark: {cfg['restaurants']} restaurants, {cfg['reviews']} "
        f"reviews; server on core {cfg['server_core']}, wrk -t1 -c{cfg['connections']} on "
        f"core {cfg['load_core']}; rounds x seconds per side: "
        f"{_rounds_label(cfg['rounds'], cfg['duration'])}\n"
    )
    header = (
        f"{'scenario':<18}{'subject req/s':>15}{'baseline req/s':>16}{'ratio':>8}"
        f"{'cpu ratio':>11}{'target':>8}  status"
    )
    print(header)
    print("-" * len(header))
    for s in report["scenarios"]:
        if s["status"] == "skipped":
            print(
                f"{s['name']:<18}{'-':>15}{'-':>16}{'-':>8}{'-':>11}{s['target']:>8}"
                f"  skipped: {s['reason']}"
            )
            continue
        mark = {"ratio": ("*", " "), "cpu_ratio": (" ", "*")}[s["judged_on"]]
        print(
            f"{s['name']:<18}{s['subject_rps']:>15.0f}{s['baseline_rps']:>16.0f}"
            f"{s['ratio']:>7.3f}{mark[0]}{s['cpu_ratio']:>10.3f}{mark[1]}{s['target']:>8}"
            f"  {s['status']}"
        )
    print(
        "\nratio: subject req/s / baseline req/s (median of rounds).\n"
        "cpu ratio: the same with requests per CPU-second of the server process.\n"
        "* the figure the status is judged on: req/s for sides run one after the other;\n"
        "  requests per CPU-second for sides run together on one core (each process gets\n"
        "  about half of it, not exactly half, so its own CPU time is the measure).\n"
    )
    for s in report["scenarios"]:
        print(f"  {s['name']}: {s['title']}")
        if s.get("round_ratios"):
            low, high = s["judged_quartiles"]
            how = (
                "together on one core, two processes swapping sides"
                if s["together"]
                else "alternating"
            )
            print(
                f"    {s['rounds']} rounds x {s['duration']}s, {how}; judged "
                f"{s['judged_on'].replace('_', ' ')} "
                f"{s[s['judged_on']]}, middle half of the rounds {low}-{high}"
            )
            print(f"    per-round ratios {s['round_ratios']}")
            print(f"    per-round cpu ratios {s['round_cpu_ratios']}")
        for problem in s.get("problems", []):
            print(f"    INVALID: {problem}")
        for note in s.get("notes", []):
            print(f"    note: {note}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--json", action="store_true", help="print one JSON document")
    parser.add_argument("--scenario", action="append", choices=[s.name for s in SCENARIOS])
    parser.add_argument(
        "--duration", type=float, help="seconds per measured run (default: the scenario's)"
    )
    parser.add_argument("--warmup", type=float, default=2.0)
    parser.add_argument("--rounds", type=int, help="alternating pairs (default: the scenario's)")
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--restaurants", type=int, default=10_000)
    parser.add_argument("--reviews", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--server-core", type=int, default=1)
    parser.add_argument("--load-core", type=int, default=0)
    parser.add_argument("--database-url", help="use this seeded database instead of a new one")
    args = parser.parse_args(argv)
    opts = Options(
        args.duration, args.warmup, args.rounds, args.connections, args.server_core, args.load_core
    )
    chosen = [s for s in SCENARIOS if not args.scenario or s.name in args.scenario]
    log = sys.stderr

    ensure_wrk()
    own_db = args.database_url is None
    url = args.database_url or create_database(ADMIN_URL)
    servers: dict[str, Server] = {}
    try:
        if own_db:
            print(f"seeding {args.restaurants} restaurants, {args.reviews} reviews ...", file=log)
            seeded = migrate_and_seed(url, args.restaurants, args.reviews, args.seed)
            print(f"seeded in {seeded['seconds']:.1f}s", file=log)
        needed = set().union(*(servers_needed(s) for s in chosen))
        for name in sorted(needed):
            servers[name] = make_server(name, url, args.server_core)
            servers[name].start()
        results = []
        for scenario in chosen:
            print(f"running {scenario.name} ...", file=log)
            results.append(run_scenario(scenario, servers, args.restaurants, opts))
    except BenchError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    finally:
        for server in servers.values():
            server.stop()
        if own_db:
            drop_database(ADMIN_URL, url)
    report = {
        "config": {
            "restaurants": args.restaurants,
            "reviews": args.reviews,
            "duration": args.duration,
            "warmup": args.warmup,
            "rounds": args.rounds,
            "connections": args.connections,
            "server_core": args.server_core,
            "load_core": args.load_core,
            "python": platform.python_version(),
            "cpus": os.cpu_count(),
        },
        "scenarios": results,
    }
    if args.json:
        print(orjson.dumps(report, option=orjson.OPT_INDENT_2).decode())
    else:
        print_table(report)
    return 0


if __name__ == "__main__":
    sys.exit(main())
