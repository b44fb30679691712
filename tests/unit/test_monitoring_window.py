"""Splitting a window into rollup minutes and raw edges, and merging both stored forms."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

from bistro.monitoring.histogram import encode, encode_pairs
from bistro.monitoring.window import WindowCounts, split_window

T = datetime(2026, 3, 1, 10, 0, 0, tzinfo=UTC)


def at(seconds: float) -> datetime:
    return T + timedelta(seconds=seconds)


def test_whole_minutes_and_two_edges() -> None:
    minutes, edges = split_window(at(12.5), at(7 * 60 + 3))
    assert minutes == (at(60), at(7 * 60))
    assert edges == [(at(12.5), at(60)), (at(7 * 60), at(7 * 60 + 3))]


def test_aligned_window_has_no_edges() -> None:
    assert split_window(at(60), at(180)) == ((at(60), at(180)), [])
    assert split_window(at(60), at(185)) == ((at(60), at(180)), [(at(180), at(185))])


def test_short_windows_read_raw_buckets_only() -> None:
    assert split_window(at(55), at(65)) == (None, [(at(55), at(65))])  # across a minute
    assert split_window(at(61), at(71)) == (None, [(at(61), at(71))])  # inside one
    assert split_window(at(30), at(90)) == (None, [(at(30), at(90))])  # no whole minute
    assert split_window(at(5), at(5)) == (None, [])


def row(histogram: object, requests: int) -> SimpleNamespace:
    return SimpleNamespace(
        requests=requests,
        errors_4xx=1,
        errors_5xx=2,
        client_aborts=3,
        latency_sum=0.5,
        histogram=histogram,
    )


def test_merges_rollup_pairs_and_bucket_objects() -> None:
    a = {1200: 3, 2500: 1}
    b = {1200: 2, 7: 4}
    c = {2500: 5, 9000: 1}
    counts = WindowCounts()
    counts.add_rows([row(encode_pairs(a), 4), row(encode(b), 6), row(encode_pairs(c), 6)])
    assert counts.histogram == {7: 4, 1200: 5, 2500: 6, 9000: 1}
    # The rollups' JSON text, as the window read fetches it, sums the same way.
    as_text = WindowCounts()
    as_text.add_rows(
        [
            row(json.dumps(encode_pairs(a)), 4),
            row(encode(b), 6),
            row("[]", 0),
            row(json.dumps(encode_pairs(c)), 6),
        ]
    )
    assert as_text.histogram == counts.histogram
    assert (counts.requests, counts.errors_4xx, counts.errors_5xx, counts.client_aborts) == (
        16,
        3,
        6,
        9,
    )
    assert counts.latency_sum == 1.5
    assert counts.error_rate == 6 / 16
    assert encode_pairs({5: 0, 3: 2, 1: 1}) == [1, 1, 3, 2]
    assert WindowCounts().quantile(0.95) is None and WindowCounts().error_rate == 0.0
