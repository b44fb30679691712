"""Which version served recent stable-path requests, per endpoint group (this instance).

Counts go into fixed 10-second slots in a ring; recording is a clock read and one increment.
Status sums the slots inside the window. Cross-instance aggregation is the monitoring
feature's job; this is what the router itself saw.
"""

from __future__ import annotations

from typing import Any

from bistro.core.clock import Clock, SystemClock

SLOT_SECONDS = 10


class ServedCounter:
    def __init__(self, window_seconds: int, clock: Clock | None = None) -> None:
        self.clock = clock or SystemClock()
        self._monotonic = self.clock.monotonic
        self.window_seconds = window_seconds
        self._slots = window_seconds // SLOT_SECONDS + 1
        # ring[i] = (slot number, {(version, group): count})
        self._ring: list[tuple[int, dict[tuple[str, str], int]]] = [
            (-1, {}) for _ in range(self._slots)
        ]
        # The slot being filled, and the monotonic time it ends: one comparison per record.
        self._counts: dict[tuple[str, str], int] = {}
        self._slot_end = float("-inf")
        self._earlier: dict[tuple[str, str], int] = {}  # every finished slot, summed

    def record(self, version: str, group: str) -> None:
        if self._monotonic() >= self._slot_end:
            self._start_slot()
        key = (version, group)
        counts = self._counts
        counts[key] = counts.get(key, 0) + 1

    @property
    def total(self) -> dict[tuple[str, str], int]:
        """Requests per (version, group) since start (this instance)."""
        summed = dict(self._earlier)
        for key, n in self._counts.items():
            summed[key] = summed.get(key, 0) + n
        return summed

    def _start_slot(self) -> None:
        for key, n in self._counts.items():  # the slot that just ended
            self._earlier[key] = self._earlier.get(key, 0) + n
        slot = int(self._monotonic() // SLOT_SECONDS)
        index = slot % self._slots
        number, counts = self._ring[index]
        if number != slot:
            counts = {}
            self._ring[index] = (slot, counts)
        self._counts = counts
        self._slot_end = (slot + 1) * SLOT_SECONDS

    def recent(self) -> dict[tuple[str, str], int]:
        current = int(self.clock.monotonic() // SLOT_SECONDS)
        oldest = current - self._slots + 1
        summed: dict[tuple[str, str], int] = {}
        for number, counts in self._ring:
            if oldest <= number <= current:
                for key, n in counts.items():
                    summed[key] = summed.get(key, 0) + n
        return summed

    def summary(self) -> dict[str, Any]:
        """Requests and share per version, overall and per group, over the recent window."""
        recent = self.recent()
        groups: dict[str, dict[str, int]] = {}
        for (version, group), n in recent.items():
            groups.setdefault(group, {"v3": 0, "v4": 0})[version] += n

        def shares(counts: dict[str, int]) -> dict[str, Any]:
            total = counts["v3"] + counts["v4"]
            return {
                "requests": total,
                "v3": counts["v3"],
                "v4": counts["v4"],
                "v3_share": round(counts["v3"] / total, 4) if total else None,
                "v4_share": round(counts["v4"] / total, 4) if total else None,
            }

        overall = {
            "v3": sum(g["v3"] for g in groups.values()),
            "v4": sum(g["v4"] for g in groups.values()),
        }
        return {
            "window_seconds": self.window_seconds,
            "scope": "this instance",
            "overall": shares(overall),
            "groups": {group: shares(counts) for group, counts in sorted(groups.items())},
        }
