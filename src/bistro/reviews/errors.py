"""The reviews feature's domain errors."""

from __future__ import annotations

from bistro.core.errors import Conflict, NotFound


def duplicate_review(restaurant_id: int) -> Conflict:
    return Conflict(
        "You have already reviewed this restaurant; edit that review instead",
        code="DUPLICATE_REVIEW",
        details={"restaurant_id": restaurant_id},
    )


def review_not_found(review_id: int) -> NotFound:
    return NotFound(f"Review {review_id} not found", code="REVIEW_NOT_FOUND")


def restaurant_not_found(restaurant_id: int) -> NotFound:
    """The restaurant a review names is not there (the same error the restaurants feature
    answers for it; spelled here so reviews need not import the restaurants service)."""
    return NotFound(f"Restaurant {restaurant_id} not found", code="RESTAURANT_NOT_FOUND")


def author_not_found(user_id: int) -> NotFound:
    return NotFound(f"User {user_id} not found", code="USER_NOT_FOUND")
