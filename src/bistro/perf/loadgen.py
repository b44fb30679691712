"""The load generator: open loop (constant arrival rate) and closed loop (fixed concurrency).

Open loop measures each latency from the request's *intended* send time, so a server stall
shows in every request that should have gone out during it (the coordinated-omission
correction of wrk2), and counts the requests the generator itself dispatched late. Closed loop
measures from the actual send, as a throughput test does; a stall then delays only the
requests in flight, which is why its p99 hides stalls (see docs/performance.md).

HTTP is aiohttp's client: its per-request CPU is a fraction of httpx's, and the generator
must stay cheaper than the server it measures.
"""

from __future__ import annotations

import asyncio
import collections
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import orjson
import psutil

from bistro.core.clock import Clock, SystemClock
from bistro.perf.histogram import LatencyHistogram
from bistro.perf.plan import Mix, Request, Slice

# A request dispatched more than this after its intended time counts as sent late (the
# generator, not the server, was behind). Above the event loop's 1 ms timer granularity.
LATE_AFTER_S = 0.005
TRANSPORT_ERROR = 0  # status recorded when no HTTP answer came back
NOT_SENT = -1  # status recorded when too many requests were already outstanding
UNREADABLE_ANSWER = -2  # a create answered 2xx without the new review's id
# The synthetic-traffic marker and the admin token that proves it (bistro.perf.marking).
SYNTHETIC_HEADER = "X-Bistro-Source"
SYNTHETIC_VALUE = "synthetic"
SYNTHETIC_TOKEN_HEADER = "X-Bistro-Source-Token"

Sleep = Callable[[float], Awaitable[None]]


@dataclass
class Cell:
    """What one endpoint saw during one slice."""

    histogram: LatencyHistogram = field(default_factory=LatencyHistogram)
    statuses: collections.Counter[int] = field(default_factory=collections.Counter)
    raw_us: list[int] | None = None


@dataclass
class Recording:
    """Everything the generator measured, per slice and endpoint, plus its own health."""

    keep_raw: bool = False
    cells: dict[tuple[int, str], Cell] = field(default_factory=dict)
    # second since the start -> version -> completed requests
    timeline: dict[int, collections.Counter[str]] = field(
        default_factory=lambda: collections.defaultdict(collections.Counter)
    )
    sent: int = 0
    late: int = 0
    max_lag_s: float = 0.0
    # Why an open loop stopped early: "behind" its schedule, or "outstanding" requests full.
    gave_up: str | None = None
    started: float = 0.0
    wall_s: float = 0.0
    # Open loop: from the start to the last dispatch (sent / dispatch_s is the rate held).
    dispatch_s: float = 0.0
    cpu_s: float = 0.0
    slice_wall: dict[int, float] = field(default_factory=dict)

    def cell(self, slice_index: int, endpoint: str) -> Cell:
        found = self.cells.get((slice_index, endpoint))
        if found is None:
            found = self.cells[(slice_index, endpoint)] = Cell(raw_us=[] if self.keep_raw else None)
        return found

    def record(
        self, slice_index: int, req: Request, latency_s: float, status: int, now: float
    ) -> None:
        cell = self.cell(slice_index, req.endpoint)
        cell.statuses[status] += 1
        if status == NOT_SENT:
            return  # no latency to speak of: counted, kept out of the histogram
        cell.histogram.record(latency_s)
        if cell.raw_us is not None:
            cell.raw_us.append(max(1, round(latency_s * 1_000_000)))
        self.timeline[int(now - self.started)][req.version] += 1


