"""A rollout's configuration: what the operator chose, validated once, stored with the rollout.

The same fields come from ``bistro rollout start`` options (field names with dashes), a TOML
file (``--config``: the field names, or a ``[rollout]`` table of them) and the admin API's JSON
body. Durations take ``30s``, ``5m``, ``2h``, ``1d`` or bare seconds and are stored in seconds.
"""

from __future__ import annotations

import math
import re
import tomllib
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

_DURATION = re.compile(r"^([0-9]+(?:\.[0-9]+)?)\s*([smhd]?)$")
_UNIT = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}
MAX_DURATION = 90 * 86400

DURATION_FIELDS = (
    "increment_interval",
    "monitoring_period",
    "evaluation_interval",
    "progress_deadline",
)


class InvalidRolloutConfig(ValueError):
    """A configuration value an operator gave is not acceptable; the message says why."""


def parse_duration(value: Any, name: str = "duration") -> float:
    """``"5m"`` -> 300.0. Numbers are seconds; anything else is refused with the reason."""
    if isinstance(value, bool):
        raise InvalidRolloutConfig(f"{name}: {value!r} is not a duration")
    if isinstance(value, int | float):
        seconds = float(value)
    else:
        match = _DURATION.match(str(value).strip().lower())
        if match is None:
            raise InvalidRolloutConfig(
                f"{name}: {value!r} is not a duration (use 30s, 5m, 2h or 1d)"
            )
        seconds = float(match.group(1)) * _UNIT[match.group(2)]
    if not math.isfinite(seconds) or not 0 < seconds <= MAX_DURATION:
        raise InvalidRolloutConfig(f"{name}: {value!r} must be more than 0 and at most 90 days")
    return seconds


def format_duration(seconds: float) -> str:
    """300 -> ``5m``: the shortest exact spelling, for status and reports."""
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size and seconds % size == 0:
            return f"{int(seconds // size)}{unit}"
    return f"{seconds:g}s"


def parse_steps(value: Any) -> list[float]:
    """``"1,5,10,25,50,100"`` or a list -> strictly increasing percentages in (0, 100]."""
    if value is None:
        return []
    items = value.split(",") if isinstance(value, str) else list(value)
    steps: list[float] = []
    for item in items:
        text = str(item).strip()
        if not text:
            continue
        try:
            number = float(text)
        except ValueError:
            raise InvalidRolloutConfig(f"steps: {text!r} is not a number") from None
        if not math.isfinite(number) or not 0 < number <= 100 or round(number, 2) != number:
            raise InvalidRolloutConfig(
                f"steps: {text!r} must be above 0, at most 100, with at most two decimals"
            )
        if steps and number <= steps[-1]:
            raise InvalidRolloutConfig("steps must be strictly increasing")
        steps.append(number)
    return steps


