"""v3 routes for restaurants (reads public, writes admin-only) and statistics."""

from __future__ import annotations

import re
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request

from bistro.core.cache import invalidate_after_commit, tags
from bistro.core.deps import StateDep
from bistro.core.errors import NotFound
from bistro.core.responses import Envelope, JSONBytes, success
from bistro.core.state import AppState
from bistro.legacy import params as p
from bistro.legacy.deps import JSONBody, ManagerDep, V3Admin, json_body_doc
from bistro.legacy.hours import HoursError, is_open, minute_of_week, parse_hours
from bistro.legacy.manager import RestaurantQuery
from bistro.legacy.restaurants_sql import ORDER_BY
from bistro.legacy.schemas import V3Restaurant, V3RestaurantDetail, V3Statistics, v3_errors

router = APIRouter(tags=["v3 (legacy)"])
_SLUG = re.compile(r"^[a-z0-9]+(?:[-_][a-z0-9]+)*$")
Opt = Annotated[str | None, Query()]
SORTS = tuple(ORDER_BY)


def _restaurant_query(
    state: StateDep,
    cuisine: Annotated[list[str] | None, Query(description="Repeatable or comma-separated")] = None,
    city: Opt = None,
    price_min: Opt = None,
    price_max: Opt = None,
    min_rating: Opt = None,
    open_now: Opt = None,
    near: Annotated[str | None, Query(description="lat,lon")] = None,
    radius_km: Opt = None,
    sort: Annotated[str | None, Query(description=" | ".join(SORTS))] = None,
    limit: Opt = None,
    offset: Opt = None,
) -> RestaurantQuery:
    query = RestaurantQuery(sort=p.choice("sort", sort, SORTS, "rating"))
    query.limit, query.offset = p.page(limit, offset)
    for value in cuisine or []:
        for part in value.split(","):
            slug = _cuisine_slug(part) if part.strip() else None
            if slug is not None and slug not in query.cuisines:
                query.cuisines.append(slug)
    if city is not None:
        query.city = p.as_text("city", city, 1, 80)
    if price_min is not None:
        query.price_min = p.as_int("price_min", price_min, 1, 4)
    if price_max is not None:
        query.price_max = p.as_int("price_max", price_max, 1, 4)
    if min_rating is not None:
        query.min_rating = p.as_float("min_rating", min_rating, 0, 5)
    if open_now is not None and p.as_bool("open_now", open_now):
        query.open_minute = minute_of_week(state.clock.now(), state.settings.server.timezone)
    if near is not None:
        parts = near.split(",")
        if len(parts) != 2:
            raise p.bad("near", "must be 'lat,lon'")
        lat = p.as_float("near", parts[0], -90, 90)
        query.near = (lat, p.as_float("near", parts[1], -180, 180))
    if radius_km is not None:
        query.radius_km = p.as_float("radius_km", radius_km, 0, 500)
        if query.radius_km == 0:
            raise p.bad("radius_km", "must be more than 0")
    if query.price_min and query.price_max and query.price_min > query.price_max:
        raise p.bad("price_min", "must not exceed price_max")
    if query.sort == "distance" and query.near is None:
        raise p.bad("sort", "distance needs near=lat,lon")
    return query


def _cuisine_slug(value: str) -> str:
    """Cuisines are lower-case slugs: " Street Food " -> "street-food"."""
    slug = "-".join(value.strip().lower().split())
    if not _SLUG.match(slug) or len(slug) > 40:
        raise p.bad("cuisine", f"{value[:60]!r} is not a slug of letters, digits and '-'")
    return slug


QueryDep = Annotated[RestaurantQuery, Depends(_restaurant_query)]

_FIELDS = {
    "name": (1, 120),
    "cuisine": (1, 40),
    "city": (1, 80),
    "address": (1, 200),
}
_BODY_DOC = json_body_doc(
    {
        "name": "string",
        "cuisine": "string",
        "city": "string",
        "address": "string",
        "latitude": "number",
        "longitude": "number",
        "price_level": "integer",
        "hours": "object",
    },
    "name",
    "cuisine",
    "city",
    "address",
    "latitude",
    "longitude",
    "price_level",
)


