"""Changing flags: validation, the audit log and the change counter, in the caller's transaction.

The service depends on a repository interface only, so unit tests run it against a fake;
the CLI and the admin API open one unit of work per operation around it ("commit at the edge").
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from bistro.core.clock import Clock, SystemClock
from bistro.core.errors import NotFound, ValidationFailed
from bistro.migration.evaluation import FlagState
from bistro.migration.flags import (
    DESCRIPTIONS,
    ROUTING_FLAGS,
    Flag,
    InvalidFlagValue,
    Stage,
    Version,
    parse_percentage,
    parse_reason,
    parse_subject,
)
from bistro.migration.models import FlagAudit, FlagOverride, FlagRow


class FlagRepo(Protocol):
    async def flags(self, *, for_update: bool = False) -> Sequence[FlagRow]: ...
    async def flag(self, name: str, *, for_update: bool = False) -> FlagRow | None: ...
    async def save_flag(self, row: FlagRow) -> FlagRow: ...
    async def overrides(self, flag: str | None = None) -> Sequence[FlagOverride]: ...
    async def override(self, flag: str, subject: str) -> FlagOverride | None: ...
    async def save_override(self, row: FlagOverride) -> None: ...
    async def delete_override(self, row: FlagOverride) -> None: ...
    async def audit(
        self,
        flag: str,
        actor: str,
        action: str,
        old: dict[str, Any] | None,
        new: dict[str, Any] | None,
        reason: str,
        at: Any,
    ) -> None: ...
    async def history(self, flag: str | None, limit: int) -> Sequence[FlagAudit]: ...
    async def bump_version(self, at: Any) -> int: ...
    async def version(self) -> int: ...


# Stages other than partial imply their percentage, so status never shows "full at 30 %".
_IMPLIED_PERCENTAGE = {
    Stage.DISABLED: 0.0,
    Stage.TESTING: 0.0,
    Stage.FULL: 100.0,
    Stage.COMPLETE: 100.0,
}


@dataclass(frozen=True)
class Change:
    flag: Flag
    old: dict[str, Any]
    new: dict[str, Any]


def _value(stage: Stage | str, percentage: float) -> dict[str, Any]:
    return {"stage": str(stage), "percentage": percentage}


def _invalid(exc: InvalidFlagValue) -> ValidationFailed:
    return ValidationFailed(str(exc), code="INVALID_FLAG_VALUE")


class FlagService:
    def __init__(self, repo: FlagRepo, clock: Clock | None = None) -> None:
        self.repo = repo
        self.clock = clock or SystemClock()

    async def states(self) -> dict[Flag, FlagState]:
        """Every flag as the database says (defaults for missing rows), with its overrides."""
        overrides: dict[str, dict[str, Version]] = {}
        for o in await self.repo.overrides():
            overrides.setdefault(o.flag, {})[o.subject] = Version(o.version)
        states = {flag: FlagState.default(flag) for flag in Flag}
        for row in await self.repo.flags():
            try:
                flag = Flag(row.name)
            except ValueError:  # a row for a flag this version no longer knows: ignored
                continue
            states[flag] = FlagState(
                flag,
                Stage(row.stage),
                float(row.percentage),
                row.description,
                row.updated_at,
                row.updated_by,
                True,
            )
        for flag in Flag:
            if flag.value in overrides:
                s = states[flag]
                states[flag] = FlagState(
                    s.flag,
                    s.stage,
                    s.percentage,
                    s.description,
                    s.updated_at,
                    s.updated_by,
                    s.from_database,
                    overrides[flag.value],
                )
        return states

    async def set_flags(
        self,
        flags: Iterable[Flag],
        *,
        stage: Stage | None,
        percentage: float | str | None,
        actor: str,
        reason: str | None = None,
        action: str = "set",
    ) -> list[Change]:
        """Set stage and/or percentage of several flags at once (one transaction: the caller's).

        A percentage without a stage means ``partial``; other stages imply their percentage.
        Unchanged flags write nothing, so repeating an operation is harmless.
        """
        try:
            why = parse_reason(reason)
            pct = None if percentage is None else parse_percentage(percentage)
        except InvalidFlagValue as exc:
            raise _invalid(exc) from None
        if stage is None and pct is None:
            raise ValidationFailed("Give a stage, a percentage or both", code="INVALID_FLAG_VALUE")
        target_stage = stage if stage is not None else Stage.PARTIAL
        implied = _IMPLIED_PERCENTAGE.get(target_stage)
        if implied is not None and pct is not None and pct != implied:
            raise ValidationFailed(
                f"percentage applies to stage partial only; stage {target_stage.value} "
                f"means {implied:g} %",
                code="INVALID_FLAG_VALUE",
            )
        now = self.clock.now()
        changes: list[Change] = []
        for flag in flags:
            row = await self.repo.flag(flag.value, for_update=True)
            if row is None:
                default = FlagState.default(flag)
                row = FlagRow(
                    name=flag.value,
                    stage=default.stage.value,
                    percentage=default.percentage,
                    description=DESCRIPTIONS[flag],
                )
            old = _value(row.stage, float(row.percentage))
            if target_stage is Stage.PARTIAL:
                new_pct = pct if pct is not None else float(row.percentage)
            else:
                new_pct = _IMPLIED_PERCENTAGE[target_stage]
            new = _value(target_stage, new_pct)
            if old == new:
                continue
            row.stage, row.percentage = target_stage.value, new_pct
            row.updated_at, row.updated_by = now, actor[:120]
            row.description = row.description or DESCRIPTIONS[flag]
            await self.repo.save_flag(row)
            await self.repo.audit(flag.value, actor[:120], action, old, new, why, now)
            changes.append(Change(flag, old, new))
        if changes:
            await self.repo.bump_version(now)
        return changes

    async def rollback(self, actor: str, reason: str | None = None) -> list[Change]:
        """Every routing flag to ``disabled``: everyone on v3. Idempotent."""
        return await self.set_flags(
            ROUTING_FLAGS,
            stage=Stage.DISABLED,
            percentage=None,
            actor=actor,
            reason=reason or "rollback",
            action="rollback",
        )

    async def set_override(
        self, flag: Flag, subject: str, version: Version, actor: str, reason: str | None = None
    ) -> Change | None:
        try:
            subject, why = parse_subject(subject), parse_reason(reason)
        except InvalidFlagValue as exc:
            raise _invalid(exc) from None
        now = self.clock.now()
        row = await self.repo.override(flag.value, subject)
        old = {"subject": subject, "version": row.version} if row else None
        if row is not None and row.version == version.value:
            return None
        if row is None:
            row = FlagOverride(
                flag=flag.value,
                subject=subject,
                version=version.value,
                reason=why,
                created_by=actor[:120],
                created_at=now,
            )
        else:
            row.version, row.reason, row.created_by, row.created_at = (
                version.value,
                why,
                actor[:120],
                now,
            )
        await self.repo.save_override(row)
        new = {"subject": subject, "version": version.value}
        await self.repo.audit(flag.value, actor[:120], "override", old, new, why, now)
        await self.repo.bump_version(now)
        return Change(flag, old or {}, new)

    async def remove_override(
        self, flag: Flag, subject: str, actor: str, reason: str | None = None
    ) -> Change:
        try:
            subject, why = parse_subject(subject), parse_reason(reason)
        except InvalidFlagValue as exc:
            raise _invalid(exc) from None
        row = await self.repo.override(flag.value, subject)
        if row is None:
            raise NotFound(
                f"No override of {flag.value} for subject {subject!r}", code="OVERRIDE_NOT_FOUND"
            )
        now = self.clock.now()
        old = {"subject": subject, "version": row.version}
        await self.repo.delete_override(row)
        await self.repo.audit(flag.value, actor[:120], "override_removed", old, None, why, now)
        await self.repo.bump_version(now)
        return Change(flag, old, {})

    async def overrides(self, flag: Flag | None = None) -> Sequence[FlagOverride]:
        return await self.repo.overrides(flag.value if flag else None)

    async def history(self, flag: Flag | None = None, limit: int = 50) -> Sequence[FlagAudit]:
        if not 1 <= limit <= 1000:
            raise ValidationFailed("limit must be between 1 and 1000", code="INVALID_LIMIT")
        return await self.repo.history(flag.value if flag else None, limit)
