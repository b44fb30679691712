"""Everything a run asks the service besides the load: is it Bistro, what data does it hold,
is a rollout running, each instance's resources (detailed health) and cache counters.

These are a few requests a second at most, so httpx (simple, already a dependency) is fine here.
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass, field
from typing import Any

import httpx

from bistro.core.clock import Clock, SystemClock
from bistro.perf.loadgen import SYNTHETIC_HEADER, SYNTHETIC_TOKEN_HEADER, SYNTHETIC_VALUE, Sleep
from bistro.perf.plan import Corpus


class ProbeError(Exception):
    """The service cannot be measured (unreachable, not Bistro, no data)."""


class ServiceProbe:
    def __init__(self, base_url: str, token: str | None, *, timeout_s: float = 10.0) -> None:
        self.base_url = base_url.rstrip("/")
        headers = {SYNTHETIC_HEADER: SYNTHETIC_VALUE}
        if token:
            headers["Authorization"] = f"Bearer {token}"
            headers[SYNTHETIC_TOKEN_HEADER] = token
        self.client = httpx.AsyncClient(base_url=self.base_url, headers=headers, timeout=timeout_s)

    async def close(self) -> None:
        await self.client.aclose()

    async def _get(self, path: str, **params: Any) -> httpx.Response:
        return await self.client.get(path, params=params or None)

    async def identify(self) -> None:
        """Raise ProbeError unless a Bistro service answers at the base URL."""
        try:
            response = await self._get("/healthz")
        except httpx.HTTPError as exc:
            raise ProbeError(
                f"cannot reach {self.base_url}: {type(exc).__name__} {exc}".strip()
            ) from exc
        body = _json(response)
        data = body.get("data") if isinstance(body, dict) else None
        if (
            response.status_code != 200
            or "x-request-id" not in response.headers
            or not isinstance(data, dict)
            or data.get("status") != "ok"
        ):
            raise ProbeError(
                f"{self.base_url} is not a Bistro service "
                f"(GET /healthz answered {response.status_code} without Bistro's envelope)"
            )

    async def corpus(self) -> Corpus:
        rows: list[dict[str, Any]] = []
        for sort in ("rating", "newest"):
            response = await self._get("/api/v4/restaurants", limit=50, sort=sort)
            body = _json(response)
            if response.status_code != 200 or not isinstance(body.get("data"), list):
                raise ProbeError(
                    f"cannot list restaurants at {self.base_url}: {response.status_code}"
                )
            rows += [r for r in body["data"] if isinstance(r, dict)]
        unique = list({r["id"]: r for r in rows if "id" in r}.values())
        if not unique:
            raise ProbeError(f"{self.base_url} holds no restaurants: seed it first (bistro seed)")
        return Corpus.from_restaurants(unique)

    async def running_rollouts(self) -> list[str]:
        """The rollouts in state ``running``, from the migration status (needs an admin token;
        tolerates a service without a rollout section)."""
        try:
            response = await self._get("/api/v4/migration/status")
        except httpx.HTTPError:
            return []
        return running_rollouts(_json(response).get("data"))

    async def health(self) -> dict[str, Any] | None:
        """The detailed health's data (instance, process RSS/CPU), or None when refused."""
        try:
            response = await self._get("/api/v4/migration/health")
        except httpx.HTTPError:
            return None
        data = _json(response).get("data")
        return data if isinstance(data, dict) and "components" in data else None

    async def cache(self, flush: str | None = None) -> dict[str, Any] | None:
        """The answering instance's cache counters; flushes first (``all``/``local``) when
        asked. None when the token is not an admin's or the service predates the endpoint."""
        try:
            if flush is not None:
                response = await self.client.post(
                    "/api/v4/migration/cache/flush", params={"scope": flush}
                )
            else:
                response = await self._get("/api/v4/migration/cache")
        except httpx.HTTPError:
            return None
        data = _json(response).get("data")
        return data if response.status_code == 200 and isinstance(data, dict) else None


def running_rollouts(status: Any) -> list[str]:
    """``rollout.rollouts[*]`` in state ``running`` of a migration status, described."""
    rollout = status.get("rollout") if isinstance(status, dict) else None
    rollouts = rollout.get("rollouts") if isinstance(rollout, dict) else None
    if not isinstance(rollouts, list):
        return []
    out = []
    for r in rollouts:
        if isinstance(r, dict) and r.get("state") == "running":
            name = str(r.get("flag") or r.get("id") or "?")
            at = r.get("percentage")
            out.append(f"{name} (at {at:g} %)" if isinstance(at, int | float) else name)
    return out


def _json(response: httpx.Response) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


@dataclass
class ResourceSample:
    at_s: float
    phase: str
    instance: str
    rss_bytes: int | None
    cpu_percent: float | None


@dataclass
class ResourceMonitor:
    """Polls the detailed health before, during (every ``interval_s``) and after the run."""

    probe: ServiceProbe
    interval_s: float = 1.0
    clock: Clock = field(default_factory=SystemClock)
    sleep: Sleep = asyncio.sleep
    samples: list[ResourceSample] = field(default_factory=list)
    refused: bool = False
    _started: float = 0.0
    _task: asyncio.Task[None] | None = None

    async def sample(self, phase: str) -> None:
        data = await self.probe.health()
        if data is None:
            self.refused = True
            return
        process = data.get("components", {}).get("process", {})
        self.samples.append(
            ResourceSample(
                at_s=round(self.clock.monotonic() - self._started, 3),
                phase=phase,
                instance=str(data.get("instance") or "?"),
                rss_bytes=process.get("rss_bytes"),
                cpu_percent=process.get("cpu_percent"),
            )
        )

    async def start(self) -> None:
        self._started = self.clock.monotonic()
        await self.sample("before")
        self._task = asyncio.create_task(self._loop())

    async def _loop(self) -> None:
        while True:
            await self.sleep(self.interval_s)
            await self.sample("during")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        await self.sample("after")

    def summary(self) -> dict[str, Any]:
        """Per instance: RSS before/max during/after, CPU mean and max during."""
        out: dict[str, Any] = {}
        for instance in dict.fromkeys(s.instance for s in self.samples):
            mine = [s for s in self.samples if s.instance == instance]
            rss = {
                phase: [s.rss_bytes for s in mine if s.phase == phase and s.rss_bytes is not None]
                for phase in ("before", "during", "after")
            }
            cpu = [s.cpu_percent for s in mine if s.phase == "during" and s.cpu_percent is not None]
            out[instance] = {
                "rss_before_bytes": rss["before"][0] if rss["before"] else None,
                "rss_max_during_bytes": max(rss["during"]) if rss["during"] else None,
                "rss_after_bytes": rss["after"][-1] if rss["after"] else None,
                "cpu_mean_percent": round(sum(cpu) / len(cpu), 1) if cpu else None,
                "cpu_max_percent": max(cpu) if cpu else None,
                "samples": [
                    {"at_s": s.at_s, "phase": s.phase, "rss": s.rss_bytes, "cpu": s.cpu_percent}
                    for s in mine
                ],
            }
        return out
