"""A small incremental parser for RESP2 replies (what a Redis pub/sub connection receives)."""

from __future__ import annotations

from typing import Any


class RedisReplyError(Exception):
    """Redis answered ``-ERR ...``."""


class _Incomplete(Exception):
    pass


def encode_command(*parts: str | bytes) -> bytes:
    out = [b"*%d\r\n" % len(parts)]
    for part in parts:
        data = part.encode() if isinstance(part, str) else part
        out.append(b"$%d\r\n%s\r\n" % (len(data), data))
    return b"".join(out)


class RespParser:
    def __init__(self) -> None:
        self._buf = bytearray()

    def feed(self, data: bytes) -> None:
        self._buf += data

    def replies(self) -> list[Any]:
        """Every complete reply received so far (errors as :class:`RedisReplyError` values)."""
        out: list[Any] = []
        pos = 0
        while pos < len(self._buf):
            try:
                value, pos = self._parse(pos)
            except _Incomplete:
                break
            out.append(value)
        del self._buf[:pos]
        return out

    def _line(self, pos: int) -> tuple[bytes, int]:
        end = self._buf.find(b"\r\n", pos)
        if end < 0:
            raise _Incomplete
        return bytes(self._buf[pos:end]), end + 2

    def _parse(self, pos: int) -> tuple[Any, int]:
        if pos >= len(self._buf):
            raise _Incomplete
        kind = self._buf[pos : pos + 1]
        line, pos = self._line(pos + 1)
        if kind == b"+":
            return line, pos
        if kind == b"-":
            return RedisReplyError(line.decode(errors="replace")), pos
        if kind == b":":
            return int(line), pos
        if kind == b"$":
            size = int(line)
            if size < 0:
                return None, pos
            if len(self._buf) < pos + size + 2:
                raise _Incomplete
            return bytes(self._buf[pos : pos + size]), pos + size + 2
        if kind in (b"*", b">"):
            count = int(line)
            items: list[Any] = []
            for _ in range(max(count, 0)):
                item, pos = self._parse(pos)
                items.append(item)
            return (items if count >= 0 else None), pos
        raise ValueError(f"unexpected RESP type byte {kind!r}")
