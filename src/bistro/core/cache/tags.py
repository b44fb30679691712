"""The tags v4 caches entries under, and what each write invalidates.

Detail entries carry their own tag; every list or search of a resource carries the resource's
list tag (one bump invalidates every page, filter and sort at once).
"""

from __future__ import annotations

from bistro.core.cache.keys import ALL

RESTAURANT_LISTS = "restaurants"
REVIEW_LISTS = "reviews"
# Every review detail: moved when reviews disappear in bulk (their restaurant was deleted).
REVIEW_DETAILS = "review-details"
STATISTICS = "statistics"


def restaurant(restaurant_id: int) -> str:
    return f"restaurant:{restaurant_id}"


def review(review_id: int) -> str:
    return f"review:{review_id}"


def review_written(restaurant_id: int, review_id: int) -> tuple[str, ...]:
    """A review created, changed or deleted: its restaurant's rating aggregate moved too."""
    return (
        review(review_id),
        restaurant(restaurant_id),
        RESTAURANT_LISTS,
        REVIEW_LISTS,
        STATISTICS,
    )


def restaurant_written(restaurant_id: int, *, deleted: bool = False) -> tuple[str, ...]:
    """A restaurant created, changed or deleted (deletion removes its reviews too)."""
    tags = [restaurant(restaurant_id), RESTAURANT_LISTS, STATISTICS]
    if deleted:
        tags += [REVIEW_LISTS, REVIEW_DETAILS]
    return tuple(tags)


def user_written() -> tuple[str, ...]:
    """A user registered: the user total in the statistics changed."""
    return (STATISTICS,)


def user_deleted() -> tuple[str, ...]:
    """A user deleted: their reviews went with them, and every aggregate they touched."""
    return (ALL,)
