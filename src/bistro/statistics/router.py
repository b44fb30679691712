"""v4 statistics route."""

from __future__ import annotations

from fastapi import APIRouter, Request

from bistro.core.cache import cached_response, make_key, tags
from bistro.core.responses import Envelope, JSONBytes, success_body
from bistro.statistics.deps import StatisticsReadsDep
from bistro.statistics.schemas import StatisticsOut

router = APIRouter(tags=["statistics"])


@router.get(
    "/statistics",
    response_model=Envelope[StatisticsOut],
    summary="Totals, average rating, rating histogram and top restaurants per cuisine",
)
async def statistics(request: Request, reads: StatisticsReadsDep) -> JSONBytes:
    async def load() -> bytes:
        async with reads() as stats:
            return success_body(await stats.summary())

    return await cached_response(
        request, make_key("statistics"), load, entity="statistics", tags=[tags.STATISTICS]
    )
