"""The invalidation listener: one Redis pub/sub connection per process, on a raw socket.

Why not redis-py's PubSub: its messages are read by a task, so a request that hits L1 right
after another instance's write could run before that task is scheduled and serve a stale
body. Here the socket is non-blocking, read by the event loop's reader callback *and* drained
synchronously by :meth:`poll` before every L1 lookup (one ``recv`` that usually returns
EAGAIN, about a microsecond), so an invalidation that reached this host's socket is applied
before the lookup. While the connection is down the cache does not trust L1 at all.
"""

from __future__ import annotations

import asyncio
import contextlib
import select
import socket
from collections.abc import Awaitable, Callable
from urllib.parse import unquote, urlsplit

import structlog

from bistro.core.cache.resp import RedisReplyError, RespParser, encode_command

log = structlog.get_logger("bistro.cache")

Sleep = Callable[[float], Awaitable[None]]


class InvalidationSubscriber:
    def __init__(
        self,
        url: str,
        channel: str,
        on_message: Callable[[bytes], None],
        on_connected: Callable[[], Awaitable[None]],
        *,
        timeout: float,
        reconnect_delay: float = 1.0,
        sleep: Sleep = asyncio.sleep,
        warn: Callable[..., None] = log.warning,
    ) -> None:
        self._warn = warn
        self.channel = channel
        self.on_message = on_message
        self.on_connected = on_connected
        self.timeout = timeout
        self.reconnect_delay = reconnect_delay
        self._sleep = sleep
        self._sock: socket.socket | None = None
        self._poller: select.poll | None = None
        self._parser = RespParser()
        self._lost = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._closed = False
        self._ready = False
        # Connection losses and failed attempts so far: after any, a (re)connect means
        # invalidations may have been missed.
        self.outages = 0
        parts = urlsplit(url)
        self.supported = parts.scheme == "redis"
        self.host = parts.hostname or "127.0.0.1"
        self.port = parts.port or 6379
        self.username = unquote(parts.username) if parts.username else None
        self.password = unquote(parts.password) if parts.password else None

    @property
    def connected(self) -> bool:
        """Subscribed, and the cache has caught up with what it may have missed before."""
        return self._ready and self._sock is not None

    async def start(self) -> None:
        """Try once (bounded by the timeout), then keep reconnecting in the background."""
        if not self.supported:
            log.warning(
                "cache.subscriber_unsupported_url",
                reason="only redis:// URLs get L1 invalidation; L1 stays off",
            )
            return
        await self._connect_once()
        self._task = asyncio.create_task(self._keep_connected(), name="bistro-cache-subscriber")

    async def close(self) -> None:
        self._closed = True
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        self._drop()

    def poll(self) -> None:
        """Apply every invalidation already in the socket; never blocks."""
        sock, poller = self._sock, self._poller
        if sock is None:
            return
        if poller is not None and not poller.poll(0):
            return  # nothing arrived (one poll(2) call, cheaper than a failing recv)
        got = False
        while True:
            try:
                data = sock.recv(65536)
            except (BlockingIOError, InterruptedError):
                break
            except OSError:
                self._drop()
                return
            if not data:
                self._drop()
                return
            self._parser.feed(data)
            got = True
        if got:
            self._dispatch(self._parser.replies())

    def _dispatch(self, replies: list[object]) -> None:
        for reply in replies:
            if (
                isinstance(reply, list)
                and len(reply) == 3
                and reply[0] == b"message"
                and isinstance(reply[2], bytes)
            ):
                try:
                    self.on_message(reply[2])
                except Exception:  # a bad message must not kill the listener
                    log.exception("cache.bad_invalidation_message")

    def _drop(self) -> None:
        sock, self._sock = self._sock, None
        self._poller = None
        self._ready = False
        if sock is None:
            return
        with contextlib.suppress(RuntimeError, ValueError, OSError):
            asyncio.get_running_loop().remove_reader(sock.fileno())
        sock.close()
        self._parser = RespParser()
        self.outages += 1
        self._lost.set()

    async def _connect_once(self) -> bool:
        loop = asyncio.get_running_loop()
        sock: socket.socket | None = None
        try:
            async with asyncio.timeout(self.timeout):
                infos = await loop.getaddrinfo(self.host, self.port, type=socket.SOCK_STREAM)
                family, type_, proto, _, address = infos[0]
                sock = socket.socket(family, type_, proto)
                sock.setblocking(False)
                await loop.sock_connect(sock, address)
                commands = []
                if self.password is not None:
                    auth = [self.username, self.password] if self.username else [self.password]
                    commands.append(encode_command("AUTH", *auth))
                commands.append(encode_command("SUBSCRIBE", self.channel))
                await loop.sock_sendall(sock, b"".join(commands))
                parser = RespParser()
                leftover = await self._await_subscribed(loop, sock, parser)
        except (OSError, TimeoutError, RedisReplyError, ValueError) as exc:
            if sock is not None:
                sock.close()
            self._warn(
                "cache.subscriber_connect_failed", error=repr(exc), host=self.host, port=self.port
            )
            self.outages += 1
            self._lost.set()
            return False
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
        self._sock, self._parser = sock, parser
        self._poller = select.poll()
        self._poller.register(sock.fileno(), select.POLLIN)
        self._lost.clear()
        loop.add_reader(sock.fileno(), self.poll)
        self._dispatch(leftover)
        await self.on_connected()
        self._ready = self._sock is sock
        return True

    async def _await_subscribed(
        self, loop: asyncio.AbstractEventLoop, sock: socket.socket, parser: RespParser
    ) -> list[object]:
        while True:
            data = await loop.sock_recv(sock, 65536)
            if not data:
                raise ConnectionResetError("Redis closed the connection")
            parser.feed(data)
            replies = parser.replies()
            for i, reply in enumerate(replies):
                if isinstance(reply, RedisReplyError):
                    raise reply
                if isinstance(reply, list) and reply and reply[0] == b"subscribe":
                    return replies[i + 1 :]

    async def _keep_connected(self) -> None:
        while not self._closed:
            await self._lost.wait()
            if self._closed:
                return
            await self._sleep(self.reconnect_delay)
            if self._sock is None:
                await self._connect_once()
