"""Environment pins: operators' values that take precedence over the database.

``API_V4_<GROUP>=true|false`` pins the whole flag, ``API_V4_<GROUP>_ROLLOUT=<pct>`` pins a
partial rollout at that percentage, ``API_V4_<GROUP>_USER_<id>=true|false`` pins one subject.
``<GROUP>`` is the flag name without ``api_v4_`` (``RESTAURANTS``, ``CACHE``, ``ENABLED``...).
Any other ``API_V4_*`` variable, or a bad value, is an error naming the variable, raised at
start-up so a typo never silently does nothing.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from bistro.migration.flags import Flag, InvalidFlagValue, parse_bool, parse_percentage

PREFIX = "API_V4_"


class EnvPinError(ValueError):
    """A bad ``API_V4_*`` environment variable; the message names it."""


@dataclass(frozen=True)
class FlagPins:
    enabled: bool | None = None  # API_V4_<GROUP>
    rollout: float | None = None  # API_V4_<GROUP>_ROLLOUT
    users: dict[str, bool] = field(default_factory=dict)  # API_V4_<GROUP>_USER_<id>
    variables: tuple[str, ...] = ()  # names of the variables behind these pins

    @property
    def empty(self) -> bool:
        return self.enabled is None and self.rollout is None and not self.users


@dataclass(frozen=True)
class EnvPins:
    flags: dict[Flag, FlagPins] = field(default_factory=dict)

    def for_flag(self, flag: Flag) -> FlagPins:
        return self.flags.get(flag, _NO_PINS)


_NO_PINS = FlagPins()

# Longest names first, so API_V4_ENABLED is not read as a prefix of something longer.
_BY_ENV_NAME = sorted(Flag, key=lambda f: len(f.env_name), reverse=True)


def _match(name: str) -> tuple[Flag, str]:
    for flag in _BY_ENV_NAME:
        if name == flag.env_name:
            return flag, ""
        if name.startswith(flag.env_name + "_"):
            return flag, name[len(flag.env_name) + 1 :]
    known = ", ".join(f.env_name for f in Flag)
    raise EnvPinError(f"{name}: unknown flag variable; known flags: {known}")


def load_env_pins(environ: Mapping[str, str]) -> EnvPins:
    """Parse every ``API_V4_*`` variable; raise :class:`EnvPinError` naming the first bad one."""
    collected: dict[Flag, dict[str, object]] = {}
    for name in sorted(environ):
        if not name.startswith(PREFIX):
            continue
        value = environ[name]
        flag, rest = _match(name)
        entry = collected.setdefault(flag, {"users": {}, "variables": []})
        try:
            if rest == "":
                entry["enabled"] = parse_bool(value)
            elif rest == "ROLLOUT":
                entry["rollout"] = parse_percentage(value)
            elif rest.startswith("USER_") and len(rest) > len("USER_"):
                users = entry["users"]
                assert isinstance(users, dict)
                users[rest[len("USER_") :]] = parse_bool(value)
            else:
                raise EnvPinError(
                    f"{name}: unknown suffix {rest!r}; use {flag.env_name}, "
                    f"{flag.env_name}_ROLLOUT or {flag.env_name}_USER_<id>"
                )
        except InvalidFlagValue as exc:
            raise EnvPinError(f"{name}={value!r}: {exc}") from None
        variables = entry["variables"]
        assert isinstance(variables, list)
        variables.append(name)
    pins: dict[Flag, FlagPins] = {}
    for flag, entry in collected.items():
        enabled = entry.get("enabled")
        rollout = entry.get("rollout")
        users = entry["users"]
        variables = entry["variables"]
        assert isinstance(users, dict) and isinstance(variables, list)
        pins[flag] = FlagPins(
            enabled=enabled if isinstance(enabled, bool) else None,
            rollout=float(rollout) if isinstance(rollout, float) else None,
            users=dict(users),
            variables=tuple(variables),
        )
    return EnvPins(pins)