class RolloutConfig(BaseModel):
    """Validated and frozen; ``plan()`` gives the percentages the rollout walks through."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    initial_percentage: float = Field(5.0, gt=0, le=100)
    increment_percentage: float = Field(10.0, gt=0, le=100)
    steps: list[float] = Field(default_factory=list)
    max_percentage: float = Field(100.0, gt=0, le=100)
    increment_interval: float = 24 * 3600.0
    monitoring_period: float = 2 * 3600.0
    evaluation_interval: float = 60.0
    auto_rollback_threshold: float = Field(5.0, gt=0, le=100)
    performance_degradation_threshold: float = Field(20.0, gt=0, le=1000)
    min_requests: int = Field(100, ge=1, le=10_000_000)
    failure_threshold: int = Field(3, ge=1, le=100)
    significance: float = Field(0.01, gt=0, lt=0.5)
    completion_windows: int = Field(2, ge=1, le=100)
    # None: twice increment_interval (resolved in the validator, so it is always a number).
    progress_deadline: float | None = None
    max_step_backs: int = Field(2, ge=0, le=100)
    enable_auto_increment: bool = True
    enable_auto_rollback: bool = True
    max_parity_mismatch_rate: float | None = Field(None, ge=0, le=1)
    dry_run: bool = False

    @field_validator(*DURATION_FIELDS, mode="before")
    @classmethod
    def _duration(cls, value: Any, info: Any) -> Any:
        if value is None:
            return None
        return parse_duration(value, info.field_name)

    @field_validator("steps", mode="before")
    @classmethod
    def _steps(cls, value: Any) -> list[float]:
        return parse_steps(value)

    @field_validator("initial_percentage", "increment_percentage", "max_percentage")
    @classmethod
    def _two_decimals(cls, value: float, info: Any) -> float:
        if round(value, 2) != value:
            raise ValueError(f"{value!r} has more than two decimals")
        return value

    @model_validator(mode="after")
    def _consistent(self) -> RolloutConfig:
        if self.progress_deadline is None:
            object.__setattr__(self, "progress_deadline", 2 * self.increment_interval)
        if self.steps:
            if self.steps[-1] > self.max_percentage:
                raise ValueError("the last step is above max_percentage")
        elif self.initial_percentage > self.max_percentage:
            raise ValueError("initial_percentage is above max_percentage")
        if self.evaluation_interval > self.increment_interval:
            raise ValueError("evaluation_interval is longer than increment_interval")
        return self

    @property
    def deadline(self) -> float:
        assert self.progress_deadline is not None  # set by the validator
        return self.progress_deadline

    def plan(self) -> list[float]:
        """Every percentage the rollout holds, in order, ending at ``max_percentage``."""
        if self.steps:
            steps = list(self.steps)
        else:
            steps = [self.initial_percentage]
            while steps[-1] < self.max_percentage:
                steps.append(round(min(steps[-1] + self.increment_percentage, 100.0), 2))
        steps = [min(s, self.max_percentage) for s in steps]
        if steps[-1] < self.max_percentage:
            steps.append(self.max_percentage)
        return sorted(set(steps))

    def to_dict(self) -> dict[str, Any]:
        return self.model_dump()

    def describe(self) -> dict[str, Any]:
        """For humans: durations spelled ``2h`` rather than 7200.0."""
        out = self.model_dump()
        for name in DURATION_FIELDS:
            out[name] = format_duration(out[name])
        out["plan"] = self.plan()
        return out


def build_config(values: dict[str, Any]) -> RolloutConfig:
    """A config from operator input; any problem is one :class:`InvalidRolloutConfig` line."""
    unknown = sorted(set(values) - set(RolloutConfig.model_fields))
    if unknown:
        raise InvalidRolloutConfig(
            f"unknown setting {unknown[0].replace('_', '-')!r}; known: "
            + ", ".join(name.replace("_", "-") for name in RolloutConfig.model_fields)
        )
    try:
        return RolloutConfig(**{k: v for k, v in values.items() if v is not None})
    except InvalidRolloutConfig:
        raise
    except ValidationError as exc:
        raise InvalidRolloutConfig(_first_error(exc)) from None


def load_config_file(path: Path) -> dict[str, Any]:
    """The settings in a TOML file: top-level keys or a ``[rollout]`` table (dashes allowed)."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise InvalidRolloutConfig(f"cannot read {path}: {exc.strerror or exc}") from None
    except tomllib.TOMLDecodeError as exc:
        raise InvalidRolloutConfig(f"{path} is not valid TOML: {exc}") from None
    table = data.get("rollout", data)
    if not isinstance(table, dict):
        raise InvalidRolloutConfig(f"{path}: [rollout] must be a table")
    return {str(key).replace("-", "_"): value for key, value in table.items()}


def _first_error(exc: ValidationError) -> str:
    err = exc.errors()[0]
    where = ".".join(str(part) for part in err.get("loc", ())).replace("_", "-")
    message = str(err.get("msg", "invalid")).replace("Value error, ", "")
    cause = err.get("ctx", {}).get("error")
    if isinstance(cause, InvalidRolloutConfig):
        return str(cause)
    return f"{where}: {message}" if where else message
