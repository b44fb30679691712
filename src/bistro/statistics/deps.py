"""The statistics feature's dependencies."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from bistro.core.database import Executor
from bistro.core.deps import ServiceOpener
from bistro.core.state import AppState
from bistro.statistics.repository import StatisticsRepository
from bistro.statistics.service import StatisticsService


def build_statistics_service(state: AppState, session: Executor) -> StatisticsService:
    return StatisticsService(StatisticsRepository(session))


async def statistics_reads(request: Request) -> ServiceOpener[StatisticsService]:
    return ServiceOpener(request.app.state.bistro, build_statistics_service)


StatisticsReadsDep = Annotated[ServiceOpener[StatisticsService], Depends(statistics_reads)]
