"""The access log's writer: lines queued off the request path, written in batches, bounded."""

from __future__ import annotations

import asyncio
import io
import json

from bistro.monitoring.access_log import FIELDS, AccessLog


def fields(n: int) -> tuple[object, ...]:
    path, route = "/api/v4/restaurants/1", "/restaurants/{id}"
    return (f"req-{n}", "GET", path, "direct", "v4", route, 200, "2xx", 0.5, 0.6, 10, None, None)


async def test_lines_are_written_in_batches_with_the_access_log_keys() -> None:
    out = io.StringIO()
    log = AccessLog(json_lines=True, stream=out, interval=0.01)
    log.start()
    log.record(1_800_000_000.25, fields(1))
    log.record(1_800_000_000.5, fields(2))
    assert out.getvalue() == ""  # nothing written on the request path
    for _ in range(500):  # the writer task's next turn (generous on a busy machine)
        if log.written:
            break
        await asyncio.sleep(0.01)
    lines = [json.loads(line) for line in out.getvalue().splitlines()]
    assert [line["request_id"] for line in lines] == ["req-1", "req-2"]
    assert set(lines[0]) == {*FIELDS, "event", "level", "timestamp"}
    assert (lines[0]["event"], lines[0]["level"]) == ("request", "info")
    assert lines[0]["timestamp"] == "2027-01-15T08:00:00.250000Z"
    log.record(1_800_000_001.0, fields(3))
    await log.stop()  # stopping writes what is left
    assert out.getvalue().count("\n") == 3 and log.written == 3 and log.dropped == 0


async def test_a_full_queue_drops_and_counts_instead_of_growing() -> None:
    out = io.StringIO()
    log = AccessLog(json_lines=True, stream=out, max_pending=3)
    for n in range(5):
        log.record(1_800_000_000.0, fields(n))
    assert log.dropped == 2
    log.flush()
    assert log.written == 3 and out.getvalue().count("\n") == 3
