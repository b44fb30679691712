"""One endpoint group's v3 and v4 counts over a time window, every instance merged, fast.

The rollout controller reads this at every evaluation (a window of up to hours). Whole
minutes come from the per-minute rollups each instance's pipeline keeps
(``monitoring_request_minutes``); only the partial minutes at the window's two edges come
from the raw flush buckets. A bucket belongs to the minute its ``bucket_start`` falls in, and
a minute row is the sum of exactly those buckets, so the result equals reading every raw
bucket in ``[since, until)`` -- the same window semantics as the dashboard's summaries.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import numpy as np
import orjson
from sqlalchemy.ext.asyncio import AsyncSession

from bistro.monitoring.histogram import quantile
from bistro.monitoring.recorder import VERSIONS
from bistro.monitoring.repository import MetricsRepository

MINUTE = timedelta(minutes=1)


@dataclass
class WindowCounts:
    """One version's traffic in a window. ``requests`` are answered requests (every status
    class); ``client_aborts`` (clients that went away first) are in no other field; the
    histogram is the server's time to first byte, ``{bucket index: count}``
    (see ``monitoring.histogram``)."""

    requests: int = 0
    errors_5xx: int = 0
    errors_4xx: int = 0
    client_aborts: int = 0
    latency_sum: float = 0.0
    histogram: dict[int, int] = field(default_factory=dict)

    @property
    def error_rate(self) -> float:
        return self.errors_5xx / self.requests if self.requests else 0.0

    def quantile(self, q: float) -> float | None:
        """The q-quantile of the server latency, in seconds (None when empty)."""
        return quantile(self.histogram, q)

    def add_rows(self, rows: Iterable[Any]) -> None:
        """Add bucket rows (histograms as ``{"index": count}``) and rollup rows (histograms as
        flat ``[index, count, ...]`` lists, see ``histogram.encode_pairs``, or their JSON
        text as ``MetricsRepository.minute_counts`` reads them)."""
        # This is the read's cost: a 2-hour window holds ~10^5 histogram entries. The rollups'
        # text is parsed by numpy straight into one array and summed there; only the few
        # small bucket objects of the window's edges go through Python dicts.
        texts: list[str] = []
        pairs: list[int] = []
        merged: dict[str, int] = {}
        get = merged.get
        for row in rows:
            self.requests += row.requests
            self.errors_4xx += row.errors_4xx
            self.errors_5xx += row.errors_5xx
            self.client_aborts += row.client_aborts
            self.latency_sum += row.latency_sum
            stored = row.histogram
            if isinstance(stored, str):
                if stored[:1] == "[":
                    if len(stored) > 2:
                        texts.append(stored[1:-1])
                    continue
                stored = orjson.loads(stored)  # a bucket's {"index": count}
            if isinstance(stored, list):
                pairs += stored
            elif stored:
                for index, count in stored.items():
                    merged[index] = get(index, 0) + count
        histogram = self.histogram
        flats = [np.array(pairs, dtype=np.int64)] if pairs else []
        if texts:
            flats.append(np.fromstring(",".join(texts), dtype=np.int64, sep=","))
        if flats:
            flat = flats[0] if len(flats) == 1 else np.concatenate(flats)
            sums = np.bincount(flat[0::2], weights=flat[1::2])
            present = np.flatnonzero(sums)
            for index, count in zip(present.tolist(), sums[present].tolist(), strict=True):
                histogram[index] = histogram.get(index, 0) + int(count)
        for text, count in merged.items():
            index = int(text)
            histogram[index] = histogram.get(index, 0) + count


def floor_minute(at: datetime) -> datetime:
    return at.replace(second=0, microsecond=0)


def split_window(
    since: datetime, until: datetime
) -> tuple[tuple[datetime, datetime] | None, list[tuple[datetime, datetime]]]:
    """``[since, until)`` as (whole minutes ``[first, end)`` or None, raw edge ranges)."""
    first = floor_minute(since)
    if first < since:
        first += MINUTE
    end = floor_minute(until)
    if first >= end:
        return None, [(since, until)] if since < until else []
    edges = [(lo, hi) for lo, hi in ((since, first), (end, until)) if lo < hi]
    return (first, end), edges


async def version_window(
    session: AsyncSession,
    since: datetime,
    until: datetime,
    *,
    source: str,
    group: str | None,
) -> dict[str, WindowCounts]:
    """v3 and v4 counts of ``source`` traffic to ``group`` (None: every group) with
    ``bucket_start`` in ``[since, until)``, all instances. Both versions are always present."""
    out = {version: WindowCounts() for version in VERSIONS}
    minutes, edges = split_window(since, until)
    rows = await MetricsRepository(session).window_counts(minutes, edges, source, group)
    by_version: dict[str, list[Any]] = {version: [] for version in VERSIONS}
    for row in rows:
        by_version[row.version].append(row)
    for version, version_rows in by_version.items():
        out[version].add_rows(version_rows)
    return out
