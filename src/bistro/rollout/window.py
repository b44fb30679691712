"""The evidence of one evaluation: v4 (canary) and v3 (baseline) stable-path traffic of one
endpoint group over the window, every instance merged, read from the shared store.

Only ``stable`` traffic is judged: direct ``/api/v3`` and ``/api/v4`` calls, benchmarks,
shadow comparisons and synthetic load never move a rollout.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from bistro.monitoring.models import RequestBucket
from bistro.monitoring.window import version_window
from bistro.rollout.analysis import Sample

JUDGED_SOURCE = "stable"


@dataclass(frozen=True)
class Window:
    canary: Sample
    baseline: Sample
    canary_aborts: int
    baseline_aborts: int
    # The start of the first flush bucket holding a v4 5xx: the failed request happened in
    # [first_failure_at, first_failure_at + flush interval), the start of the time to detect.
    first_failure_at: datetime | None


async def read_window(
    session: AsyncSession, since: datetime, until: datetime, group: str
) -> Window:
    counts = await version_window(session, since, until, source=JUDGED_SOURCE, group=group)
    v3, v4 = counts["v3"], counts["v4"]
    first = None
    if v4.errors_5xx:
        first = await first_failure(session, since, until, group)
    return Window(
        canary=Sample(requests=v4.requests, errors_5xx=v4.errors_5xx, histogram=v4.histogram),
        baseline=Sample(requests=v3.requests, errors_5xx=v3.errors_5xx, histogram=v3.histogram),
        canary_aborts=v4.client_aborts,
        baseline_aborts=v3.client_aborts,
        first_failure_at=first,
    )


async def first_failure(
    session: AsyncSession, since: datetime, until: datetime, group: str
) -> datetime | None:
    t = RequestBucket
    statement = select(func.min(t.bucket_start)).where(
        t.source == JUDGED_SOURCE,
        t.grp == group,
        t.version == "v4",
        t.errors_5xx > 0,
        t.bucket_start >= since,
        t.bucket_start < until,
    )
    value: datetime | None = (await session.execute(statement)).scalar_one_or_none()
    return value
