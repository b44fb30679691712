"""Request bodies of the admin API (values are checked again by flags.parse_*)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class FlagUpdateIn(_Body):
    stage: str | None = Field(None, description="disabled|testing|partial|full|complete")
    percentage: float | None = Field(None, description="0-100, at most two decimals")
    reason: str | None = Field(None, max_length=500)


class OverrideIn(_Body):
    version: str = Field(description="v3 or v4")
    reason: str | None = Field(None, max_length=500)


class MigrationStepIn(_Body):
    flag: str | None = Field(None, description="One flag; omitted: every routing flag")
    percentage: float | None = Field(None, description="Required for partial")
    reason: str | None = Field(None, max_length=500)
    testers: list[str] = Field(
        default_factory=list, max_length=1000, description="Subjects pinned to v4 (testing stage)"
    )


class RollbackIn(_Body):
    reason: str | None = Field(None, max_length=500)
