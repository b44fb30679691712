"""The log-linear histogram, route classification and the recorder (no database)."""

from __future__ import annotations

import math
import random

from bistro.monitoring.histogram import (
    MAX_INDEX,
    bucket_bounds,
    bucket_index,
    decode,
    encode,
    merge_all,
    quantile,
)
from bistro.monitoring.prom import BOUNDS, prom_bucket
from bistro.monitoring.recorder import NO_VERSION, Recorder, classify, status_class


def test_every_value_falls_inside_its_bucket_and_buckets_are_at_most_one_percent_wide() -> None:
    rng = random.Random(7)
    values = [0, 1, 999, 1000, 1009, 1010, 9999, 10_000, 123_456, 999_999_999]
    values += [int(10 ** rng.uniform(0, 9)) for _ in range(5000)]
    for micros in values:
        index = bucket_index(micros)
        lower, upper = bucket_bounds(index)
        assert lower <= micros < upper, (micros, index, lower, upper)
        if micros >= 1000:
            assert (upper - lower) / lower <= 0.01
    assert bucket_index(10**12) == MAX_INDEX
    assert bucket_index(-5) == 0


def test_indexes_are_contiguous_and_ordered() -> None:
    previous_upper = 0
    for index in range(MAX_INDEX + 1):
        lower, upper = bucket_bounds(index)
        assert lower == previous_upper
        assert bucket_index(lower) == index
        previous_upper = upper


def test_quantiles_within_half_a_percent_of_nearest_rank() -> None:
    rng = random.Random(11)
    latencies = [rng.lognormvariate(math.log(0.05), 0.8) for _ in range(20_000)]
    histogram: dict[int, int] = {}
    for value in latencies:
        index = bucket_index(int(value * 1_000_000))
        histogram[index] = histogram.get(index, 0) + 1
    ordered = sorted(latencies)
    for q in (0.5, 0.95, 0.99):
        truth = ordered[math.ceil(q * len(ordered)) - 1]
        estimate = quantile(histogram, q)
        assert estimate is not None
        assert abs(estimate - truth) / truth < 0.006, (q, estimate, truth)
    assert quantile({}, 0.5) is None


def test_merge_is_a_sum_and_survives_json_round_trip() -> None:
    a = {1: 2, 1500: 3}
    b = {1: 1, 2000: 4}
    merged = merge_all([decode(encode(a)), decode(encode(b))])
    assert merged == {1: 3, 1500: 3, 2000: 4}


def test_prometheus_bounds_are_exact_bucket_edges() -> None:
    for position, bound in enumerate(BOUNDS):
        micros = round(bound * 1_000_000)
        assert bucket_bounds(bucket_index(micros))[0] == micros
        # The bucket just below the bound folds into it; the one at the bound, above it.
        assert prom_bucket(bucket_index(micros - 1)) == position
        assert prom_bucket(bucket_index(micros)) == position + 1


def test_classify_versions_groups_and_control_plane() -> None:
    assert classify("/api/v3/restaurants/{restaurant_id}") == (
        "v3",
        "restaurants",
        "/restaurants/{restaurant_id}",
    )
    assert classify("/api/v4/auth/login") == ("v4", "users", "/auth/login")
    assert classify("/api/v4/admin/users/{user_id}")[1] == "users"
    assert classify("/api/v4/statistics")[:2] == ("v4", "statistics")
    assert classify("/api/v4/migration/status")[0] == NO_VERSION
    assert classify("/metrics") == (NO_VERSION, "other", "/metrics")
    # The stable path, once the router said which version served it.
    assert classify("/api/reviews", "v4") == ("v4", "reviews", "/reviews")
    assert classify("/api/v4/reviews", "v3")[0] == "v3"
    assert status_class(503) == "5xx" and status_class(404) == "4xx"


def test_recorder_accumulates_and_drains() -> None:
    recorder = Recorder()
    key = ("direct", "v4", "restaurants", "/restaurants", "2xx")
    recorder.record(key, 0.0123, 100)
    recorder.record(key, 0.0123, 50)
    batch = recorder.drain()
    assert batch[key].requests == 2
    assert batch[key].bytes_out == 150
    assert batch[key].histogram == {bucket_index(12_300): 2}
    assert recorder.drain() == {}


def test_recorder_inlined_buckets_match_bucket_index() -> None:
    rng = random.Random(3)
    key = ("direct", "v3", "reviews", "/reviews", "2xx")
    for _ in range(3000):
        latency = 10 ** rng.uniform(-7, 2.5)
        recorder = Recorder()
        recorder.record(key, latency, 0)
        assert recorder.drain()[key].histogram == {bucket_index(int(latency * 1_000_000)): 1}
