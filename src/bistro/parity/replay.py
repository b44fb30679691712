"""Offline replay: every request asked of v3 and v4 on one service, and compared.

Noise is learned by asking v3 a second time, *after* v4: the order v3 -> v4 -> v3 puts v4's
answer between two v3 answers, so a value that moves with time (a "now" timestamp,
``is_open_now`` at a minute boundary) moves between the two v3 answers too. The second v3 call
is made for the first ``learn_first`` requests of every endpoint (to find noise before it
matters, as Diffy does) and for every request whose v4 answer differs from v3's (the only
answers noise can change the verdict of): two calls per request instead of three, with the
same verdicts. Noise is learned during the run and applied to the whole run at the end: a
mismatch on paths that turned out to be noise later in the run is reclassified (only
differences are kept, never bodies).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import httpx
import orjson

from bistro.parity.compare import MATCH, MISMATCH, NOISE, Answer, Difference, compare, covered
from bistro.parity.generate import ReplayRequest
from bistro.parity.known import KNOWN_DIFFERENCES
from bistro.parity.noise import NoiseModel, endpoint_of

# Replay traffic asks to be recorded as synthetic (bistro.perf.marking), out of the versions'
# client figures; the service honours it when an admin's token comes with it.
SOURCE_HEADER = "X-Bistro-Source"
SOURCE_TOKEN_HEADER = "X-Bistro-Source-Token"
SYNTHETIC = "synthetic"
EXAMPLES_PER_ENDPOINT = 5
DIFFS_PER_EXAMPLE = 10


@dataclass
class EndpointFigures:
    compared: int = 0
    matched: int = 0
    noise: int = 0
    mismatches: int = 0
    errors: int = 0
    examples: list[dict[str, Any]] = field(default_factory=list)

    @property
    def mismatch_rate(self) -> float:
        return self.mismatches / self.compared if self.compared else 0.0


@dataclass
class _Pending:
    """A mismatch kept until the end, when the run's final noise may reclassify it."""

    endpoint: str
    path: str
    status: tuple[int, int]
    differences: tuple[Difference, ...]


@dataclass
class ReplayResult:
    requests: int
    endpoints: dict[str, EndpointFigures]
    noise: NoiseModel
    known: dict[str, int]
    errors: list[dict[str, str]]
    seconds: float
    calls: dict[str, int] = field(default_factory=dict)

    @property
    def compared(self) -> int:
        return sum(e.compared for e in self.endpoints.values())

    @property
    def mismatches(self) -> int:
        return sum(e.mismatches for e in self.endpoints.values())

    @property
    def error_count(self) -> int:
        return sum(e.errors for e in self.endpoints.values())

    @property
    def mismatch_rate(self) -> float:
        return self.mismatches / self.compared if self.compared else 0.0


def _answer(response: httpx.Response) -> Answer:
    try:
        body = orjson.loads(response.content)
    except orjson.JSONDecodeError:
        body = {"<not JSON>": response.text[:200]}
    return Answer(response.status_code, body)


class Replayer:
    def __init__(
        self,
        client: httpx.AsyncClient,
        *,
        token: str | None = None,
        concurrency: int = 4,
        ignore: Sequence[str] = (),
        on_done: Callable[[], None] | None = None,
        learn_first: int = 25,
    ) -> None:
        self.client = client
        self.token = token
        self.concurrency = max(1, concurrency)
        self.learn_first = learn_first
        self.v3_calls = self.v4_calls = 0
        self.noise = NoiseModel(everywhere=frozenset(ignore))
        self.on_done = on_done or (lambda: None)
        self.endpoints: dict[str, EndpointFigures] = {}
        self.known: dict[str, int] = {rule.name: 0 for rule in KNOWN_DIFFERENCES}
        self.errors: list[dict[str, str]] = []
        self._pending: list[_Pending] = []

    async def _get(self, version: str, request: ReplayRequest) -> Answer:
        headers = {SOURCE_HEADER: SYNTHETIC}
        if self.token:
            headers[SOURCE_TOKEN_HEADER] = self.token
            if request.signed_in:
                headers["Authorization"] = f"Bearer {self.token}"
        if version == "v3":
            self.v3_calls += 1
        else:
            self.v4_calls += 1
        return _answer(await self.client.get(f"/api/{version}{request.path}", headers=headers))

    async def _one(self, request: ReplayRequest) -> None:
        endpoint = endpoint_of("GET", request.path)
        figures = self.endpoints.setdefault(endpoint, EndpointFigures())
        try:
            first = await self._get("v3", request)
            candidate = await self._get("v4", request)
            learning = self.noise.pairs.get(endpoint, 0) < self.learn_first
            result = compare(first, candidate, noise=self.noise.paths(endpoint))
            if learning or result.verdict != MATCH:
                self.noise.learn(endpoint, first, await self._get("v3", request))
                result = compare(first, candidate, noise=self.noise.paths(endpoint))
        except httpx.HTTPError as exc:
            figures.errors += 1
            if len(self.errors) < 20:
                self.errors.append({"path": request.path, "error": f"{type(exc).__name__}: {exc}"})
            return
        figures.compared += 1
        for name in result.known:
            self.known[name] += 1
        if result.verdict == MISMATCH:
            figures.mismatches += 1
            status = (first.status, candidate.status)
            self._pending.append(_Pending(endpoint, request.path, status, result.differences))
        elif result.verdict == NOISE:
            figures.noise += 1
        else:
            figures.matched += 1

    async def run(self, requests: Sequence[ReplayRequest]) -> ReplayResult:
        started = time.perf_counter()
        queue: asyncio.Queue[ReplayRequest] = asyncio.Queue()
        for request in requests:
            queue.put_nowait(request)

        async def worker() -> None:
            while not queue.empty():
                request = queue.get_nowait()
                try:
                    await self._one(request)
                finally:
                    self.on_done()

        await asyncio.gather(*(worker() for _ in range(min(self.concurrency, len(requests)))))
        self._settle()
        return ReplayResult(
            requests=len(requests),
            endpoints=dict(sorted(self.endpoints.items())),
            noise=self.noise,
            known=self.known,
            errors=self.errors,
            seconds=time.perf_counter() - started,
            calls={"v3": self.v3_calls, "v4": self.v4_calls},
        )

    def _settle(self) -> None:
        """Apply the run's final noise to the mismatches found before it was learned."""
        for pending in self._pending:
            figures = self.endpoints[pending.endpoint]
            noise = self.noise.paths(pending.endpoint)
            real = [
                d for d in pending.differences if d.kind == "missing" or not covered(d.path, noise)
            ]
            if not real:
                figures.mismatches -= 1
                figures.noise += 1
                continue
            if len(figures.examples) < EXAMPLES_PER_ENDPOINT:
                figures.examples.append(
                    {
                        "path": pending.path,
                        "status": {"v3": pending.status[0], "v4": pending.status[1]},
                        "differences": [d.as_dict() for d in real[:DIFFS_PER_EXAMPLE]],
                        "more_differences": max(0, len(real) - DIFFS_PER_EXAMPLE),
                    }
                )
