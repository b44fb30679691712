"""Keyset (cursor) pagination for restaurant lists.

``offset`` makes the database walk past every skipped row, so page 5,000 costs 5,000 pages.
A cursor carries the sort key of the last row served instead (opaque to clients: base64 of
JSON), and the next page starts right after it in the sort's index: every page costs what the
first one does. The cursor also carries the sort and a fingerprint of the filters, so it
cannot be replayed against another query.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import asdict
from datetime import datetime
from typing import Any

import orjson

from bistro.core.errors import ValidationFailed
from bistro.restaurants.schemas import RestaurantQuery

# The row fields of each sort's key, in ORDER BY order (restaurants.repository).
KEY_FIELDS: dict[str, tuple[str, ...]] = {
    "rating": ("rating_score", "review_count", "id"),
    "review_count": ("review_count", "id"),
    "name": ("name", "id"),
    "newest": ("created_at", "id"),
    "distance": ("distance2", "id"),
}


def fingerprint(query: RestaurantQuery) -> str:
    """Equal for queries that select and order the same rows (as the cache key normalises)."""
    values: dict[str, Any] = asdict(query)
    values["cuisines"] = sorted(query.cuisines)
    values["city"] = query.city.lower() if query.city is not None else None
    return hashlib.sha256(orjson.dumps(values, option=orjson.OPT_SORT_KEYS)).hexdigest()[:16]


def _invalid(message: str) -> ValidationFailed:
    return ValidationFailed(
        f"Invalid input: cursor: {message}",
        code="INVALID_CURSOR",
        details={"fields": [{"field": "cursor", "message": message}]},
    )


def encode(query: RestaurantQuery, row: Mapping[str, Any]) -> str:
    """The cursor of the page after ``row`` (the last row of a full page)."""
    key = [row[name] for name in KEY_FIELDS[query.sort]]
    if query.sort == "newest":
        key[0] = key[0].isoformat()
    payload = orjson.dumps({"s": query.sort, "f": fingerprint(query), "k": key})
    return base64.urlsafe_b64encode(payload).decode().rstrip("=")


def decode(query: RestaurantQuery, cursor: str) -> Sequence[Any]:
    """The sort key values ``cursor`` carries; ValidationFailed (422) if it is not one of ours
    or belongs to another sort or other filters."""
    try:
        payload = orjson.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    except (binascii.Error, ValueError):
        raise _invalid("not a cursor this API issued") from None
    if not isinstance(payload, dict) or not isinstance(payload.get("k"), list):
        raise _invalid("not a cursor this API issued")
    if payload.get("s") != query.sort or payload.get("f") != fingerprint(query):
        raise _invalid("issued for another sort or other filters: start again without it")
    key = payload["k"]
    if len(key) != len(KEY_FIELDS[query.sort]) or not isinstance(key[-1], int):
        raise _invalid("not a cursor this API issued")
    if query.sort == "newest":
        try:
            key[0] = datetime.fromisoformat(key[0])
        except (TypeError, ValueError):
            raise _invalid("not a cursor this API issued") from None
        if key[0].tzinfo is None:
            raise _invalid("not a cursor this API issued")
    expected = {"name": str, "rating": float, "distance": float}.get(query.sort)
    if query.sort == "review_count" and not isinstance(key[0], int):
        raise _invalid("not a cursor this API issued")
    if expected is float and not isinstance(key[0], int | float):
        raise _invalid("not a cursor this API issued")
    if expected is str and not isinstance(key[0], str):
        raise _invalid("not a cursor this API issued")
    if query.sort == "rating" and not isinstance(key[1], int):
        raise _invalid("not a cursor this API issued")
    return key
