"""v4 review routes."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, Request

from bistro.core.cache import cached_response, invalidate_after_commit, make_key, tags
from bistro.core.deps import CurrentUser
from bistro.core.errors import error_responses
from bistro.core.pagination import PageDep
from bistro.core.responses import Envelope, JSONBytes, success, success_body
from bistro.reviews.deps import ReviewReadsDep, ReviewServiceDep
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
    request: Request,
    reads: ReviewReadsDep,
    page: PageDep,
    restaurant_id: Annotated[int | None, Query(ge=1, le=MAX_ID)] = None,
    user_id: Annotated[int | None, Query(ge=1, le=MAX_ID)] = None,
    min_rating: Annotated[int | None, Query(ge=1, le=5)] = None,
    sort: Annotated[ReviewSort, Query(description="newest (default) or rating")] = "newest",
) -> JSONBytes:
    async def load() -> bytes:
        async with reads() as reviews:
            items, total = await reviews.list(
                restaurant_id=restaurant_id,
                user_id=user_id,
                min_rating=min_rating,
                sort=sort,
                limit=page.limit,
                offset=page.offset,
            )
        # total is exact up to 10,000 matches (core.totals), as for restaurants.
        meta = {**page.meta(total.value), "total_is_estimate": total.is_estimate}
        return success_body(items, meta=meta)

    key = make_key(
        "reviews",
        restaurant_id=restaurant_id,
        user_id=user_id,
        min_rating=min_rating,
        sort=sort,
        limit=page.limit,
        offset=page.offset,
    )
    return await cached_response(request, key, load, entity="reviews", tags=[tags.REVIEW_LISTS])


@router.post(
    "/reviews",
    status_code=201,
    response_model=Envelope[ReviewOut],
    responses=error_responses(401, 404, 409, 413, 422),
    summary="Review a restaurant (one review per user and restaurant)",
)
async def create_review(
    request: Request, body: ReviewCreate, author: CurrentUser, reviews: ReviewServiceDep
) -> JSONBytes:
    created = await reviews.create(author, body)
    invalidate_after_commit(request, *tags.review_written(body.restaurant_id, created["id"]))
    return success(created, "Review created", status_code=201)


@router.get(
    "/reviews/{review_id}",
    response_model=Envelope[ReviewOut],
    responses=error_responses(404, 422),
    summary="One review",
)
async def get_review(request: Request, review_id: ReviewId, reads: ReviewReadsDep) -> JSONBytes:
    async def load() -> bytes:
        async with reads() as reviews:
            return success_body(await reviews.get(review_id))

    return await cached_response(
        request,
        make_key("review", review_id),
        load,
        entity="reviews",
        tags=[tags.review(review_id), tags.REVIEW_DETAILS],
    )


@router.put(
    "/reviews/{review_id}",
    response_model=Envelope[ReviewOut],
    responses=error_responses(401, 403, 404, 413, 422),
    summary="Change a review's rating and/or text (author or admin)",
)
async def update_review(
    request: Request,
    review_id: ReviewId,
    body: ReviewUpdate,
    actor: CurrentUser,
    reviews: ReviewServiceDep,
) -> JSONBytes:
    updated = await reviews.update(actor, review_id, body)
    invalidate_after_commit(request, *tags.review_written(updated["restaurant_id"], review_id))
    return success(updated, "Review updated")


@router.delete(
    "/reviews/{review_id}",
    response_model=Envelope[None],
    responses=error_responses(401, 403, 404, 422),
    summary="Delete a review (author or admin)",
)
async def delete_review(
    request: Request, review_id: ReviewId, actor: CurrentUser, reviews: ReviewServiceDep
) -> JSONBytes:
    restaurant_id = await reviews.delete(actor, review_id)
    invalidate_after_commit(request, *tags.review_written(restaurant_id, review_id))
    return success(None, "Review deleted")
