"""v3's own input checks: query strings and bodies read by hand, bad values are a 400."""

from __future__ import annotations

import math
from typing import Any

from bistro.core.errors import BadRequest

MAX_ID = 2**31 - 1
MAX_LIMIT = 50
MAX_OFFSET = 1_000_000
_TRUE = {"true", "1", "yes", "on"}
_FALSE = {"false", "0", "no", "off"}


def bad(name: str, why: str) -> BadRequest:
    return BadRequest(f"Invalid parameter '{name}': {why}")


def as_int(name: str, value: Any, lo: int, hi: int) -> int:
    if isinstance(value, bool):
        raise bad(name, "must be an integer")
    if isinstance(value, str):
        text = value.strip()
        digits = text.removeprefix("-")
        # ASCII digits only: str.isdigit() also takes '³' and other digits int() refuses.
        if not (digits.isascii() and digits.isdigit()) or len(text) > 12:
            raise bad(name, "must be an integer")
        value = int(text)
    if not isinstance(value, int):
        raise bad(name, "must be an integer")
    if not lo <= value <= hi:
        raise bad(name, f"must be between {lo} and {hi}")
    return value


def as_float(name: str, value: Any, lo: float, hi: float) -> float:
    if isinstance(value, bool):
        raise bad(name, "must be a number")
    if isinstance(value, str):
        try:
            value = float(value.strip())
        except ValueError as exc:
            raise bad(name, "must be a number") from exc
    if not isinstance(value, int | float) or not math.isfinite(value):
        raise bad(name, "must be a number")
    if not lo <= value <= hi:
        raise bad(name, f"must be between {lo:g} and {hi:g}")
    return float(value)


def as_bool(name: str, value: str) -> bool:
    text = value.strip().lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise bad(name, "must be true or false")


def as_id(name: str, value: str) -> int:
    return as_int(name, value, 1, MAX_ID)


def as_text(name: str, value: Any, lo: int, hi: int, *, strip: bool = True) -> str:
    if not isinstance(value, str):
        raise bad(name, "must be a string")
    if "\x00" in value:
        raise bad(name, "must not contain NUL characters")
    text = value.strip() if strip else value
    if not lo <= len(text) <= hi:
        raise bad(name, f"must be {lo} to {hi} characters")
    return text


def page(limit: str | None, offset: str | None) -> tuple[int, int]:
    return (
        as_int("limit", limit, 1, MAX_LIMIT) if limit is not None else 20,
        as_int("offset", offset, 0, MAX_OFFSET) if offset is not None else 0,
    )


def choice(name: str, value: str | None, allowed: tuple[str, ...], default: str) -> str:
    if value is None:
        return default
    if value not in allowed:
        raise bad(name, f"must be one of {', '.join(allowed)}")
    return value
