"""The flags, their stages and the values an operator may set (CONVENTIONS item 9: typed flags).

Every value that enters the system (CLI, admin API, environment) goes through the parsers
here, so the three entry points reject the same things with the same message.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import StrEnum


class Flag(StrEnum):
    ENABLED = "api_v4_enabled"
    RESTAURANTS = "api_v4_restaurants"
    REVIEWS = "api_v4_reviews"
    USERS = "api_v4_users"
    STATISTICS = "api_v4_statistics"
    CACHE = "api_v4_cache"
    VALIDATION = "api_v4_validation"
    ERROR_HANDLING = "api_v4_error_handling"
    SHADOW = "api_v4_shadow"

    @property
    def env_name(self) -> str:
        """``API_V4_RESTAURANTS`` for ``api_v4_restaurants``: the environment pin's name."""
        return self.value.upper()


class Stage(StrEnum):
    DISABLED = "disabled"  # everyone on v3
    TESTING = "testing"  # only subjects overridden to v4 (the testers)
    PARTIAL = "partial"  # a sticky percentage on v4
    FULL = "full"  # everyone on v4, v3 kept for instant rollback
    COMPLETE = "complete"  # v4 for good


class Version(StrEnum):
    V3 = "v3"
    V4 = "v4"


# One routing flag per endpoint group; the master switch is ANDed with each of them.
ROUTING_FLAGS: tuple[Flag, ...] = (Flag.RESTAURANTS, Flag.REVIEWS, Flag.USERS, Flag.STATISTICS)
SUB_FEATURE_FLAGS: tuple[Flag, ...] = (Flag.CACHE, Flag.VALIDATION, Flag.ERROR_HANDLING)
GROUP_FLAGS: dict[str, Flag] = {
    "restaurants": Flag.RESTAURANTS,
    "reviews": Flag.REVIEWS,
    "users": Flag.USERS,
    "statistics": Flag.STATISTICS,
}

DESCRIPTIONS: dict[Flag, str] = {
    Flag.ENABLED: "Master switch: no stable-path request reaches v4 unless this is on for it",
    Flag.RESTAURANTS: "Route /api/restaurants... to v4",
    Flag.REVIEWS: "Route /api/reviews... to v4",
    Flag.USERS: "Route /api/auth, /api/users and /api/admin/users... to v4",
    Flag.STATISTICS: "Route /api/statistics to v4",
    Flag.CACHE: "v4 two-level cache (off: v4 reads bypass the cache)",
    Flag.VALIDATION: "v4 strict validation (off: input v4 rejects is served by v3's validation)",
    Flag.ERROR_HANDLING: "v4 structured error body (off: v4 renders v3's error body)",
    Flag.SHADOW: "Parity shadow sample: the version that did not answer a stable-path GET "
    "runs it too, after the response, and the two answers are compared",
}


@dataclass(frozen=True, slots=True)
class FlagDefault:
    stage: Stage
    percentage: float


# A fresh database: the master switch and the v4 sub-features on, every group still on v3.
DEFAULTS: dict[Flag, FlagDefault] = {
    Flag.ENABLED: FlagDefault(Stage.FULL, 100.0),
    **{flag: FlagDefault(Stage.DISABLED, 0.0) for flag in ROUTING_FLAGS},
    **{flag: FlagDefault(Stage.FULL, 100.0) for flag in SUB_FEATURE_FLAGS},
    # Shadowing costs a second execution per sampled request: off until an operator opts in.
    Flag.SHADOW: FlagDefault(Stage.DISABLED, 0.0),
}

MAX_SUBJECT_LENGTH = 128
MAX_REASON_LENGTH = 500


class InvalidFlagValue(ValueError):
    """A value an operator gave is not acceptable; the message says what is allowed."""


def _choices(values: object) -> str:
    return ", ".join(str(v) for v in values)  # type: ignore[attr-defined]


def parse_flag(value: str) -> Flag:
    try:
        return Flag(value.strip().lower())
    except ValueError:
        raise InvalidFlagValue(f"unknown flag {value!r}; known flags: {_choices(Flag)}") from None


def parse_stage(value: str) -> Stage:
    try:
        return Stage(value.strip().lower())
    except ValueError:
        raise InvalidFlagValue(f"unknown stage {value!r}; stages: {_choices(Stage)}") from None


def parse_version(value: str) -> Version:
    try:
        return Version(value.strip().lower())
    except ValueError:
        raise InvalidFlagValue(f"unknown version {value!r}; use v3 or v4") from None


def parse_percentage(value: float | int | str) -> float:
    """0-100, at most two decimals (``12.5`` is fine, ``150`` and ``nan`` are not)."""
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise InvalidFlagValue(f"percentage {value!r} is not a number") from None
    if not math.isfinite(number) or not 0 <= number <= 100:
        raise InvalidFlagValue(f"percentage {value!r} must be between 0 and 100")
    if round(number, 2) != number:
        raise InvalidFlagValue(f"percentage {value!r} has more than two decimals")
    return number


def parse_bool(value: str) -> bool:
    lowered = value.strip().lower()
    if lowered in ("true", "1", "yes", "on"):
        return True
    if lowered in ("false", "0", "no", "off"):
        return False
    raise InvalidFlagValue(f"{value!r} is not true or false")


def parse_subject(value: str) -> str:
    subject = value.strip()
    if not subject or len(subject) > MAX_SUBJECT_LENGTH or not subject.isprintable():
        raise InvalidFlagValue(
            f"subject must be 1-{MAX_SUBJECT_LENGTH} printable characters (a user id or client id)"
        )
    return subject


def parse_reason(value: str | None) -> str:
    reason = (value or "").strip()
    if len(reason) > MAX_REASON_LENGTH:
        raise InvalidFlagValue(f"reason is longer than {MAX_REASON_LENGTH} characters")
    return reason
