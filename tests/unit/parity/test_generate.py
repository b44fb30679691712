"""Replay request files and generation (no server: a catalogue built by hand)."""

from __future__ import annotations

from pathlib import Path

import pytest

from bistro.parity.generate import (
    Catalogue,
    ReplayRequest,
    RequestFileError,
    generate,
    read_requests,
)
from bistro.parity.noise import endpoint_of


def test_a_requests_file_takes_paths_under_any_prefix(tmp_path: Path) -> None:
    file = tmp_path / "r.txt"
    file.write_text(
        "# comment\n\n/restaurants?city=porto\nGET /api/v3/reviews/3\n/api/statistics\n"
        "get /api/v4/users/me\n"
    )
    assert read_requests(file) == [
        ReplayRequest("/restaurants?city=porto"),
        ReplayRequest("/reviews/3"),
        ReplayRequest("/statistics"),
        ReplayRequest("/users/me"),
    ]
    assert read_requests(file)[3].signed_in and not read_requests(file)[0].signed_in


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("DELETE /restaurants/1\n", "only GET"),
        ("restaurants\n", "not a path"),
        ("/a b c\n", "not a path"),
        ("# nothing\n", "holds no requests"),
    ],
)
def test_a_bad_requests_file_says_which_line(tmp_path: Path, text: str, message: str) -> None:
    file = tmp_path / "r.txt"
    file.write_text(text)
    with pytest.raises(RequestFileError, match=message):
        read_requests(file)


CATALOGUE = Catalogue(
    restaurants=[
        {"id": i, "name": f"Casa {i}", "cuisine": c, "city": t, "latitude": 38.7, "longitude": -9.1}
        for i, (c, t) in enumerate(
            [("thai", "Lisbon"), ("sushi", "Porto"), ("italian", "Faro")] * 4, 1
        )
    ],
    reviews=[{"id": i, "user_id": i % 3 + 1, "restaurant_id": i} for i in range(1, 20)],
    user_ids=[1, 2, 3],
    signed_in=True,
    admin=True,
)


def test_generation_is_deterministic_and_covers_every_read_endpoint() -> None:
    first = generate(CATALOGUE, 600, seed=3)
    assert first == generate(CATALOGUE, 600, seed=3)
    assert first != generate(CATALOGUE, 600, seed=4)
    assert len(first) == 600
    endpoints = {endpoint_of("GET", r.path) for r in first}
    assert endpoints >= {
        "GET /restaurants",
        "GET /restaurants/search",
        "GET /restaurants/{id}",
        "GET /reviews",
        "GET /reviews/{id}",
        "GET /statistics",
        "GET /users/me",
        "GET /admin/users",
        "GET /admin/users/{id}",
    }
    lists = [r.path for r in first if r.path.startswith("/restaurants?")]
    for needle in ("sort=distance", "near=", "open_now=", "offset=", "cuisine=", "city="):
        assert any(needle in p for p in lists), needle
    # Without a token, no signed-in endpoint is generated.
    anonymous = Catalogue(CATALOGUE.restaurants, CATALOGUE.reviews, [1, 2, 3])
    assert not any(r.signed_in for r in generate(anonymous, 300))
    # An empty service still gets requests (statistics, lists, ids that do not exist).
    assert len(generate(Catalogue(), 20)) == 20
