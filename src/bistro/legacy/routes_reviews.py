"""v3 routes for reviews: public reads, signed-in writes by the author (or an admin)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request

from bistro.core.cache import invalidate_after_commit, tags
from bistro.core.deps import StateDep
from bistro.core.errors import BadRequest, NotFound
from bistro.core.responses import Envelope, JSONBytes, success
from bistro.legacy import params as p
from bistro.legacy.deps import JSONBody, ManagerDep, V3User, json_body_doc
from bistro.legacy.reviews_sql import REVIEW_ORDER
from bistro.legacy.schemas import V3Review, v3_errors

router = APIRouter(tags=["v3 (legacy)"])
Opt = Annotated[str | None, Query()]
SORTS = tuple(REVIEW_ORDER)
MAX_TEXT = 5000


def _not_found(review_id: int) -> NotFound:
    return NotFound(f"Review {review_id} not found", code="REVIEW_NOT_FOUND")


@router.get("/reviews", response_model=Envelope[list[V3Review]], responses=v3_errors(400))
async def list_reviews(
    db: ManagerDep,
    restaurant_id: Opt = None,
    user_id: Opt = None,
    min_rating: Opt = None,
    sort: Annotated[str | None, Query(description=" | ".join(SORTS))] = None,
    limit: Opt = None,
    offset: Opt = None,
) -> JSONBytes:
    order = p.choice("sort", sort, SORTS, "newest")
    page_limit, page_offset = p.page(limit, offset)
    items, total = await db.list_reviews(
        restaurant_id=p.as_id("restaurant_id", restaurant_id) if restaurant_id else None,
        user_id=p.as_id("user_id", user_id) if user_id else None,
        min_rating=p.as_int("min_rating", min_rating, 1, 5) if min_rating else None,
        sort=order,
        limit=page_limit,
        offset=page_offset,
    )
    return success(items, meta={"total": total, "limit": page_limit, "offset": page_offset})


@router.get(
    "/reviews/{review_id}", response_model=Envelope[V3Review], responses=v3_errors(400, 404)
)
async def get_review(review_id: str, db: ManagerDep) -> JSONBytes:
    rid = p.as_id("review_id", review_id)
    review = await db.get_review(rid)
    if review is None:
        raise _not_found(rid)
    return success(review)


@router.post(
    "/reviews",
    response_model=Envelope[V3Review],
    status_code=201,
    openapi_extra=json_body_doc(
        {"restaurant_id": "integer", "rating": "integer", "text": "string"},
        "restaurant_id",
        "rating",
        "text",
    ),
    responses=v3_errors(400, 401, 404, 409, 413),
)
async def create_review(
    request: Request, body: JSONBody, user: V3User, db: ManagerDep, state: StateDep
) -> JSONBytes:
    for name in ("restaurant_id", "rating", "text"):
        if name not in body:
            raise p.bad(name, "is required")
    review = await db.create_review(
        user.id,
        p.as_int("restaurant_id", body["restaurant_id"], 1, p.MAX_ID),
        p.as_int("rating", body["rating"], 1, 5),
        p.as_text("text", body["text"], 1, MAX_TEXT),
        state.clock.now(),
    )
    invalidate_after_commit(request, *tags.review_written(review["restaurant_id"], review["id"]))
    return success(review, "Review created", status_code=201)


def _review_changes(body: dict[str, Any]) -> dict[str, Any]:
    changes: dict[str, Any] = {}
    if body.get("rating") is not None:
        changes["rating"] = p.as_int("rating", body["rating"], 1, 5)
    if body.get("text") is not None:
        changes["text"] = p.as_text("text", body["text"], 1, MAX_TEXT)
    if not changes:
        raise BadRequest("Send rating and/or text")
    return changes


@router.put(
    "/reviews/{review_id}",
    response_model=Envelope[V3Review],
    openapi_extra=json_body_doc({"rating": "integer", "text": "string"}),
    responses=v3_errors(400, 401, 403, 404, 413),
)
async def update_review(
    request: Request,
    review_id: str,
    body: JSONBody,
    user: V3User,
    db: ManagerDep,
    state: StateDep,
) -> JSONBytes:
    rid = p.as_id("review_id", review_id)
    review = await db.update_review(
        rid, user.id, user.is_admin, _review_changes(body), state.clock.now()
    )
    invalidate_after_commit(request, *tags.review_written(review["restaurant_id"], rid))
    return success(review, "Review updated")


@router.delete(
    "/reviews/{review_id}", response_model=Envelope[None], responses=v3_errors(400, 401, 403, 404)
)
async def delete_review(
    request: Request, review_id: str, user: V3User, db: ManagerDep, state: StateDep
) -> JSONBytes:
    rid = p.as_id("review_id", review_id)
    restaurant_id = await db.delete_review(rid, user.id, user.is_admin, state.clock.now())
    invalidate_after_commit(request, *tags.review_written(restaurant_id, rid))
    return success(None, "Review deleted")
