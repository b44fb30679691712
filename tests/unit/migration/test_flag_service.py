"""FlagService against an in-memory repository (no database): rules of changing flags."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pytest

from bistro.core.clock import FakeClock
from bistro.core.errors import NotFound, ValidationFailed
from bistro.migration.flags import ROUTING_FLAGS, Flag, Stage, Version
from bistro.migration.models import FlagAudit, FlagOverride, FlagRow
from bistro.migration.service import FlagService


class MemoryFlagRepo:
    def __init__(self) -> None:
        self.rows: dict[str, FlagRow] = {}
        self.override_rows: dict[tuple[str, str], FlagOverride] = {}
        self.audits: list[FlagAudit] = []
        self.counter = 0

    async def flags(self, *, for_update: bool = False) -> Sequence[FlagRow]:
        return list(self.rows.values())

    async def flag(self, name: str, *, for_update: bool = False) -> FlagRow | None:
        return self.rows.get(name)

    async def save_flag(self, row: FlagRow) -> FlagRow:
        self.rows[row.name] = row
        return row

    async def overrides(self, flag: str | None = None) -> Sequence[FlagOverride]:
        return [o for (f, _), o in self.override_rows.items() if flag in (None, f)]

    async def override(self, flag: str, subject: str) -> FlagOverride | None:
        return self.override_rows.get((flag, subject))

    async def save_override(self, row: FlagOverride) -> None:
        self.override_rows[(row.flag, row.subject)] = row

    async def delete_override(self, row: FlagOverride) -> None:
        del self.override_rows[(row.flag, row.subject)]

    async def audit(
        self,
        flag: str,
        actor: str,
        action: str,
        old: dict[str, Any] | None,
        new: dict[str, Any] | None,
        reason: str,
        at: Any,
    ) -> None:
        self.audits.append(
            FlagAudit(
                flag=flag,
                actor=actor,
                action=action,
                old_value=old,
                new_value=new,
                reason=reason,
                at=at,
            )
        )

    async def history(self, flag: str | None, limit: int) -> Sequence[FlagAudit]:
        return [a for a in reversed(self.audits) if flag in (None, a.flag)][:limit]

    async def bump_version(self, at: Any) -> int:
        self.counter += 1
        return self.counter

    async def version(self) -> int:
        return self.counter


@pytest.fixture
def repo() -> MemoryFlagRepo:
    return MemoryFlagRepo()


@pytest.fixture
def service(repo: MemoryFlagRepo) -> FlagService:
    return FlagService(repo, FakeClock())


async def test_a_change_is_audited_and_counted(service: FlagService, repo: MemoryFlagRepo) -> None:
    changes = await service.set_flags(
        [Flag.REVIEWS], stage=Stage.PARTIAL, percentage="12.5", actor="ops", reason="canary"
    )
    assert [(c.old, c.new) for c in changes] == [
        ({"stage": "disabled", "percentage": 0.0}, {"stage": "partial", "percentage": 12.5})
    ]
    assert repo.counter == 1
    (audit,) = repo.audits
    assert (audit.actor, audit.action, audit.reason) == ("ops", "set", "canary")
    states = await service.states()
    assert (states[Flag.REVIEWS].stage, states[Flag.REVIEWS].percentage) == (Stage.PARTIAL, 12.5)
    assert states[Flag.REVIEWS].from_database and not states[Flag.USERS].from_database


async def test_repeating_a_change_writes_nothing(
    service: FlagService, repo: MemoryFlagRepo
) -> None:
    await service.set_flags([Flag.USERS], stage=Stage.FULL, percentage=None, actor="ops")
    again = await service.set_flags([Flag.USERS], stage=Stage.FULL, percentage=None, actor="ops")
    assert again == [] and len(repo.audits) == 1 and repo.counter == 1


async def test_rollback_disables_every_routing_flag_once(
    service: FlagService, repo: MemoryFlagRepo
) -> None:
    await service.set_flags(ROUTING_FLAGS, stage=Stage.PARTIAL, percentage=40, actor="ops")
    first = await service.rollback("ops", "errors")
    assert {c.flag for c in first} == set(ROUTING_FLAGS)
    assert await service.rollback("ops") == []
    states = await service.states()
    assert all(states[f].stage is Stage.DISABLED for f in ROUTING_FLAGS)
    assert states[Flag.ENABLED].stage is Stage.FULL


@pytest.mark.parametrize(
    ("stage", "percentage", "says"),
    [
        (Stage.PARTIAL, 150, "between 0 and 100"),
        (Stage.FULL, 50, "partial only"),
        (None, None, "Give a stage"),
        (Stage.PARTIAL, "1/3", "not a number"),
    ],
)
async def test_invalid_changes_are_refused(
    service: FlagService, repo: MemoryFlagRepo, stage: Stage | None, percentage: Any, says: str
) -> None:
    with pytest.raises(ValidationFailed, match=says):
        await service.set_flags([Flag.CACHE], stage=stage, percentage=percentage, actor="ops")
    assert repo.audits == [] and repo.counter == 0


async def test_overrides(service: FlagService, repo: MemoryFlagRepo) -> None:
    assert await service.set_override(Flag.USERS, " 42 ", Version.V4, "ops") is not None
    assert await service.set_override(Flag.USERS, "42", Version.V4, "ops") is None  # unchanged
    change = await service.set_override(Flag.USERS, "42", Version.V3, "ops")
    assert change is not None and change.old == {"subject": "42", "version": "v4"}
    assert (await service.states())[Flag.USERS].overrides == {"42": Version.V3}
    await service.remove_override(Flag.USERS, "42", "ops")
    with pytest.raises(NotFound):
        await service.remove_override(Flag.USERS, "42", "ops")
    with pytest.raises(ValidationFailed):
        await service.set_override(Flag.USERS, "x" * 129, Version.V4, "ops")
    assert [a.action for a in repo.audits] == ["override", "override", "override_removed"]
