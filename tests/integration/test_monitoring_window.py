"""The rollout controller's window read: per-minute rollups plus raw edges, exactly equal to
reading every raw bucket, with several instances whose flushes straddle minute boundaries."""

from __future__ import annotations

import random
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest

from bistro.core.clock import FakeClock
from bistro.core.database import Database
from bistro.core.settings import DatabaseSettings
from bistro.monitoring.histogram import decode, merge
from bistro.monitoring.pipeline import MetricsPipeline
from bistro.monitoring.prom import PrometheusExporter
from bistro.monitoring.recorder import CLIENT_ABORT, GROUPS, SOURCES, Recorder
from bistro.monitoring.repository import MetricsRepository
from bistro.monitoring.window import WindowCounts, version_window

START = datetime(2026, 1, 1, 12, 0, 37, 250_000, tzinfo=UTC)
ROUTES = {
    "restaurants": ("/restaurants", "/restaurants/{restaurant_id}", "/restaurants/search"),
    "reviews": ("/reviews", "/reviews/{review_id}"),
    "users": ("/users/me", "/auth/login"),
    "statistics": ("/statistics",),
}
OUTCOMES = ("2xx", "2xx", "2xx", "2xx", "4xx", "5xx", CLIENT_ABORT)


@pytest.fixture
async def db(db_url: str) -> AsyncIterator[Database]:
    database = Database(DatabaseSettings(url=db_url))
    try:
        yield database
    finally:
        await database.engine.dispose()


def pipelines(db: Database, clock: FakeClock, n: int) -> list[MetricsPipeline]:
    return [
        MetricsPipeline(
            db,
            clock,
            Recorder(),
            PrometheusExporter(),
            retention=timedelta(hours=24),
            instance=f"instance-{i}",
        )
        for i in range(n)
    ]


def some_traffic(rng: random.Random, recorder: Recorder, n: int) -> None:
    for _ in range(n):
        group = rng.choice(list(ROUTES))
        key = (
            rng.choice(SOURCES),
            rng.choice(("v3", "v4", "v4", "none")),
            group,
            rng.choice(ROUTES[group]),
            rng.choice(OUTCOMES),
        )
        recorder.record(key, 10 ** rng.uniform(-4, 0.5), rng.randrange(2000))


async def run_traffic(
    db: Database, clock: FakeClock, intervals: list[float], seconds: int, seed: int
) -> list[MetricsPipeline]:
    """Instances flushing every ``intervals[i]`` seconds (their clocks out of phase), with
    traffic each second, for ``seconds``; every instance flushes once more at the end."""
    rng = random.Random(seed)
    fleet = pipelines(db, clock, len(intervals))
    next_flush = [clock.now() + timedelta(seconds=rng.uniform(0, i)) for i in intervals]
    for _ in range(seconds * 4):
        clock.advance(0.25)
        for i, pipeline in enumerate(fleet):
            some_traffic(rng, pipeline.recorder, rng.randrange(4))
            if clock.now() >= next_flush[i]:
                assert await pipeline.flush()
                next_flush[i] = clock.now() + timedelta(seconds=intervals[i])
    for pipeline in fleet:
        assert await pipeline.flush()
    return fleet


async def raw_truth(
    db: Database, since: datetime, until: datetime, source: str, group: str | None
) -> dict[str, WindowCounts]:
    """The same window summed from every raw bucket (the definition the rollups must meet)."""
    out = {"v3": WindowCounts(), "v4": WindowCounts()}
    async with db.unit_of_work() as session:
        rows = await MetricsRepository(session).request_rows(since, until, sources=(source,))
    for row in rows:
        if group is not None and row.grp != group:
            continue
        counts = out[row.version]
        counts.requests += row.requests
        counts.errors_4xx += row.errors_4xx
        counts.errors_5xx += row.errors_5xx
        counts.client_aborts += row.client_aborts
        counts.latency_sum += row.latency_sum
        merge(counts.histogram, decode(row.histogram))
    return out


def assert_same(got: dict[str, WindowCounts], want: dict[str, WindowCounts], label: str) -> None:
    assert set(got) == {"v3", "v4"}, label
    for version in ("v3", "v4"):
        g, w = got[version], want[version]
        assert (g.requests, g.errors_4xx, g.errors_5xx, g.client_aborts) == (
            w.requests,
            w.errors_4xx,
            w.errors_5xx,
            w.client_aborts,
        ), (label, version)
        assert g.histogram == w.histogram, (label, version)
        assert g.latency_sum == pytest.approx(w.latency_sum, rel=1e-9, abs=1e-9), label
        assert sum(g.histogram.values()) == g.requests, (label, version)


async def test_window_equals_raw_buckets_across_instances_and_minutes(db: Database) -> None:
    clock = FakeClock(START)
    # Three instances at 5 s, 7 s and 1 s flushes, four minutes and a bit: buckets start
    # just before, on and after minute boundaries.
    await run_traffic(db, clock, [5.0, 7.0, 1.0], seconds=250, seed=11)
    rng = random.Random(5)
    begin, end = START, clock.now() + timedelta(seconds=1)
    windows = [
        (begin, end),  # everything
        (START.replace(second=0, microsecond=0), end),  # starts on a minute
        (START + timedelta(seconds=23), START + timedelta(seconds=143)),  # exactly 2 minutes
        (START + timedelta(seconds=60), START + timedelta(seconds=70)),  # 10 s, inside one
        (START + timedelta(seconds=17), START + timedelta(seconds=27)),  # 10 s across :00
    ]
    for _ in range(12):
        a = begin + timedelta(seconds=rng.uniform(0, 250))
        windows.append((a, a + timedelta(seconds=rng.choice((10, 30, 61, 90, 125, 200)))))
    async with db.unit_of_work() as session:
        assert await MetricsRepository(session).minute_counts(begin, end, "stable", None), (
            "the rollups were written"
        )
    for since, until in windows:
        for source, group in (("stable", "restaurants"), ("direct", "reviews"), ("shadow", None)):
            label = f"{source}/{group} [{since:%H:%M:%S.%f}, {until:%H:%M:%S.%f})"
            async with db.unit_of_work() as session:
                got = await version_window(session, since, until, source=source, group=group)
            assert_same(got, await raw_truth(db, since, until, source, group), label)


