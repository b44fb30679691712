"""v4 restaurant routes: list, search, detail, and the admin writes."""

from __future__ import annotations

from dataclasses import replace
from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, Request

from bistro.core.cache import Loaded, cached_response, invalidate_after_commit, tags
from bistro.core.deps import AdminUser, ServiceOpener
from bistro.core.errors import ValidationFailed, error_responses
from bistro.core.pagination import Page, PageDep
from bistro.core.responses import Envelope, JSONBytes, success, success_body
from bistro.restaurants.cache import (
    detail_key,
    list_key,
    seconds_until_next_minute,
    seconds_until_open_change,
)
from bistro.restaurants.deps import (
    RestaurantReadsDep,
    RestaurantServiceDep,
    restaurant_reads_of,
)
from bistro.restaurants.geo import DEFAULT_RADIUS_KM, MAX_RADIUS_KM, Near, parse_near
from bistro.restaurants.schemas import (
    RestaurantCreate,
    RestaurantDetailOut,
    RestaurantOut,
    RestaurantQuery,
    RestaurantSort,
    RestaurantUpdate,
    normalise_cuisine,
)
from bistro.restaurants.service import RestaurantService

router = APIRouter(tags=["restaurants"])
RestaurantId = Annotated[int, Path(ge=1, le=2**31 - 1, description="Restaurant id")]
MAX_CUISINES = 20


def _invalid(field: str, message: str) -> ValidationFailed:
    return ValidationFailed(
        f"Invalid input: {field}: {message}",
        details={"fields": [{"field": field, "message": message}]},
    )


async def restaurant_query(
    cuisine: Annotated[
        list[str] | None,
        Query(description="Repeatable, or comma-separated: cuisine=thai&cuisine=sushi,ramen"),
    ] = None,
    city: Annotated[
        str | None, Query(min_length=1, max_length=80, description="Case-insensitive exact")
    ] = None,
    price_min: Annotated[int | None, Query(ge=1, le=4)] = None,
    price_max: Annotated[int | None, Query(ge=1, le=4)] = None,
    min_rating: Annotated[float | None, Query(ge=0, le=5, allow_inf_nan=False)] = None,
    open_now: Annotated[bool, Query(description="Only restaurants open now")] = False,
    near: Annotated[
        str | None, Query(max_length=64, description="'lat,lon': adds distance_km to every item")
    ] = None,
    radius_km: Annotated[
        float, Query(gt=0, le=MAX_RADIUS_KM, allow_inf_nan=False, description="With near")
    ] = DEFAULT_RADIUS_KM,
    sort: Annotated[RestaurantSort, Query(description="Default rating (Bayesian)")] = "rating",
) -> RestaurantQuery:
    cuisines: list[str] = []
    for raw in cuisine or []:
        for part in raw.split(","):
            if not part.strip():
                continue
            try:
                slug = normalise_cuisine(part)
            except ValueError as exc:
                raise _invalid("cuisine", str(exc)) from None
            if slug not in cuisines:
                cuisines.append(slug)
    if len(cuisines) > MAX_CUISINES:
        raise _invalid("cuisine", f"at most {MAX_CUISINES} cuisines")
    point = None
    if near is not None:
        try:
            lat, lon = parse_near(near)
        except ValueError as exc:
            raise _invalid("near", str(exc)) from None
        point = Near(lat, lon, radius_km)
    city = city.strip() if city is not None else None
    if city == "":
        raise _invalid("city", "must not be blank")
    return RestaurantQuery(
        cuisines=tuple(cuisines),
        city=city,
        price_min=price_min,
        price_max=price_max,
        min_rating=min_rating,
        open_now=open_now,
        near=point,
        sort=sort,
    )


QueryDep = Annotated[RestaurantQuery, Depends(restaurant_query)]


CursorParam = Annotated[
    str | None,
    Query(
        min_length=1,
        max_length=512,
        description="meta.next_cursor of the previous page: the next page by keyset, as cheap "
        "as the first at any depth (instead of offset; the filters and sort must be the same)",
    ),
]


async def _cached_page(
    request: Request,
    query: RestaurantQuery,
    page: Page,
    cursor: str | None,
    reads: ServiceOpener[RestaurantService],
) -> JSONBytes:
    async def load() -> Loaded:
        async with reads() as restaurants:
            items, total, next_cursor = await restaurants.list(
                query, page.limit, page.offset, cursor
            )
            now = restaurants.clock.now()
        # v4 extends v3's meta: total_is_estimate (total is exact up to 10,000 matches) and
        # next_cursor (keyset paging); docs/performance.md.
        meta = {
            **page.meta(total.value),
            "total_is_estimate": total.is_estimate,
            "next_cursor": next_cursor,
        }
        body = success_body(items, meta=meta)
        # open_now depends on the minute: such a page lives until the minute ends.
        return (body, seconds_until_next_minute(now)) if query.open_now else body

    return await cached_response(
        request,
        list_key(query, page, cursor),
        load,
        entity="restaurants",
        tags=[tags.RESTAURANT_LISTS],
    )


