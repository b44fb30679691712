"""What a run sends: the endpoint catalogue, the request mix and the slice schedule.

Both versions get the same mix. Versions take turns in short slices (v3 v4 v4 v3 v3 v4 ...:
each pair of slices is one comparison, and the order flips every pair so a drift in machine
conditions during a pair does not favour one side).
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

ENDPOINTS = ("detail", "list", "search", "statistics", "reviews", "write")
READ_ENDPOINTS = ("detail", "list", "search", "statistics", "reviews")
DEFAULT_ENDPOINTS = ("detail", "list", "search", "statistics", "reviews")
PREFIXES = {"v3": "/api/v3", "v4": "/api/v4", "stable": "/api"}
ENDPOINT_GROUP = {
    "detail": "restaurants",
    "list": "restaurants",
    "search": "restaurants",
    "statistics": "statistics",
    "reviews": "reviews",
    "write": "reviews",
}


class PlanError(ValueError):
    """The options do not describe a run that can be made (a usage error)."""


def parse_duration(text: str) -> float:
    """``30s``, ``2m``, ``500ms``, ``1.5`` (seconds) -> seconds."""
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h)?\s*", text)
    if not match:
        raise PlanError(f"cannot read the duration {text!r} (examples: 30s, 2m, 500ms)")
    value = float(match.group(1))
    scale = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}[match.group(2) or "s"]
    return value * scale


def parse_endpoints(text: str) -> tuple[str, ...]:
    names = tuple(dict.fromkeys(part.strip() for part in text.split(",") if part.strip()))
    unknown = [name for name in names if name not in ENDPOINTS]
    if unknown or not names:
        raise PlanError(
            f"unknown endpoint {', '.join(unknown) or '(none)'}; choose from {', '.join(ENDPOINTS)}"
        )
    return names


@dataclass(frozen=True)
class Request:
    """One HTTP request of the mix; ``write`` requests are built while running."""

    endpoint: str
    version: str
    method: str
    path: str


@dataclass
class Corpus:
    """Values the mix rotates through, discovered from the service itself."""

    restaurant_ids: list[int]
    words: list[str]
    cuisines: list[str]
    cities: list[str]

    @classmethod
    def from_restaurants(cls, rows: list[dict[str, Any]]) -> Corpus:
        ids = [int(r["id"]) for r in rows if isinstance(r.get("id"), int)]
        cuisines = sorted({str(r["cuisine"]) for r in rows if r.get("cuisine")})
        cities = sorted({str(r["city"]) for r in rows if r.get("city")})
        words: list[str] = []
        for row in rows:
            for word in str(row.get("name", "")).split():
                if len(word) >= 4 and word.isalpha() and word.lower() not in words:
                    words.append(word.lower())
        return cls(ids, words[:20] or cuisines[:5] or ["a"], cuisines[:8], cities[:8])


def _read_paths(endpoint: str, corpus: Corpus) -> list[str]:
    ids = corpus.restaurant_ids
    if endpoint == "detail":
        return [f"/restaurants/{rid}" for rid in ids]
    if endpoint == "list":
        paths = ["/restaurants?limit=20", "/restaurants?limit=20&sort=review_count"]
        paths += [f"/restaurants?limit=20&cuisine={c}" for c in corpus.cuisines[:4]]
        paths += [f"/restaurants?limit=20&city={c}" for c in corpus.cities[:4]]
        return paths
    if endpoint == "search":
        return [f"/restaurants/search?q={w}" for w in corpus.words]
    if endpoint == "statistics":
        return ["/statistics"]
    if endpoint == "reviews":
        return [f"/reviews?restaurant_id={rid}&limit=20" for rid in ids]
    raise PlanError(f"{endpoint} has no read paths")


@dataclass
class Mix:
    """An endless round-robin over endpoints, each rotating through its own paths."""

    endpoints: tuple[str, ...]
    corpus: Corpus
    _cycles: dict[tuple[str, str], Iterator[str]] = field(default_factory=dict)

    def paths(self, endpoint: str) -> list[str]:
        if endpoint == "write":
            return ["/reviews"]
        return _read_paths(endpoint, self.corpus)

    def requests(self, version: str) -> Iterator[Request]:
        """The version's requests, endpoints in turn (so each gets an equal share)."""
        prefix = PREFIXES[version]
        for endpoint in itertools.cycle(self.endpoints):
            cycle = self._cycles.get((version, endpoint))
            if cycle is None:
                cycle = self._cycles[(version, endpoint)] = itertools.cycle(self.paths(endpoint))
            method = "POST" if endpoint == "write" else "GET"
            yield Request(endpoint, version, method, prefix + next(cycle))


@dataclass(frozen=True)
class Slice:
    index: int
    version: str
    seconds: float


def schedule(versions: tuple[str, ...], duration: float, slice_seconds: float) -> list[Slice]:
    """Slices covering ``duration``, versions in turn, the order reversed every round, and a
    whole number of rounds (so each version gets the same time)."""
    if duration <= 0 or slice_seconds <= 0:
        raise PlanError("--duration and the slice length must be positive")
    per_round = len(versions) * slice_seconds
    rounds = max(1, round(duration / per_round))
    out: list[Slice] = []
    for r in range(rounds):
        order = versions if r % 2 == 0 else tuple(reversed(versions))
        for version in order:
            out.append(Slice(len(out), version, slice_seconds))
    return out
