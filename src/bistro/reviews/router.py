"""v4 review routes."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query

from bistro.core.deps import CurrentUser, ReviewServiceDep
from bistro.core.errors import error_responses
from bistro.core.pagination import PageDep
from bistro.core.responses import Envelope, JSONBytes, success
from bistro.reviews.schemas import MAX_ID, ReviewCreate, ReviewOut, ReviewSort, ReviewUpdate

router = APIRouter(tags=["reviews"])
ReviewId = Annotated[int, Path(ge=1, le=MAX_ID, description="Review id")]


@router.get(
    "/reviews",
    response_model=Envelope[list[ReviewOut]],
    responses=error_responses(422),
    summary="List reviews with filters, sorting and paging",
)
async def list_reviews(
    reviews: ReviewServiceDep,
    page: PageDep,
    restaurant_id: Annotated[int | None, Query(ge=1, le=MAX_ID)] = None,
    user_id: Annotated[int | None, Query(ge=1, le=MAX_ID)] = None,
    min_rating: Annotated[int | None, Query(ge=1, le=5)] = None,
    sort: Annotated[ReviewSort, Query(description="newest (default) or rating")] = "newest",
) -> JSONBytes:
    items, total = await reviews.list(
        restaurant_id=restaurant_id,
        user_id=user_id,
        min_rating=min_rating,
        sort=sort,
        limit=page.limit,
        offset=page.offset,
    )
    return success(items, meta=page.meta(total))


@router.post(
    "/reviews",
    status_code=201,
    response_model=Envelope[ReviewOut],
    responses=error_responses(401, 404, 409, 413, 422),
    summary="Review a restaurant (one review per user and restaurant)",
)
async def create_review(
    body: ReviewCreate, author: CurrentUser, reviews: ReviewServiceDep
) -> JSONBytes:
    return success(await reviews.create(author, body), "Review created", status_code=201)


@router.get(
    "/reviews/{review_id}",
    response_model=Envelope[ReviewOut],
    responses=error_responses(404, 422),
    summary="One review",
)
async def get_review(review_id: ReviewId, reviews: ReviewServiceDep) -> JSONBytes:
    return success(await reviews.get(review_id))


@router.put(
    "/reviews/{review_id}",
    response_model=Envelope[ReviewOut],
    responses=error_responses(401, 403, 404, 413, 422),
    summary="Change a review's rating and/or text (author or admin)",
)
async def update_review(
    review_id: ReviewId, body: ReviewUpdate, actor: CurrentUser, reviews: ReviewServiceDep
) -> JSONBytes:
    return success(await reviews.update(actor, review_id, body), "Review updated")


@router.delete(
    "/reviews/{review_id}",
    response_model=Envelope[None],
    responses=error_responses(401, 403, 404, 422),
    summary="Delete a review (author or admin)",
)
async def delete_review(
    review_id: ReviewId, actor: CurrentUser, reviews: ReviewServiceDep
) -> JSONBytes:
    await reviews.delete(actor, review_id)
    return success(None, "Review deleted")
