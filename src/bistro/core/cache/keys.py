"""Cache keys and tags.

A key is a namespace plus the *values* of every argument that shapes the response, each
named (``limit=20`` and ``offset=20`` never collide, and neither do two calls whose values
swap places). Values are normalised before hashing: pydantic models by their validated
JSON form, sets in sorted order, mapping keys sorted. Tags name what a write invalidates.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from typing import Any

import orjson

# Bump when the cached body format changes, so a deploy never serves the old shape.
FORMAT_VERSION = "1"

# Every entry carries this tag: bumping it invalidates everything (user deletion, outages).
ALL = "*"


_SCALARS = (str, int, float, bool, type(None))


def _normal(value: Any) -> Any:
    kind = type(value)
    if kind in _SCALARS:
        return value
    if kind is list or kind is tuple:
        return [_normal(v) for v in value]
    if kind is dict:
        return {str(k): _normal(v) for k, v in sorted(value.items(), key=lambda kv: str(kv[0]))}
    if kind is set or kind is frozenset:
        return sorted((_normal(v) for v in value), key=repr)
    dump = getattr(value, "model_dump", None)
    if callable(dump):
        return _normal(dump(mode="json"))
    if isinstance(value, Mapping):
        return {str(k): _normal(v) for k, v in sorted(value.items(), key=lambda kv: str(kv[0]))}
    if isinstance(value, list | tuple):
        return [_normal(v) for v in value]
    return value  # dataclasses, datetimes, enums: orjson serialises them as they are


def make_key(namespace: str, *args: Any, **kwargs: Any) -> str:
    """``namespace:<digest of the normalised argument values>``."""
    if not namespace or ":" in namespace:
        raise ValueError("a cache namespace is a non-empty name without ':'")
    payload = orjson.dumps(
        [[_normal(a) for a in args], _normal(kwargs)],
        option=orjson.OPT_SORT_KEYS | orjson.OPT_NON_STR_KEYS,
    )
    if len(payload) <= 64:
        # Short keys stay readable (JSON starts with '[', so never equal to a digest).
        return f"{namespace}:{payload.decode()}"
    digest = hashlib.blake2b(payload, digest_size=16).hexdigest()
    return f"{namespace}:{digest}"


def normal_tags(tags: Iterable[str]) -> tuple[str, ...]:
    """Sorted, unique, always including :data:`ALL`."""
    return tuple(sorted({*tags, ALL}))
