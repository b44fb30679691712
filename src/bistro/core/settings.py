"""Settings, read from the environment (prefix ``BISTRO_``) and validated at start-up.

Split into sections so each part of the app only sees what it needs. A bad value fails fast
with pydantic's message naming the variable.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Literal

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_SQLITE_URL = "sqlite+aiosqlite:///./bistro.db"


class _Section(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="BISTRO_", extra="ignore", frozen=True)


class ServerSettings(_Section):
    host: str = "127.0.0.1"
    port: int = Field(5000, ge=1, le=65535)
    workers: int = Field(1, ge=1, le=64)
    demo: bool = False
    log_format: Literal["auto", "json", "console"] = "auto"
    log_level: Literal["debug", "info", "warning", "error"] = "info"
    max_body_bytes: int = Field(1_048_576, ge=1024)
    timezone: str = "UTC"

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(
                f"unknown time zone {value!r} (use an IANA name like Europe/Lisbon)"
            ) from None
        return value


class DatabaseSettings(_Section):
    model_config = SettingsConfigDict(env_prefix="BISTRO_DATABASE_", extra="ignore", frozen=True)

    url: str = DEFAULT_SQLITE_URL
    # Connections kept open per process. SQLAlchemy closes an overflow connection as soon as
    # it is returned while pool_size sit idle, so a pool smaller than the usual concurrency
    # reconnects all the time (measured: a quarter of the CPU of an uncached detail request
    # went to connecting at 32 concurrent clients with 10 + 10). Overflow is for bursts.
    pool_size: int = Field(20, ge=1, le=200)
    max_overflow: int = Field(10, ge=0, le=200)
    echo: bool = False

    @field_validator("url")
    @classmethod
    def _async_driver(cls, value: str) -> str:
        # Accept the plain URLs operators type and pick the async driver for them.
        if value.startswith("postgres://"):
            value = "postgresql://" + value[len("postgres://") :]
        if value.startswith("postgresql://"):
            value = "postgresql+asyncpg://" + value[len("postgresql://") :]
        if value.startswith("sqlite:///"):
            value = "sqlite+aiosqlite:///" + value[len("sqlite:///") :]
        if not (
            value.startswith("postgresql+asyncpg://") or value.startswith("sqlite+aiosqlite://")
        ):
            raise ValueError("must be a postgresql:// or sqlite:/// URL")
        return value

    @property
    def is_sqlite(self) -> bool:
        return self.url.startswith("sqlite")


class CacheSettings(_Section):
    model_config = SettingsConfigDict(env_prefix="BISTRO_CACHE_", extra="ignore", frozen=True)

    # BISTRO_CACHE_ENABLED=false turns the v4 cache off (benchmarks measure uncached v4 so).
    enabled: bool = True
    redis_url: str | None = Field(None, validation_alias="BISTRO_REDIS_URL")
    l1_max_entries: int = Field(10_000, ge=0)
    # Redis must never make a request slow: short timeouts, then fail open.
    redis_socket_timeout: float = Field(0.25, gt=0, le=10)
    # After a Redis failure, skip Redis for this long instead of paying the timeout again.
    redis_breaker_seconds: float = Field(5.0, ge=0, le=300)
    # Every Redis key and the invalidation channel start with this (one prefix per deployment).
    key_prefix: str = Field("bistro", min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.:-]+$")
    ttl_restaurants: int = 30 * 60
    ttl_reviews: int = 15 * 60
    ttl_users: int = 60 * 60
    ttl_statistics: int = 5 * 60


class AuthSettings(_Section):
    model_config = SettingsConfigDict(env_prefix="BISTRO_AUTH_", extra="ignore", frozen=True)

    token_ttl_hours: int = Field(24, ge=1, le=24 * 90)
    # argon2id parameters; the defaults are OWASP's minimum (m=19 MiB, t=2, p=1).
    argon2_memory_kib: int = Field(19_456, ge=19_456)
    argon2_time_cost: int = Field(2, ge=2)
    argon2_parallelism: int = Field(1, ge=1)


class MonitoringSettings(_Section):
    model_config = SettingsConfigDict(env_prefix="BISTRO_MONITORING_", extra="ignore", frozen=True)

    # The background flush/alert loop (tests drive it by hand with a fake clock).
    enabled: bool = True
    # The per-request metrics middleware; off only to measure what it costs.
    request_metrics: bool = True
    # Each process flushes its local counters to the shared store this often (seconds).
    flush_interval: float = Field(5.0, ge=0.5, le=60)
    retention_hours: float = Field(24.0, gt=0, le=24 * 90)
    access_log: bool = True
    alert_interval: float = Field(15.0, ge=1, le=3600)
    alert_window_seconds: int = Field(300, ge=10, le=86_400)
    alert_min_samples: int = Field(50, ge=1)
    alert_error_rate: float = Field(0.05, gt=0, le=1)
    alert_p95_seconds: float = Field(1.0, gt=0)
    alert_cpu_percent: float = Field(80.0, gt=0, le=100)
    alert_memory_percent: float = Field(80.0, gt=0, le=100)
    alert_cache_hit_floor: float = Field(0.5, ge=0, le=1)
    alert_cache_min_lookups: int = Field(100, ge=1)
    alert_webhook_url: str | None = Field(None, validation_alias="BISTRO_ALERT_WEBHOOK_URL")
    alert_webhook_retries: int = Field(4, ge=0, le=10)
    alert_webhook_timeout: float = Field(5.0, gt=0, le=60)


class FlagSettings(_Section):
    """The migration flags' runtime (the flags themselves live in the database and API_V4_*)."""

    model_config = SettingsConfigDict(env_prefix="BISTRO_FLAGS_", extra="ignore", frozen=True)

    # How often each instance checks the one-row change counter (propagation bound).
    poll_interval: float = Field(0.25, ge=0.02, le=5)
    # Bearer token digest -> user id, for choosing the router's subject without a query.
    token_cache_ttl: float = Field(30.0, ge=0, le=3600)
    token_cache_size: int = Field(10_000, ge=0, le=1_000_000)
    # "Recent" stable-path traffic shown in status.
    served_window_seconds: int = Field(300, ge=10, le=86_400)


