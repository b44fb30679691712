"""The read the rollout controller calls for its ``max_parity_mismatch_rate`` check."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from bistro.parity.repository import ParityRepository


async def parity_window(
    session: AsyncSession, since: datetime, until: datetime, group: str | None
) -> tuple[int, int]:
    """(compared, mismatched) shadow comparisons in ``[since, until)``, every instance summed,
    for one endpoint group (``None``: all groups). Noise-only comparisons count as compared,
    not mismatched; errors, skips and drops are not comparisons."""
    totals = await ParityRepository(session).totals(since, until, group)
    compared = sum(counts["compared"] for counts in totals.values())
    mismatched = sum(counts["mismatched"] for counts in totals.values())
    return compared, mismatched
