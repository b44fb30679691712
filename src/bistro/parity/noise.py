"""Noise: the paths on which v3 disagrees with itself, per endpoint.

Replay asks v3 twice for every request (once before v4, once after, so a value that moves with
time moves between them too) and everything the two v3 answers disagree on is noise for that
endpoint: a "now" timestamp, ``is_open_now`` at a minute boundary. Noise is learned afresh by
every replay (it never becomes permanent) and is compared for presence only. Shadow mode uses
what the last replay learned plus the operator's explicit list (``BISTRO_PARITY_IGNORE``).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from bistro.parity.compare import Answer, differences, pattern

_NUMERIC_SEGMENT = re.compile(r"/\d+(?=/|$)")


def endpoint_of(method: str, path: str) -> str:
    """``GET /restaurants/{id}`` for ``GET /api/v3/restaurants/12?x=1`` (either version, or
    the stable path): the name figures are grouped by."""
    path = path.split("?", 1)[0]
    for prefix in ("/api/v3", "/api/v4", "/api"):
        if path.startswith(prefix + "/"):
            path = path[len(prefix) :]
            break
    return f"{method.upper()} {_NUMERIC_SEGMENT.sub('/{id}', path) or '/'}"


def group_of(endpoint: str) -> str:
    """The endpoint group (restaurants, reviews, users, statistics) of an endpoint name."""
    head = endpoint.split(" ", 1)[-1].lstrip("/").split("/", 1)[0]
    if head in ("restaurants", "reviews", "statistics"):
        return head
    if head in ("users", "auth", "admin"):
        return "users"
    return "other"


@dataclass
class NoiseModel:
    """Noise patterns per endpoint, plus patterns that apply everywhere (the ignore list)."""

    by_endpoint: dict[str, set[str]] = field(default_factory=dict)
    everywhere: frozenset[str] = frozenset()
    # How many v3-twice pairs each endpoint was learned from, and how many disagreed.
    pairs: dict[str, int] = field(default_factory=dict)
    noisy_pairs: dict[str, int] = field(default_factory=dict)

    def learn(self, endpoint: str, first: Answer, second: Answer) -> set[str]:
        """Record what two v3 answers to one request disagree on; returns the new patterns."""
        self.pairs[endpoint] = self.pairs.get(endpoint, 0) + 1
        if first.status != second.status:
            found = {"$"}
        else:
            found = {pattern(d.path) for d in differences(first.body, second.body)}
            found |= {pattern(d.path) for d in differences(second.body, first.body)}
        if found:
            self.noisy_pairs[endpoint] = self.noisy_pairs.get(endpoint, 0) + 1
        known = self.by_endpoint.setdefault(endpoint, set())
        new = found - known
        known |= found
        return new

    def paths(self, endpoint: str) -> frozenset[str]:
        learned = self.by_endpoint.get(endpoint)
        return self.everywhere | learned if learned else self.everywhere

    def as_dict(self) -> dict[str, list[str]]:
        return {e: sorted(p) for e, p in sorted(self.by_endpoint.items()) if p}

    @classmethod
    def from_mapping(
        cls, learned: Mapping[str, Iterable[str]], everywhere: Iterable[str] = ()
    ) -> NoiseModel:
        return cls(
            by_endpoint={endpoint: set(paths) for endpoint, paths in learned.items()},
            everywhere=frozenset(everywhere),
        )
