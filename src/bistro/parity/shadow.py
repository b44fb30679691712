"""Shadow runs: the version that did not answer a sampled request runs it too, afterwards.

The layer (``parity.layer``) hands over a finished request as a :class:`ShadowJob`; a few
worker tasks (``shadow_concurrency``) take jobs from a bounded queue (``shadow_queue``; when
full, new work is dropped and counted), run the request against the other version through the
app's inner layers under ``shadow_timeout``, and compare the two answers with the parity core.
None of it runs before the client's response is complete, and none of it can touch that
response: the job holds copies.

A comparison is skipped (and counted) when a write may have changed the answer in between:
the generations of the request's cache tags moved (a write on any instance: the invalidations
reach every instance), or this instance saw a write request since the client's request began
(which also covers a cache that is switched off).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import orjson
import structlog
from starlette.types import ASGIApp, Message

from bistro.core.cache import tags as cache_tags_module
from bistro.core.cache.keys import ALL
from bistro.core.clock import Clock
from bistro.core.context import CONTEXT_KEY, RequestContext
from bistro.monitoring.recorder import SHADOW, mark_source
from bistro.parity.compare import MISMATCH, NOISE, Answer, compare
from bistro.parity.models import COUNTERS
from bistro.parity.noise import NoiseModel, endpoint_of
from bistro.parity.redact import redact_difference, redact_query
from bistro.parity.settings import ParitySettings

log = structlog.get_logger("bistro.parity")

DIFFS_PER_EXAMPLE = 10
PENDING_EXAMPLES_MAX = 50  # per flush interval, per process
# Scope keys a shadow run copies from the client's request (taken when it arrives, before
# routing adds anything of its own).
SCOPE_KEYS = (
    "type",
    "asgi",
    "http_version",
    "method",
    "scheme",
    "server",
    "client",
    "root_path",
    "headers",
    "query_string",
    "app",
    "state",
)


def cache_tags(rest: str) -> tuple[str, ...]:
    """The cache tags whose invalidation means a write touched what ``/api/<v>/<rest>`` reads."""
    head, _, tail = rest.partition("/")
    ident = tail.split("/", 1)[0]
    if head == "restaurants":
        if ident.isdigit():
            return (ALL, cache_tags_module.restaurant(int(ident)))
        return (ALL, cache_tags_module.RESTAURANT_LISTS)
    if head == "reviews":
        if ident.isdigit():
            return (ALL, cache_tags_module.review(int(ident)), cache_tags_module.REVIEW_DETAILS)
        return (ALL, cache_tags_module.REVIEW_LISTS)
    if head == "statistics":
        return (ALL, cache_tags_module.STATISTICS)
    return (ALL,)


@dataclass(slots=True)
class ShadowJob:
    scope: dict[str, Any]  # the client's request, copied on arrival (SCOPE_KEYS)
    served: str  # the version that answered the client
    group: str
    rest: str  # the path after /api/<version>/
    status: int
    body: bytes
    tags: tuple[str, ...]
    generations: tuple[int, ...]
    writes: int


@dataclass
class ShadowStats:
    """Counters per endpoint group since the last drain, and since start (this process)."""

    on_count: Callable[[str, str, int], None] | None = None
    pending: dict[str, dict[str, int]] = field(default_factory=dict)
    total: dict[str, dict[str, int]] = field(default_factory=dict)
    examples: list[dict[str, Any]] = field(default_factory=list)

    def add(self, group: str, counter: str, n: int = 1) -> None:
        for counts in (self.pending, self.total):
            row = counts.get(group)
            if row is None:
                row = counts[group] = dict.fromkeys(COUNTERS, 0)
            row[counter] += n
        if self.on_count is not None:
            self.on_count(group, counter, n)

    def drain(self) -> tuple[dict[str, dict[str, int]], list[dict[str, Any]]]:
        pending, self.pending = self.pending, {}
        examples, self.examples = self.examples, []
        return pending, examples

    def restore(self, pending: dict[str, dict[str, int]], examples: list[dict[str, Any]]) -> None:
        """Put back what a failed flush drained (added to what came in since)."""
        for group, counts in pending.items():
            row = self.pending.setdefault(group, dict.fromkeys(COUNTERS, 0))
            for name, n in counts.items():
                row[name] += n
        self.examples = (examples + self.examples)[:PENDING_EXAMPLES_MAX]


class ShadowRunner:
    def __init__(
        self,
        app: ASGIApp,
        settings: ParitySettings,
        clock: Clock,
        stats: ShadowStats,
        noise: Callable[[], NoiseModel],
        generations: Callable[[tuple[str, ...]], tuple[int, ...]] | None = None,
    ) -> None:
        self.app = app
        self.settings = settings
        self.clock = clock
        self.stats = stats
        self.noise = noise
        self.generations = generations or (lambda tags: ())
        self.writes = 0  # write requests this process has seen
        self.queue: asyncio.Queue[ShadowJob] = asyncio.Queue(settings.shadow_queue)
        self._workers: list[asyncio.Task[None]] = []
        self.busy = 0

    # -- the request side (cheap, synchronous) ----------------------------------------------

    def write_seen(self) -> None:
        self.writes += 1

    def submit(self, job: ShadowJob) -> bool:
        if not self._workers:
            self.stats.add(job.group, "dropped")
            return False
        try:
            self.queue.put_nowait(job)
        except asyncio.QueueFull:
            self.stats.add(job.group, "dropped")
            return False
        return True

    # -- the workers -------------------------------------------------------------------------

    def start(self) -> None:
        if not self._workers:
            self._workers = [
                asyncio.create_task(self._work(), name=f"bistro-shadow-{n}")
                for n in range(self.settings.shadow_concurrency)
            ]

    async def stop(self) -> None:
        workers, self._workers = self._workers, []
        for task in workers:
            task.cancel()
        for task in workers:
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def idle(self) -> None:
        """Wait until every queued job is done (tests and a graceful stop)."""
        await self.queue.join()

    async def _work(self) -> None:
        while True:
            job = await self.queue.get()
            self.busy += 1
            try:
                await self.run(job)
            except Exception:  # a worker never dies of one job
                log.exception("shadow_job_failed")
            finally:
                self.busy -= 1
                self.queue.task_done()

    async def run(self, job: ShadowJob) -> str:
        """Run and compare one job; returns the counter it was recorded under."""
        try:
            async with asyncio.timeout(self.settings.shadow_timeout):
                shadow = await self._execute(job)
        except Exception as exc:  # v's exception or the timeout: never the client's business
            log.info("shadow_run_failed", group=job.group, error=type(exc).__name__)
            self.stats.add(job.group, "errors")
            return "errors"
        if self.writes != job.writes or self.generations(job.tags) != job.generations:
            self.stats.add(job.group, "skipped")
            return "skipped"
        client = _answer(job.status, job.body)
        v3, v4 = (client, shadow) if job.served == "v3" else (shadow, client)
        endpoint = endpoint_of("GET", "/" + job.rest)
        result = compare(v3, v4, noise=self.noise().paths(endpoint))
        self.stats.add(job.group, "compared")
        if result.verdict == MISMATCH:
            self.stats.add(job.group, "mismatched")
            self._example(job, endpoint, v3.status, v4.status, result.differences)
            return "mismatched"
        counter = "noise" if result.verdict == NOISE else "matched"
        self.stats.add(job.group, counter)
        return counter

    async def _execute(self, job: ShadowJob) -> Answer:
        other = "v4" if job.served == "v3" else "v3"
        context = RequestContext()
        context.version = other
        context.group = job.group
        path = f"/api/{other}/{job.rest}"
        scope = {**job.scope, "path": path, "raw_path": path.encode(), CONTEXT_KEY: context}
        # The metrics count it as shadow traffic: in no version's figures, alerts or window.
        mark_source(scope, SHADOW)
        status = 500
        chunks: list[bytes] = []
        sent = False

        async def receive() -> Message:
            nonlocal sent
            if not sent:
                sent = True
                return {"type": "http.request", "body": b"", "more_body": False}
            await asyncio.Event().wait()  # no disconnect: the timeout ends a run that waits
            raise AssertionError("unreachable")

        async def send(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            elif message["type"] == "http.response.body":
                chunks.append(message.get("body", b""))

        await self.app(scope, receive, send)
        return _answer(status, b"".join(chunks))

    def _example(
        self, job: ShadowJob, endpoint: str, status3: int, status4: int, diffs: Any
    ) -> None:
        if len(self.stats.examples) >= PENDING_EXAMPLES_MAX:
            return
        query = job.scope.get("query_string", b"").decode("latin-1")
        self.stats.examples.append(
            {
                "at": self.clock.now(),
                "grp": job.group,
                "endpoint": endpoint[:120],
                "path": ("/api/" + job.rest)[:500],
                "query": redact_query(query)[:1000],
                "served": job.served,
                "status_v3": status3,
                "status_v4": status4,
                "differences": [redact_difference(d.as_dict()) for d in diffs[:DIFFS_PER_EXAMPLE]],
            }
        )


def _answer(status: int, body: bytes) -> Answer:
    try:
        return Answer(status, orjson.loads(body))
    except orjson.JSONDecodeError:
        return Answer(status, {"<not JSON>": body[:200].decode("utf-8", "replace")})
