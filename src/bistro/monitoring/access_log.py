"""The per-request access log, written off the request path.

The metrics middleware hands each request's fields to :meth:`AccessLog.record` (a tuple
appended to a list: well under a microsecond); a task of the app renders what has gathered
every ``interval`` seconds and writes it in one call. The lines are the ones structlog
writes for ``bistro.access`` (JSON lines with ``--log-format json``, readable lines in a
terminal); in JSON they are rendered with orjson, several times cheaper than the processor
chain, with the same keys. Bounded: when ``max_pending`` lines wait (the writer is starved
or the output blocks), further lines are dropped and counted in ``dropped``, never queued
without limit and never allowed to hold a request up.
"""

from __future__ import annotations

import asyncio
import contextlib
import sys
from datetime import UTC, datetime
from typing import Any, TextIO

import orjson
import structlog

ACCESS_LOG_KEY = "access_log"  # the app state's extras: the running writer

# The fields of one line, in order (the metrics middleware records them so).
FIELDS = (
    "request_id",
    "method",
    "path",
    "source",
    "version",
    "route",
    "status",
    "outcome",
    "latency_ms",
    "total_ms",
    "bytes",
    "stable_path",
    "flag_reason",
)


class AccessLog:
    def __init__(
        self,
        *,
        json_lines: bool,
        stream: TextIO | None = None,
        max_pending: int = 10_000,
        interval: float = 0.1,
    ) -> None:
        self.json_lines = json_lines
        self.stream = stream or sys.stderr
        self.max_pending = max_pending
        self.interval = interval
        self.written = 0
        self.dropped = 0
        self._pending: list[tuple[float, tuple[Any, ...]]] = []
        self._task: asyncio.Task[None] | None = None
        self._log = structlog.get_logger("bistro.access")

    def record(self, at: float, fields: tuple[Any, ...]) -> None:
        """One request's line: ``at`` (epoch seconds) and the values of FIELDS."""
        if len(self._pending) >= self.max_pending:
            self.dropped += 1
            return
        self._pending.append((at, fields))

    def flush(self) -> None:
        pending, self._pending = self._pending, []
        if not pending:
            return
        if self.json_lines:
            lines = [orjson.dumps(self._line(at, fields)).decode() for at, fields in pending]
            self.stream.write("\n".join(lines) + "\n")
            self.stream.flush()
        else:  # a terminal: structlog's own readable rendering
            for _at, fields in pending:
                self._log.info("request", **dict(zip(FIELDS, fields, strict=True)))
        self.written += len(pending)

    @staticmethod
    def _line(at: float, fields: tuple[Any, ...]) -> dict[str, Any]:
        line = dict(zip(FIELDS, fields, strict=True))
        line["event"] = "request"
        line["level"] = "info"
        line["timestamp"] = datetime.fromtimestamp(at, UTC).isoformat().replace("+00:00", "Z")
        return line

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self.interval)
            try:
                self.flush()
            except Exception:  # a broken stream must not end the writer (lines are counted)
                self.dropped += 1

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._run())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        self.flush()