async def test_short_window_with_one_second_flushes(db: Database) -> None:
    """The live drill's set-up: flush 1 s, window 10 s, evaluated every 2 s."""
    clock = FakeClock(START)
    fleet = pipelines(db, clock, 2)
    sent = {"v3": 0, "v4": 0}
    errors = 0
    for second in range(30):
        for i, pipeline in enumerate(fleet):
            for n in range(5):
                version = "v4" if (second + n + i) % 2 else "v3"
                outcome = "5xx" if version == "v4" and n == 0 else "2xx"
                key = ("stable", version, "restaurants", "/restaurants", outcome)
                pipeline.recorder.record(key, 0.002 * (n + 1), 100)
                if second >= 20:
                    sent[version] += 1
                    errors += outcome == "5xx"
        clock.advance(1)
        for pipeline in fleet:
            assert await pipeline.flush()
    until = clock.now()
    since = until - timedelta(seconds=10)
    async with db.unit_of_work() as session:
        got = await version_window(session, since, until, source="stable", group="restaurants")
    assert {v: c.requests for v, c in got.items()} == sent
    assert got["v4"].errors_5xx == errors and got["v3"].errors_5xx == 0
    assert_same(got, await raw_truth(db, since, until, "stable", "restaurants"), "10 s")
    for since, until in [(until - timedelta(seconds=s), until) for s in (2, 7, 11, 29)]:
        async with db.unit_of_work() as session:
            got = await version_window(session, since, until, source="stable", group=None)
        assert_same(got, await raw_truth(db, since, until, "stable", None), f"{since}")


async def test_failed_flush_is_rolled_up_once(db: Database) -> None:
    """Rows kept through a failed flush reach the rollups once, with the retried flush."""
    clock = FakeClock(START)
    (pipeline,) = pipelines(db, clock, 1)
    key = ("stable", "v4", "reviews", "/reviews", "2xx")
    pipeline.recorder.record(key, 0.01, 10)
    assert await pipeline.flush()
    clock.advance(2)
    pipeline.recorder.record(key, 0.01, 10)
    real_engine = db.engine
    broken = Database(DatabaseSettings(url="postgresql+asyncpg://nobody@127.0.0.1:1/none"))
    pipeline.db = broken
    try:
        assert not await pipeline.flush()
    finally:
        pipeline.db = db
        await broken.engine.dispose()
    assert db.engine is real_engine
    pipeline.recorder.record(key, 0.01, 10)
    assert await pipeline.flush()
    until = clock.now() + timedelta(seconds=120)
    async with db.unit_of_work() as session:
        got = await version_window(
            session, START - timedelta(minutes=1), until, source="stable", group="reviews"
        )
    assert got["v4"].requests == 3 and got["v3"].requests == 0


async def test_client_aborts_are_counted_apart(db: Database) -> None:
    clock = FakeClock(START)
    (pipeline,) = pipelines(db, clock, 1)
    recorder = pipeline.recorder
    for outcome, n in (("2xx", 7), ("5xx", 2), (CLIENT_ABORT, 30)):
        for _ in range(n):
            recorder.record(("stable", "v3", "reviews", "/reviews", outcome), 0.5, 10)
    assert await pipeline.flush()
    clock.advance(180)
    async with db.unit_of_work() as session:
        got = await version_window(
            session, START - timedelta(minutes=2), clock.now(), source="stable", group="reviews"
        )
    v3 = got["v3"]
    assert (v3.requests, v3.errors_5xx, v3.client_aborts) == (9, 2, 30)
    assert sum(v3.histogram.values()) == 9  # aborted requests are in no latency statistic
    assert v3.error_rate == pytest.approx(2 / 9)


async def test_rollups_are_pruned_with_the_buckets(db: Database) -> None:
    clock = FakeClock(START)
    (pipeline,) = pipelines(db, clock, 1)
    pipeline.recorder.record(("direct", "v4", "users", "/users/me", "2xx"), 0.01, 10)
    assert await pipeline.flush()
    clock.advance(timedelta(hours=25).total_seconds())
    assert await pipeline.flush()  # an empty interval: the next bucket starts now
    pipeline.recorder.record(("direct", "v4", "users", "/users/me", "2xx"), 0.01, 10)
    clock.advance(1)
    assert await pipeline.flush()
    async with db.unit_of_work() as session:
        repo = MetricsRepository(session)
        old = await repo.minute_counts(
            START - timedelta(hours=1), START + timedelta(hours=1), "direct", None
        )
        new = await repo.minute_counts(START, clock.now() + timedelta(minutes=1), "direct", None)
    assert old == [] and len(new) == 1


def test_groups_cover_the_routes() -> None:
    assert set(ROUTES) <= set(GROUPS) and "stable" in SOURCES
