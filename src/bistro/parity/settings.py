"""Parity settings (``BISTRO_PARITY_*``), validated when the app is built."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict


class ParitySettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="BISTRO_PARITY_", extra="ignore", frozen=True)

    # Shadow runs in flight at once per process, and how many may wait; a full queue drops
    # (and counts) new work rather than holding memory or slowing anything down.
    shadow_concurrency: int = Field(2, ge=1, le=64)
    shadow_queue: int = Field(100, ge=1, le=100_000)
    # A shadow run that takes longer is abandoned and counted as an error.
    shadow_timeout: float = Field(2.0, gt=0, le=60)
    # How often each process writes its counters and examples to the shared store.
    flush_interval: float = Field(5.0, ge=0.5, le=60)
    # Mismatch examples kept in the store (newest first), and differences kept per example.
    examples_kept: int = Field(200, ge=1, le=10_000)
    # Shadow reloads the noise the last replay saved this often (seconds).
    noise_refresh: float = Field(60.0, ge=1, le=3600)
    # JSON paths compared for presence only on every endpoint, as a comma-separated list:
    # BISTRO_PARITY_IGNORE='$.meta.generated_at,$.data[*].is_open_now'
    ignore: Annotated[tuple[str, ...], NoDecode] = ()
    retention_hours: float = Field(24.0, gt=0, le=24 * 90)

    @field_validator("ignore", mode="before")
    @classmethod
    def _paths(cls, value: object) -> object:
        if isinstance(value, str):
            value = tuple(p.strip() for p in value.split(",") if p.strip())
        if isinstance(value, list | tuple):
            for path in value:
                if not isinstance(path, str) or not path.startswith("$"):
                    raise ValueError(f"{path!r} is not a JSON path starting with '$'")
            return tuple(value)
        return value