class Sender:
    """Sends one request of the mix and returns its status (``write`` is create + delete)."""

    def __init__(
        self,
        base_url: str,
        *,
        headers: dict[str, str],
        connections: int,
        timeout_s: float,
        write_restaurants: list[int] | None = None,
        write_token: str | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.headers = headers
        # Reads go out anonymous (as most clients are); writes need a signed-in user.
        self.write_headers = {"Authorization": f"Bearer {write_token}"} if write_token else {}
        self.connections = connections
        self.timeout_s = timeout_s
        self._free = collections.deque(write_restaurants or [])
        self.leftover_reviews: list[str] = []
        self.session: aiohttp.ClientSession | None = None

    async def __aenter__(self) -> Sender:
        connector = aiohttp.TCPConnector(limit=self.connections, limit_per_host=0)
        self.session = aiohttp.ClientSession(
            connector=connector,
            headers=self.headers,
            timeout=aiohttp.ClientTimeout(total=self.timeout_s),
            skip_auto_headers=("User-Agent",),
        )
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self.session is not None:
            await self.cleanup()
            await self.session.close()

    async def _call(self, method: str, path: str, json: Any = None) -> tuple[int, Any]:
        assert self.session is not None
        headers = self.write_headers if method != "GET" else None
        url = self.base_url + path
        try:
            async with self.session.request(method, url, json=json, headers=headers) as resp:
                body = await resp.read()
                if method == "POST" and resp.status in (200, 201):
                    return resp.status, body
                return resp.status, None
        except (aiohttp.ClientError, TimeoutError, OSError):
            return TRANSPORT_ERROR, None

    async def send(self, req: Request) -> int:
        if req.endpoint != "write":
            status, _ = await self._call(req.method, req.path)
            return status
        return await self._write(req)

    async def _write(self, req: Request) -> int:
        """Create a review, then delete it: one restaurant per review in flight, so the
        user never reviews a restaurant twice; a 409 retires that restaurant."""
        if not self._free:
            return NOT_SENT
        restaurant_id = self._free.popleft()
        body = {"restaurant_id": restaurant_id, "rating": 4, "text": "bistro perf write"}
        status, payload = await self._call("POST", req.path, body)
        if status not in (200, 201) or payload is None:
            if status != 409:
                self._free.append(restaurant_id)
            return status
        review_id = _created_id(payload)
        if review_id is None:
            # Created, but the answer does not say what: it cannot be cleaned up by id.
            return UNREADABLE_ANSWER
        delete_path = f"{req.path}/{review_id}"
        deleted, _ = await self._call("DELETE", delete_path)
        if deleted in (200, 204):
            self._free.append(restaurant_id)
        else:
            self.leftover_reviews.append(delete_path)
        return status if deleted in (200, 204) else deleted

    async def cleanup(self) -> None:
        """Delete the reviews whose delete failed during the run."""
        for path in list(self.leftover_reviews):
            status, _ = await self._call("DELETE", path)
            if status in (200, 204, 404):
                self.leftover_reviews.remove(path)


def _created_id(payload: bytes) -> int | None:
    try:
        body = orjson.loads(payload)
    except orjson.JSONDecodeError:
        return None
    data = body.get("data") if isinstance(body, dict) else None
    created = data.get("id") if isinstance(data, dict) else None
    return created if isinstance(created, int) else None


@dataclass
class LoadConfig:
    slices: list[Slice]
    rate: float | None = None  # open loop: total requests per second
    concurrency: int | None = None  # closed loop
    max_outstanding: int = 10_000
    drain_timeout_s: float = 30.0
    # Open loop: stop when the generator falls this far behind its schedule (it cannot
    # hold the rate; going on would only queue requests inside the generator).
    give_up_lag_s: float | None = None
    # Stop (rather than count requests as not sent) once ``max_outstanding`` are in flight.
    give_up_when_full: bool = False


class LoadGenerator:
    def __init__(
        self,
        sender: Sender,
        mix: Mix,
        recording: Recording,
        *,
        clock: Clock | None = None,
        sleep: Sleep = asyncio.sleep,
        on_slice: Callable[[Slice], None] | None = None,
        on_tick: Callable[[int], None] | None = None,
    ) -> None:
        self.sender = sender
        self.mix = mix
        self.rec = recording
        self.clock = clock or SystemClock()
        self.sleep = sleep
        self.on_slice = on_slice
        self.on_tick = on_tick

    async def run(self, config: LoadConfig) -> Recording:
        process = psutil.Process()
        cpu_before = _cpu(process)
        self.rec.started = self.clock.monotonic()
        if config.rate is not None:
            await self._open_loop(config)
        else:
            assert config.concurrency is not None
            await self._closed_loop(config)
        self.rec.wall_s = self.clock.monotonic() - self.rec.started
        self.rec.cpu_s = _cpu(process) - cpu_before
        return self.rec

    async def _one(self, slice_index: int, req: Request, since: float) -> None:
        status = await self.sender.send(req)
        now = self.clock.monotonic()
        self.rec.record(slice_index, req, now - since, status, now)
        if self.on_tick is not None:
            self.on_tick(1)

    async def _open_loop(self, config: LoadConfig) -> None:
        assert config.rate is not None and config.rate > 0
        interval = 1.0 / config.rate
        start = self.rec.started
        offset = 0.0
        slice_end = 0.0
        tasks: set[asyncio.Task[None]] = set()
        streak = 0
        for sl in config.slices:
            if self.on_slice is not None:
                self.on_slice(sl)
            stream = self.mix.requests(sl.version)
            slice_end += sl.seconds
            began = self.clock.monotonic()
            while offset < slice_end:
                intended = start + offset
                offset += interval
                lag = self.clock.monotonic() - intended
                if lag < 0:
                    streak = 0
                    await self.sleep(-lag)
                else:
                    streak += 1
                    if streak % 32 == 0:
                        await self.sleep(0)  # let responses in while catching up
                req = next(stream)
                if len(tasks) >= config.max_outstanding:
                    self.rec.record(sl.index, req, 0.0, NOT_SENT, self.clock.monotonic())
                    if config.give_up_when_full:
                        self.rec.gave_up = "outstanding"
                        break
                    continue
                if lag > LATE_AFTER_S:
                    self.rec.late += 1
                    self.rec.max_lag_s = max(self.rec.max_lag_s, lag)
                    if config.give_up_lag_s is not None and lag > config.give_up_lag_s:
                        self.rec.gave_up = "behind"
                        break
                self.rec.sent += 1
                task = asyncio.create_task(self._one(sl.index, req, intended))
                tasks.add(task)
                task.add_done_callback(tasks.discard)
            self.rec.slice_wall[sl.index] = self.clock.monotonic() - began
            if self.rec.gave_up:
                break
        self.rec.dispatch_s = self.clock.monotonic() - start
        if tasks:
            if not self.rec.gave_up:
                await asyncio.wait(tasks, timeout=config.drain_timeout_s)
            for task in tasks:
                task.cancel()

    async def _closed_loop(self, config: LoadConfig) -> None:
        assert config.concurrency is not None and config.concurrency > 0
        for sl in config.slices:
            if self.on_slice is not None:
                self.on_slice(sl)
            stream = self.mix.requests(sl.version)
            began = self.clock.monotonic()
            deadline = began + sl.seconds

            await asyncio.gather(
                *(self._worker(sl.index, stream, deadline) for _ in range(config.concurrency))
            )
            self.rec.slice_wall[sl.index] = self.clock.monotonic() - began

    async def _worker(self, slice_index: int, stream: Iterator[Request], deadline: float) -> None:
        while self.clock.monotonic() < deadline:
            req = next(stream)
            self.rec.sent += 1
            await self._one(slice_index, req, self.clock.monotonic())


def _cpu(process: psutil.Process) -> float:
    times = process.cpu_times()
    return float(times.user + times.system)
