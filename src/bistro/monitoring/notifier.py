"""Webhook notifications, sent by a background task so no request or evaluation waits on them.

The body is JSON with a Slack-compatible ``text`` field plus the structured ``alert``.
Failures are retried with exponential backoff (the sleep is injectable for tests); after the
last attempt the event is logged and dropped (it is still in the alert history table).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import structlog

log = structlog.get_logger("bistro.alerts")

Sleep = Callable[[float], Awaitable[None]]


class WebhookNotifier:
    def __init__(
        self,
        url: str | None,
        *,
        retries: int = 4,
        timeout: float = 5.0,
        backoff: float = 0.5,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        self.url = url
        self.retries = retries
        self.timeout = timeout
        self.backoff = backoff
        self.sleep = sleep
        self.delivered = 0
        self.failed = 0
        self._queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue(maxsize=1000)
        self._task: asyncio.Task[None] | None = None
        self._client: httpx.AsyncClient | None = None

    def start(self) -> None:
        if self.url and self._task is None:
            self._client = httpx.AsyncClient(timeout=self.timeout)
            self._task = asyncio.create_task(self._run(), name="bistro-alert-webhook")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    @property
    def queued(self) -> int:
        return self._queue.qsize()

    def notify(self, payload: dict[str, Any]) -> None:
        """Queue one event; never blocks. Without a URL, notifications are off."""
        if not self.url:
            return
        try:
            self._queue.put_nowait(payload)
        except asyncio.QueueFull:
            self.failed += 1
            log.warning("alert_webhook_queue_full", alert=payload.get("alert", {}).get("key"))

    async def wait_idle(self) -> None:
        """Wait until every queued event was delivered or given up on (for tests, shutdown)."""
        await self._queue.join()

    async def _run(self) -> None:
        while True:
            payload = await self._queue.get()
            try:
                await self._deliver(payload)
            finally:
                self._queue.task_done()

    async def _deliver(self, payload: dict[str, Any]) -> None:
        assert self._client is not None and self.url
        for attempt in range(self.retries + 1):
            try:
                response = await self._client.post(self.url, json=payload)
                if response.status_code < 400:
                    self.delivered += 1
                    return
                reason = f"HTTP {response.status_code}"
            except httpx.HTTPError as exc:
                reason = type(exc).__name__
            if attempt < self.retries:
                await self.sleep(min(30.0, self.backoff * 2**attempt))
        self.failed += 1
        log.warning(
            "alert_webhook_failed",
            reason=reason,
            attempts=self.retries + 1,
            alert=payload.get("alert", {}).get("key"),
        )
