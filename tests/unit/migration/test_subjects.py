"""Reading the router's subject from headers and cookies."""

from __future__ import annotations

import pytest

from bistro.core.clock import FakeClock
from bistro.migration.subjects import bearer_token, cookie_client_id, valid_client_id
from bistro.migration.traffic import ServedCounter


@pytest.mark.parametrize("raw", [b"abc", b"a.b_c-d", b"x" * 128, b"!#+-:<[]~", b"550e8400"])
def test_acceptable_client_ids(raw: bytes) -> None:
    assert valid_client_id(raw) == raw.decode()


@pytest.mark.parametrize(
    "raw", [b"", b"x" * 129, b"a b", b"a;b", b"a,b", b'a"b', b"a\\b", b"a\tb", "é".encode()]
)
def test_refused_client_ids(raw: bytes) -> None:
    assert valid_client_id(raw) is None


def test_cookie_and_bearer_parsing() -> None:
    assert cookie_client_id(b"theme=dark; bistro_client_id=abc123; x=1") == "abc123"
    assert cookie_client_id(b"bistro_client_id=bad value") is None
    assert cookie_client_id(b"other=1") is None
    assert bearer_token(b"Bearer tok-1") == "tok-1"
    assert bearer_token(b"bearer  tok-2 ") == "tok-2"
    assert bearer_token(b"Basic abc") is None
    assert bearer_token(b"Bearer ") is None


def test_served_counter_keeps_a_window() -> None:
    clock = FakeClock()
    served = ServedCounter(window_seconds=60, clock=clock)
    for _ in range(3):
        served.record("v4", "restaurants")
    served.record("v3", "restaurants")
    summary = served.summary()
    assert summary["groups"]["restaurants"] == {
        "requests": 4,
        "v3": 1,
        "v4": 3,
        "v3_share": 0.25,
        "v4_share": 0.75,
    }
    clock.advance(120)
    served.record("v3", "reviews")
    # The lifetime totals keep what the window has dropped.
    assert served.total == {
        ("v4", "restaurants"): 3,
        ("v3", "restaurants"): 1,
        ("v3", "reviews"): 1,
    }
    summary = served.summary()
    assert "restaurants" not in summary["groups"]
    assert summary["overall"]["requests"] == 1