class RolloutSettings(_Section):
    """The rollout controller's runtime (each rollout's own configuration is in the database)."""

    model_config = SettingsConfigDict(env_prefix="BISTRO_ROLLOUT_", extra="ignore", frozen=True)

    # Run the controller loop inside `bistro serve` (one instance at a time holds the lease).
    controller: bool = True
    # A dead holder's lease is taken over by another instance within this many seconds.
    lease_seconds: float = Field(15.0, ge=1, le=600)
    # The loop's longest sleep; rollouts are evaluated at their own evaluation_interval.
    tick_seconds: float = Field(1.0, ge=0.05, le=60)
    # Each instance reports in (pins, drills allowed) this often.
    heartbeat_seconds: float = Field(5.0, ge=0.5, le=300)
    # Written as JSON on every change when set.
    status_file: str | None = None
    # Fault drills (`bistro drill`) are applied only by instances started with this on.
    allow_fault_injection: bool = Field(False, validation_alias="BISTRO_ALLOW_FAULT_INJECTION")
    # How often an instance that allows drills looks for active ones.
    drill_poll_seconds: float = Field(0.5, ge=0.05, le=60)


class Settings:
    """All sections together; build with :func:`get_settings` (cached) or directly in tests."""

    def __init__(
        self,
        server: ServerSettings | None = None,
        database: DatabaseSettings | None = None,
        cache: CacheSettings | None = None,
        auth: AuthSettings | None = None,
        monitoring: MonitoringSettings | None = None,
        flags: FlagSettings | None = None,
        rollout: RolloutSettings | None = None,
    ) -> None:
        self.server = server or ServerSettings()
        self.database = database or DatabaseSettings()
        self.cache = cache or CacheSettings()
        self.auth = auth or AuthSettings()
        self.monitoring = monitoring or MonitoringSettings()
        self.flags = flags or FlagSettings()
        self.rollout = rollout or RolloutSettings()


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
