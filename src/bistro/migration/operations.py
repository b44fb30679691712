"""The operator's verbs, shared by the CLI and the admin API (so both behave the same)."""

from __future__ import annotations

from typing import Any

from bistro.core.errors import ValidationFailed
from bistro.migration.flags import (
    ROUTING_FLAGS,
    Flag,
    InvalidFlagValue,
    Stage,
    Version,
    parse_flag,
)
from bistro.migration.models import FlagAudit, FlagOverride
from bistro.migration.service import Change, FlagService

MIGRATION_STEPS = ("testing", "partial", "full", "complete")


def target_flags(flag: str | None) -> list[Flag]:
    if flag is None:
        return list(ROUTING_FLAGS)
    try:
        return [parse_flag(flag)]
    except InvalidFlagValue as exc:
        raise ValidationFailed(str(exc), code="INVALID_FLAG_VALUE") from None


def one_flag(name: str) -> Flag:
    return target_flags(name)[0]


async def migration_step(
    service: FlagService,
    step: str,
    *,
    flag: str | None,
    percentage: float | str | None,
    actor: str,
    reason: str | None,
    testers: list[str] | None = None,
) -> list[Change]:
    """``migration testing|partial|full|complete`` on one flag, or every routing flag."""
    if step not in MIGRATION_STEPS:
        raise ValidationFailed(
            f"unknown step {step!r}; steps: {', '.join(MIGRATION_STEPS)}", code="INVALID_FLAG_VALUE"
        )
    if step == "partial" and percentage is None:
        raise ValidationFailed("partial needs a percentage (0-100)", code="INVALID_FLAG_VALUE")
    if step != "partial" and percentage is not None:
        raise ValidationFailed(f"{step} takes no percentage", code="INVALID_FLAG_VALUE")
    if testers and step != "testing":
        raise ValidationFailed("testers are added with the testing step", code="INVALID_FLAG_VALUE")
    flags = target_flags(flag)
    changes = await service.set_flags(
        flags,
        stage=Stage(step),
        percentage=percentage,
        actor=actor,
        reason=reason or f"migration {step}",
    )
    for subject in testers or []:
        for f in flags:
            change = await service.set_override(f, subject, Version.V4, actor, reason or "tester")
            if change is not None:
                changes.append(change)
    return changes


def change_view(change: Change) -> dict[str, Any]:
    return {"flag": change.flag.value, "old": change.old, "new": change.new}


def audit_view(row: FlagAudit) -> dict[str, Any]:
    return {
        "id": row.id,
        "flag": row.flag,
        "at": row.at,
        "actor": row.actor,
        "action": row.action,
        "old": row.old_value,
        "new": row.new_value,
        "reason": row.reason,
    }


def override_view(row: FlagOverride) -> dict[str, Any]:
    return {
        "flag": row.flag,
        "subject": row.subject,
        "version": row.version,
        "reason": row.reason,
        "created_by": row.created_by,
        "created_at": row.created_at,
    }