# The detail route comes first: it is the busiest, and FastAPI tries routes in order (each
# one tried costs). Its path takes digits only, so /restaurants/search still reaches search;
# any other id (abc, -1, 1.5) falls through to the same handler registered again after
# search without the convertor, which answers 422 as before.
@router.get(
    "/restaurants/{restaurant_id:int}",
    response_model=Envelope[RestaurantDetailOut],
    responses=error_responses(404, 422),
    summary="One restaurant, with is_open_now",
)
async def get_restaurant(request: Request, restaurant_id: RestaurantId) -> JSONBytes:
    # The busiest route of all: it opens its reads itself rather than through a dependency
    # (FastAPI resolves each dependency per request; measured ~5 % of a cached detail).
    reads = restaurant_reads_of(request)

    async def load() -> Loaded:
        async with reads() as restaurants:
            data = await restaurants.get(restaurant_id)
            now = restaurants.clock.now()
        # is_open_now is in the body: it lives until the restaurant next opens or closes.
        ttl = seconds_until_open_change(data["hours"], now, restaurants.tz)
        return success_body(data), ttl

    return await cached_response(
        request,
        detail_key(restaurant_id),
        load,
        entity="restaurants",
        tags=[tags.restaurant(restaurant_id)],
    )


@router.get(
    "/restaurants",
    response_model=Envelope[list[RestaurantOut]],
    responses=error_responses(422),
    summary="List restaurants with filters, sorting and paging",
)
async def list_restaurants(
    request: Request,
    query: QueryDep,
    page: PageDep,
    reads: RestaurantReadsDep,
    cursor: CursorParam = None,
) -> JSONBytes:
    return await _cached_page(request, query, page, cursor, reads)


@router.get(
    "/restaurants/search",
    response_model=Envelope[list[RestaurantOut]],
    responses=error_responses(422),
    summary="Case-insensitive substring search over name, cuisine and city",
)
async def search_restaurants(
    q: Annotated[str, Query(min_length=1, max_length=100, description="Text to look for")],
    request: Request,
    query: QueryDep,
    page: PageDep,
    reads: RestaurantReadsDep,
    cursor: CursorParam = None,
) -> JSONBytes:
    text = q.strip()
    if not text:
        raise _invalid("q", "must not be blank")
    return await _cached_page(request, replace(query, q=text), page, cursor, reads)


router.add_api_route(
    "/restaurants/{restaurant_id}",
    get_restaurant,
    methods=["GET"],
    include_in_schema=False,  # documented once, above
)


@router.post(
    "/restaurants",
    status_code=201,
    response_model=Envelope[RestaurantDetailOut],
    responses=error_responses(401, 403, 413, 422),
    summary="Create a restaurant (admin)",
)
async def create_restaurant(
    request: Request, body: RestaurantCreate, admin: AdminUser, restaurants: RestaurantServiceDep
) -> JSONBytes:
    created = await restaurants.create(body)
    invalidate_after_commit(request, *tags.restaurant_written(created["id"]))
    return success(created, "Restaurant created", status_code=201)


@router.put(
    "/restaurants/{restaurant_id}",
    response_model=Envelope[RestaurantDetailOut],
    responses=error_responses(401, 403, 404, 413, 422),
    summary="Change a restaurant (admin); only the fields sent change",
)
async def update_restaurant(
    request: Request,
    restaurant_id: RestaurantId,
    body: RestaurantUpdate,
    admin: AdminUser,
    restaurants: RestaurantServiceDep,
) -> JSONBytes:
    updated = await restaurants.update(restaurant_id, body)
    invalidate_after_commit(request, *tags.restaurant_written(restaurant_id))
    return success(updated, "Restaurant updated")


@router.delete(
    "/restaurants/{restaurant_id}",
    response_model=Envelope[None],
    responses=error_responses(401, 403, 404, 422),
    summary="Delete a restaurant and its reviews (admin)",
)
async def delete_restaurant(
    request: Request,
    restaurant_id: RestaurantId,
    admin: AdminUser,
    restaurants: RestaurantServiceDep,
) -> JSONBytes:
    await restaurants.delete(restaurant_id)
    invalidate_after_commit(request, *tags.restaurant_written(restaurant_id, deleted=True))
    return success(None, "Restaurant deleted")
