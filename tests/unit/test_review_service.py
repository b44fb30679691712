"""ReviewService with an in-memory repository: ownership, duplicates and aggregate deltas.

The fake enforces what the real repository's constraints enforce, answering with the same
domain errors (the real mapping is tested on both databases in tests/e2e/test_reviews_api)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

import pytest

from bistro.core.auth import Principal
from bistro.core.clock import FakeClock
from bistro.core.errors import Conflict, Forbidden, NotFound
from bistro.core.totals import Total
from bistro.reviews.errors import duplicate_review, restaurant_not_found
from bistro.reviews.schemas import ReviewCreate, ReviewUpdate
from bistro.reviews.service import ReviewService

ANA = Principal(1, "user", "ana@example.com", "Ana")
BOB = Principal(2, "user", "bob@example.com", "Bob")
ADMIN = Principal(3, "admin", "root@example.com", "Root")


class FakeReviews:
    def __init__(self, restaurants: set[int]) -> None:
        self.restaurants = restaurants
        self.rows: dict[int, dict[str, Any]] = {}
        self.aggregate: dict[int, tuple[int, int]] = {r: (0, 0) for r in restaurants}
        self.inserts = 0

    async def page(self, **kwargs: Any) -> tuple[Sequence[Mapping[str, Any]], Total]:
        rows = [
            r for r in self.rows.values() if kwargs["restaurant_id"] in (None, r["restaurant_id"])
        ]
        return rows, Total(len(rows))

    async def get(self, review_id: int, *, for_update: bool = False) -> Mapping[str, Any] | None:
        row = self.rows.get(review_id)
        return None if row is None else dict(row)

    async def create(self, values: Mapping[str, Any]) -> int:
        self.inserts += 1
        if values["restaurant_id"] not in self.restaurants:  # the foreign key
            raise restaurant_not_found(values["restaurant_id"])
        for row in self.rows.values():  # the unique key (author, restaurant)
            if (row["user_id"], row["restaurant_id"]) == (
                values["user_id"],
                values["restaurant_id"],
            ):
                raise duplicate_review(values["restaurant_id"])
        new_id = len(self.rows) + 1
        self.rows[new_id] = {"id": new_id, **values}
        return new_id

    async def update(self, review_id: int, values: Mapping[str, Any]) -> None:
        self.rows[review_id].update(values)

    async def delete(self, review_id: int) -> None:
        del self.rows[review_id]

    async def apply_rating_delta(
        self, restaurant_id: int, count_delta: int, sum_delta: int, now: datetime
    ) -> None:
        count, total = self.aggregate[restaurant_id]
        self.aggregate[restaurant_id] = (count + count_delta, total + sum_delta)


def make() -> tuple[ReviewService, FakeReviews]:
    repo = FakeReviews({10, 11})
    return ReviewService(repo, FakeClock()), repo


async def test_create_moves_aggregate_and_duplicates_are_409() -> None:
    svc, repo = make()
    data = await svc.create(ANA, ReviewCreate(restaurant_id=10, rating=4, text="good"))
    assert data["user_id"] == ANA.id and data["rating"] == 4
    assert repo.aggregate[10] == (1, 4)
    with pytest.raises(Conflict) as info:
        await svc.create(ANA, ReviewCreate(restaurant_id=10, rating=5, text="again"))
    assert info.value.code == "DUPLICATE_REVIEW"
    assert repo.aggregate[10] == (1, 4)  # a refused insert moves nothing
    with pytest.raises(NotFound) as missing:
        await svc.create(BOB, ReviewCreate(restaurant_id=99, rating=5, text="nowhere"))
    assert missing.value.code == "RESTAURANT_NOT_FOUND"
    # Nothing is read first: each create went straight to the insert.
    assert repo.inserts == 3


async def test_only_author_or_admin_changes_and_deltas_are_exact() -> None:
    svc, repo = make()
    review = await svc.create(ANA, ReviewCreate(restaurant_id=11, rating=2, text="meh"))
    with pytest.raises(Forbidden):
        await svc.update(BOB, review["id"], ReviewUpdate(rating=5))
    with pytest.raises(Forbidden):
        await svc.delete(BOB, review["id"])
    assert repo.rows[review["id"]]["rating"] == 2 and repo.aggregate[11] == (1, 2)

    updated = await svc.update(ANA, review["id"], ReviewUpdate(rating=5))
    assert updated["rating"] == 5 and updated["text"] == "meh"
    assert repo.aggregate[11] == (1, 5)
    await svc.update(ADMIN, review["id"], ReviewUpdate(text="edited by staff"))
    assert repo.aggregate[11] == (1, 5)
    await svc.delete(ADMIN, review["id"])
    assert repo.aggregate[11] == (0, 0)
    with pytest.raises(NotFound):
        await svc.get(review["id"])
    with pytest.raises(NotFound):
        await svc.delete(ANA, review["id"])


def test_update_needs_a_field() -> None:
    with pytest.raises(ValueError, match="rating and/or text"):
        ReviewUpdate.model_validate({"user_id": 9})
