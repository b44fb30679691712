"""Personal values out of mismatch examples before they are stored or shown."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import parse_qsl, urlencode

REDACTED = "<redacted>"
# Keys whose values are personal: addresses, people's names, what they wrote, secrets.
PERSONAL_KEYS = frozenset({"email", "display_name", "text", "token", "password"})
# Query parameters that may carry what a person typed.
PERSONAL_PARAMS = frozenset({"q", "email"})
_LAST_KEY = re.compile(r'(?:\.([A-Za-z_][A-Za-z0-9_]*)|\["((?:[^"\\]|\\.)*)"\])$')


def redact_value(value: Any) -> Any:
    if isinstance(value, dict):
        return {
            k: REDACTED if k in PERSONAL_KEYS and v is not None else redact_value(v)
            for k, v in value.items()
        }
    if isinstance(value, list):
        return [redact_value(v) for v in value]
    return value


def redact_difference(diff: dict[str, Any]) -> dict[str, Any]:
    """A difference (``Difference.as_dict()``) with personal values replaced."""
    match = _LAST_KEY.search(diff["path"])
    key = match and (match.group(1) or match.group(2))
    out = dict(diff)
    for side in ("v3", "v4"):
        if key in PERSONAL_KEYS and out[side] is not None:
            out[side] = REDACTED
        else:
            out[side] = redact_value(out[side])
    return out


def redact_query(query: str) -> str:
    pairs = parse_qsl(query, keep_blank_values=True)
    return urlencode([(k, REDACTED if k in PERSONAL_PARAMS else v) for k, v in pairs])
