"""v4 statistics route."""

from __future__ import annotations

from fastapi import APIRouter

from bistro.core.deps import StatisticsServiceDep
from bistro.core.responses import Envelope, JSONBytes, success
from bistro.statistics.schemas import StatisticsOut

router = APIRouter(tags=["statistics"])


@router.get(
    "/statistics",
    response_model=Envelope[StatisticsOut],
    summary="Totals, average rating, rating histogram and top restaurants per cuisine",
)
async def statistics(stats: StatisticsServiceDep) -> JSONBytes:
    return success(await stats.summary())
