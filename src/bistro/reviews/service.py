"""ReviewService: reviews and the restaurant aggregate they keep exact, in one transaction."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any, Protocol

from bistro.core.auth import Principal
from bistro.core.clock import Clock, SystemClock
from bistro.core.errors import Forbidden, NotFound
from bistro.core.totals import Total
from bistro.reviews.errors import review_not_found
from bistro.reviews.schemas import ReviewCreate, ReviewUpdate


class ReviewRepo(Protocol):
    async def page(
        self,
        *,
        restaurant_id: int | None,
        user_id: int | None,
        min_rating: int | None,
        sort: str,
        limit: int,
        offset: int,
    ) -> tuple[Sequence[Mapping[str, Any]], Total]: ...

    async def get(
        self, review_id: int, *, for_update: bool = False
    ) -> Mapping[str, Any] | None: ...

    async def create(self, values: Mapping[str, Any]) -> int:
        """Raises the domain error (Conflict, NotFound) a constraint refuses it with."""
        ...

    async def update(self, review_id: int, values: Mapping[str, Any]) -> None: ...
    async def delete(self, review_id: int) -> None: ...

    async def apply_rating_delta(
        self, restaurant_id: int, count_delta: int, sum_delta: int, now: datetime
    ) -> None: ...


REVIEW_FIELDS = ("id", "restaurant_id", "user_id", "rating", "text", "created_at", "updated_at")


def review_representation(row: Mapping[str, Any]) -> dict[str, Any]:
    return {name: row[name] for name in REVIEW_FIELDS}


class ReviewService:
    def __init__(self, repo: ReviewRepo, clock: Clock | None = None) -> None:
        self.repo = repo
        self.clock = clock or SystemClock()

    async def list(
        self,
        *,
        restaurant_id: int | None = None,
        user_id: int | None = None,
        min_rating: int | None = None,
        sort: str = "newest",
        limit: int = 20,
        offset: int = 0,
    ) -> tuple[list[dict[str, Any]], Total]:
        rows, total = await self.repo.page(
            restaurant_id=restaurant_id,
            user_id=user_id,
            min_rating=min_rating,
            sort=sort,
            limit=limit,
            offset=offset,
        )
        return [review_representation(row) for row in rows], total

    async def get(self, review_id: int) -> dict[str, Any]:
        row = await self.repo.get(review_id)
        if row is None:
            raise self._missing(review_id)
        return review_representation(row)

    async def create(self, author: Principal, body: ReviewCreate) -> dict[str, Any]:
        """Two statements: the insert (its constraints refuse a duplicate or a missing
        restaurant) and the aggregate's update."""
        now = self.clock.now()
        values = {
            "restaurant_id": body.restaurant_id,
            "user_id": author.id,
            "rating": body.rating,
            "text": body.text,
            "created_at": now,
            "updated_at": now,
        }
        review_id = await self.repo.create(values)
        await self.repo.apply_rating_delta(body.restaurant_id, 1, body.rating, now)
        return review_representation({"id": review_id, **values})

    async def update(self, actor: Principal, review_id: int, body: ReviewUpdate) -> dict[str, Any]:
        row = await self._owned(actor, review_id)
        changes: dict[str, Any] = body.model_dump(exclude_none=True)
        changes["updated_at"] = self.clock.now()
        await self.repo.update(review_id, changes)
        delta = changes.get("rating", row["rating"]) - row["rating"]
        if delta:
            await self.repo.apply_rating_delta(
                row["restaurant_id"], 0, delta, changes["updated_at"]
            )
        return review_representation({**row, **changes})

    async def delete(self, actor: Principal, review_id: int) -> int:
        """Delete the review; returns its restaurant's id (whose aggregate moved)."""
        row = await self._owned(actor, review_id)
        await self.repo.delete(review_id)
        await self.repo.apply_rating_delta(
            row["restaurant_id"], -1, -row["rating"], self.clock.now()
        )
        return int(row["restaurant_id"])

    async def _owned(self, actor: Principal, review_id: int) -> Mapping[str, Any]:
        """The review, locked for the write, if ``actor`` may change it."""
        row = await self.repo.get(review_id, for_update=True)
        if row is None:
            raise self._missing(review_id)
        if row["user_id"] != actor.id and not actor.is_admin:
            raise Forbidden(
                "Only the author or an admin may change this review", code="NOT_REVIEW_AUTHOR"
            )
        return row

    @staticmethod
    def _missing(review_id: int) -> NotFound:
        return review_not_found(review_id)
