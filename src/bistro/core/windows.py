"""Time windows as operators type them (``30s``, ``5m``, ``2h``, ``1d``): the metrics, the status
and the rollout all read them the same way."""

from __future__ import annotations

import re

from bistro.core.errors import ValidationFailed

_WINDOW = re.compile(r"^([0-9]{1,6})([smhd]?)$")
_UNIT = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}
MAX_WINDOW = 7 * 86400


def parse_window(text: str) -> int:
    """``"5m"`` -> 300 seconds. Accepts s, m, h, d (bare numbers are seconds)."""
    match = _WINDOW.match(text.strip().lower())
    seconds = int(match.group(1)) * _UNIT[match.group(2)] if match else 0
    if not 1 <= seconds <= MAX_WINDOW:
        raise ValidationFailed(
            "window must look like 30s, 5m, 2h or 1d, between 1 second and 7 days",
            details={"fields": [{"field": "window", "message": f"bad value {text!r}"}]},
        )
    return seconds