def _restaurant_fields(body: dict[str, Any], *, partial: bool) -> dict[str, Any]:
    """The writable fields of a restaurant body; anything else (rating_avg, id...) is ignored."""
    values: dict[str, Any] = {}
    for name, (lo, hi) in _FIELDS.items():
        if name in body:
            values[name] = p.as_text(name, body[name], lo, hi)
    if "cuisine" in values:
        values["cuisine"] = _cuisine_slug(values["cuisine"])
    if "latitude" in body:
        values["latitude"] = p.as_float("latitude", body["latitude"], -90, 90)
    if "longitude" in body:
        values["longitude"] = p.as_float("longitude", body["longitude"], -180, 180)
    if "price_level" in body:
        values["price_level"] = p.as_int("price_level", body["price_level"], 1, 4)
    if "hours" in body or not partial:
        try:
            hours = body.get("hours")
            values["hours"] = parse_hours({} if hours is None else hours)
        except HoursError as exc:
            raise p.bad("hours", str(exc)) from exc
    if not partial:
        missing = [
            name
            for name in (*_FIELDS, "latitude", "longitude", "price_level")
            if name not in values
        ]
        if missing:
            raise p.bad(missing[0], "is required")
    return values


def _with_open_now(restaurant: dict[str, Any], state: AppState) -> dict[str, Any]:
    minute = minute_of_week(state.clock.now(), state.settings.server.timezone)
    restaurant["is_open_now"] = is_open(restaurant["hours"], minute)
    return restaurant


def _not_found(restaurant_id: int) -> NotFound:
    return NotFound(f"Restaurant {restaurant_id} not found", code="RESTAURANT_NOT_FOUND")


@router.get(
    "/restaurants", response_model=Envelope[list[V3Restaurant]], responses=v3_errors(400, 401)
)
async def list_restaurants(query: QueryDep, db: ManagerDep) -> JSONBytes:
    items, total = await db.list_restaurants(query)
    return success(items, meta={"total": total, "limit": query.limit, "offset": query.offset})


@router.get(
    "/restaurants/search",
    response_model=Envelope[list[V3Restaurant]],
    responses=v3_errors(400, 401),
)
async def search_restaurants(
    query: QueryDep,
    db: ManagerDep,
    q: Annotated[str | None, Query(description="Text in the name, cuisine or city")] = None,
) -> JSONBytes:
    if q is None:
        raise p.bad("q", "is required")
    query.q = p.as_text("q", q, 1, 100)
    items, total = await db.list_restaurants(query)
    return success(items, meta={"total": total, "limit": query.limit, "offset": query.offset})


@router.get(
    "/restaurants/{restaurant_id}",
    response_model=Envelope[V3RestaurantDetail],
    responses=v3_errors(400, 401, 404),
)
async def get_restaurant(restaurant_id: str, db: ManagerDep, state: StateDep) -> JSONBytes:
    rid = p.as_id("restaurant_id", restaurant_id)
    restaurant = await db.get_restaurant(rid)
    if restaurant is None:
        raise _not_found(rid)
    return success(_with_open_now(restaurant, state))


@router.post(
    "/restaurants",
    response_model=Envelope[V3RestaurantDetail],
    status_code=201,
    openapi_extra=_BODY_DOC,
    responses=v3_errors(400, 401, 403, 413),
)
async def create_restaurant(
    request: Request, body: JSONBody, admin: V3Admin, db: ManagerDep, state: StateDep
) -> JSONBytes:
    values = _restaurant_fields(body, partial=False)
    created = await db.create_restaurant(values, state.clock.now())
    invalidate_after_commit(request, *tags.restaurant_written(created["id"]))
    return success(_with_open_now(created, state), "Restaurant created", status_code=201)


@router.put(
    "/restaurants/{restaurant_id}",
    response_model=Envelope[V3RestaurantDetail],
    openapi_extra=_BODY_DOC,
    responses=v3_errors(400, 401, 403, 404, 413),
)
async def update_restaurant(
    request: Request,
    restaurant_id: str,
    body: JSONBody,
    admin: V3Admin,
    db: ManagerDep,
    state: StateDep,
) -> JSONBytes:
    rid = p.as_id("restaurant_id", restaurant_id)
    changes = _restaurant_fields(body, partial=True)
    updated = await db.update_restaurant(rid, changes, state.clock.now())
    if updated is None:
        raise _not_found(rid)
    invalidate_after_commit(request, *tags.restaurant_written(rid))
    return success(_with_open_now(updated, state), "Restaurant updated")


@router.delete(
    "/restaurants/{restaurant_id}",
    response_model=Envelope[None],
    responses=v3_errors(400, 401, 403, 404),
)
async def delete_restaurant(
    request: Request, restaurant_id: str, admin: V3Admin, db: ManagerDep
) -> JSONBytes:
    rid = p.as_id("restaurant_id", restaurant_id)
    if not await db.delete_restaurant(rid):
        raise _not_found(rid)
    invalidate_after_commit(request, *tags.restaurant_written(rid, deleted=True))
    return success(None, "Restaurant deleted")


@router.get("/statistics", response_model=Envelope[V3Statistics], responses=v3_errors(401))
async def statistics(db: ManagerDep) -> JSONBytes:
    return success(await db.statistics())
