"""Replay requests: read from a file of paths, or generated from what the target lists.

Generation asks the target's v3 (the baseline) for what it holds (restaurants with their
cuisines, cities and coordinates; reviews with their authors; with a token, the signed-in
user and, for an admin, the users) and builds a deterministic spread of read requests from it:
every read endpoint, filters alone and combined, every sort, pages inside and past the end,
ids that exist and ones that do not, search terms cut from real names, ``open_now`` and
``near`` at real places, and a little bad input (the known "both refused" difference).
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import httpx

RESTAURANT_SORTS = ("rating", "review_count", "name", "newest")
REVIEW_SORTS = ("newest", "rating")
SIGNED_IN_PREFIXES = ("/users/", "/admin/")


@dataclass(frozen=True, slots=True)
class ReplayRequest:
    """A GET request by its path under the version prefix: ``/restaurants?sort=name``."""

    path: str

    @property
    def signed_in(self) -> bool:
        return self.path.startswith(SIGNED_IN_PREFIXES)


class RequestFileError(ValueError):
    """The requests file cannot be used; the message says which line and why."""


def read_requests(file: Path) -> list[ReplayRequest]:
    """One path per line (``/restaurants?city=porto``, ``/api/v3/...`` or ``/api/...`` alike);
    blank lines and ``#`` comments are skipped; ``GET `` in front of a path is allowed."""
    try:
        lines = file.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise RequestFileError(f"cannot read {file}: {exc}") from None
    out = []
    for number, raw in enumerate(lines, 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        method, _, rest = line.partition(" ")
        if rest and method.isalpha():
            if method.upper() != "GET":
                raise RequestFileError(f"{file}:{number}: only GET requests are replayed")
            line = rest.strip()
        for prefix in ("/api/v3/", "/api/v4/", "/api/"):
            if line.startswith(prefix):
                line = "/" + line[len(prefix) :]
                break
        if not line.startswith("/") or any(c.isspace() for c in line):
            raise RequestFileError(f"{file}:{number}: not a path: {raw.strip()[:80]!r}")
        out.append(ReplayRequest(line))
    if not out:
        raise RequestFileError(f"{file} holds no requests")
    return out


@dataclass
class Catalogue:
    """What the target lists, as read from its v3."""

    restaurants: list[dict[str, Any]] = field(default_factory=list)
    reviews: list[dict[str, Any]] = field(default_factory=list)
    user_ids: list[int] = field(default_factory=list)
    signed_in: bool = False
    admin: bool = False

    def values(self, key: str) -> list[Any]:
        return sorted({r[key] for r in self.restaurants if r.get(key) not in (None, "")})


async def _data(client: httpx.AsyncClient, path: str, headers: dict[str, str]) -> Any:
    response = await client.get("/api/v3" + path, headers=headers)
    if response.status_code != 200:
        return None
    return response.json().get("data")


async def catalogue(client: httpx.AsyncClient, token: str | None = None) -> Catalogue:
    """Read the target's restaurants, reviews and (with a token) users through its v3."""
    found = Catalogue()
    seen: set[int] = set()
    for sort, offset in (("newest", 0), ("newest", 50), ("rating", 0), ("name", 0), ("name", 50)):
        page = await _data(client, f"/restaurants?limit=50&sort={sort}&offset={offset}", {})
        for item in page or []:
            if item["id"] not in seen:
                seen.add(item["id"])
                found.restaurants.append(item)
    for offset in (0, 50):
        found.reviews += await _data(client, f"/reviews?limit=50&offset={offset}", {}) or []
    users = {r["user_id"] for r in found.reviews}
    if token:
        auth = {"Authorization": f"Bearer {token}"}
        me = await _data(client, "/users/me", auth)
        if isinstance(me, dict):
            found.signed_in = True
            found.admin = me.get("role") == "admin"
            users.add(me["id"])
        if found.admin:
            users |= {u["id"] for u in await _data(client, "/admin/users?limit=50", auth) or []}
    found.user_ids = sorted(users)
    return found


def _query(path: str, params: Iterable[tuple[str, Any]]) -> str:
    pairs = [(k, str(v).lower() if isinstance(v, bool) else v) for k, v in params]
    return f"{path}?{urlencode(pairs)}" if pairs else path


def _page(rng: random.Random, params: list[tuple[str, Any]]) -> None:
    roll = rng.random()
    if roll < 0.35:
        return
    limit = rng.choice((1, 3, 5, 10, 20, 50))
    params.append(("limit", limit))
    if roll > 0.6:
        params.append(("offset", rng.choice((0, limit, 2 * limit, 7, 40, 100, 1000))))


def _cased(rng: random.Random, value: str) -> str:
    return rng.choice((value, value.upper(), value.lower(), value.title()))


class Generator:
    def __init__(self, found: Catalogue, seed: int) -> None:
        self.found = found
        self.rng = random.Random(seed)
        self.cuisines = found.values("cuisine") or ["thai"]
        self.cities = found.values("city") or ["Lisbon"]
        self.missing_id = 10 + max((r["id"] for r in found.restaurants), default=0) * 10

    def restaurant_list(self) -> str:
        rng = self.rng
        params: list[tuple[str, Any]] = []
        if rng.random() < 0.4:
            picked = rng.sample(self.cuisines, min(len(self.cuisines), rng.choice((1, 1, 2, 3))))
            if rng.random() < 0.5:
                params.append(("cuisine", ",".join(_cased(rng, c) for c in picked)))
            else:
                params += [("cuisine", c) for c in picked]
        if rng.random() < 0.3:
            params.append(("city", _cased(rng, rng.choice(self.cities))))
        if rng.random() < 0.25:
            low = rng.randint(1, 4)
            params.append(("price_min", low))
            if rng.random() < 0.5:
                params.append(("price_max", rng.randint(low, 4)))
        elif rng.random() < 0.15:
            params.append(("price_max", rng.randint(1, 4)))
        if rng.random() < 0.25:
            params.append(("min_rating", rng.choice((0, 1, 2.5, 3, 3.5, 4, 4.2, 4.5, 5))))
        if rng.random() < 0.2:
            params.append(("open_now", rng.random() < 0.7))
        sorts: tuple[str, ...] = RESTAURANT_SORTS
        if self.found.restaurants and rng.random() < 0.25:
            place = rng.choice(self.found.restaurants)
            lat = round(place["latitude"] + rng.uniform(-0.02, 0.02), 4)
            lon = round(place["longitude"] + rng.uniform(-0.02, 0.02), 4)
            params.append(("near", f"{lat},{lon}"))
            params.append(("radius_km", rng.choice((1, 2, 5, 10, 25, 100, 500))))
            sorts = (*RESTAURANT_SORTS, "distance", "distance")
        if rng.random() < 0.75:
            params.append(("sort", rng.choice(sorts)))
        _page(rng, params)
        return _query("/restaurants", params)

    def search(self) -> str:
        rng = self.rng
        source = rng.random()
        if self.found.restaurants and source < 0.5:
            name = str(rng.choice(self.found.restaurants)["name"])
            start = rng.randrange(0, max(1, len(name) - 2))
            term = name[start : start + rng.randint(2, 6)]
        elif source < 0.75:
            term = rng.choice(self.cities)[:4]
        elif source < 0.95:
            term = rng.choice(self.cuisines)
        else:
            term = rng.choice(("zzzz", "%", "_", "a b", "O'"))
        params: list[tuple[str, Any]] = [("q", _cased(rng, term.strip() or "a"))]
        if rng.random() < 0.2:
            params.append(("cuisine", rng.choice(self.cuisines)))
        if rng.random() < 0.6:
            params.append(("sort", rng.choice(RESTAURANT_SORTS)))
        _page(rng, params)
        return _query("/restaurants/search", params)

    def restaurant_detail(self) -> str:
        if not self.found.restaurants or self.rng.random() < 0.05:
            return f"/restaurants/{self.missing_id}"
        return f"/restaurants/{self.rng.choice(self.found.restaurants)['id']}"

    def review_list(self) -> str:
        rng = self.rng
        params: list[tuple[str, Any]] = []
        roll = rng.random()
        if self.found.restaurants and roll < 0.4:
            params.append(("restaurant_id", rng.choice(self.found.restaurants)["id"]))
        elif self.found.user_ids and roll < 0.65:
            params.append(("user_id", rng.choice(self.found.user_ids)))
        if rng.random() < 0.3:
            params.append(("min_rating", rng.randint(1, 5)))
        if rng.random() < 0.7:
            params.append(("sort", rng.choice(REVIEW_SORTS)))
        _page(rng, params)
        return _query("/reviews", params)

    def review_detail(self) -> str:
        if not self.found.reviews or self.rng.random() < 0.05:
            return f"/reviews/{self.missing_id}"
        return f"/reviews/{self.rng.choice(self.found.reviews)['id']}"

    def statistics(self) -> str:
        return "/statistics"

    def signed_in(self) -> str:
        rng = self.rng
        if not self.found.admin or rng.random() < 0.3:
            return "/users/me"
        if self.found.user_ids and rng.random() < 0.5:
            return f"/admin/users/{rng.choice([*self.found.user_ids, self.missing_id])}"
        params: list[tuple[str, Any]] = []
        _page(rng, params)
        return _query("/admin/users", params)

    def bad_input(self) -> str:
        return self.rng.choice(
            (
                "/restaurants?limit=51",
                "/restaurants?limit=0",
                "/restaurants?sort=stars",
                "/restaurants?min_rating=9",
                "/restaurants?near=x",
                "/restaurants?price_min=5",
                "/reviews?sort=loudest",
                "/reviews?min_rating=abc",
                "/restaurants/search?q=",
            )
        )


def generate(found: Catalogue, count: int, seed: int = 1) -> list[ReplayRequest]:
    """``count`` requests, the same ones for the same catalogue and seed."""
    gen = Generator(found, seed)
    kinds: list[tuple[Callable[[], str], float]] = [
        (gen.restaurant_list, 0.42),
        (gen.search, 0.12),
        (gen.restaurant_detail, 0.18),
        (gen.review_list, 0.12),
        (gen.review_detail, 0.08),
        (gen.statistics, 0.01),
        (gen.bad_input, 0.02),
    ]
    if found.signed_in:
        kinds.append((gen.signed_in, 0.05))
    makers = [make for make, _ in kinds]
    weights = [weight for _, weight in kinds]
    # Every kind at least once, then the weighted spread.
    paths = [make() for make in makers[: min(count, len(makers))]]
    while len(paths) < count:
        paths.append(gen.rng.choices(makers, weights)[0]())
    return [ReplayRequest(path) for path in paths]
