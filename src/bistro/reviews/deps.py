"""The reviews feature's dependencies."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from bistro.core.database import Executor
from bistro.core.deps import ServiceOpener, SessionDep, StateDep
from bistro.core.state import AppState
from bistro.reviews.repository import ReviewRepository
from bistro.reviews.service import ReviewService


def build_review_service(state: AppState, session: Executor) -> ReviewService:
    return ReviewService(ReviewRepository(session), state.clock)


async def get_review_service(state: StateDep, session: SessionDep) -> ReviewService:
    return build_review_service(state, session)


ReviewServiceDep = Annotated[ReviewService, Depends(get_review_service)]


async def review_reads(request: Request) -> ServiceOpener[ReviewService]:
    return ServiceOpener(request.app.state.bistro, build_review_service)


ReviewReadsDep = Annotated[ServiceOpener[ReviewService], Depends(review_reads)]
