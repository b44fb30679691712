"""UserService.delete takes the user's reviews out of the aggregates before the row goes."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest

from bistro.core.errors import Forbidden
from bistro.core.security import PasswordHashing
from bistro.core.settings import AuthSettings
from bistro.users.models import User
from bistro.users.service import Principal, UserService


class Recorder:
    def __init__(self, calls: list[tuple[str, Any]]) -> None:
        self.calls = calls


class FakeUsers(Recorder):
    async def get(self, id_: int) -> User | None:
        return User(id=id_, email=f"u{id_}@example.com", password_hash="x", display_name="U",
                    role="user")

    async def delete(self, obj: User) -> None:
        self.calls.append(("delete_user", obj.id))


class FakeTokens(Recorder):
    async def revoke_all(self, user_id: int, now: datetime) -> None:
        self.calls.append(("revoke_all", user_id))


class FakeContributions(Recorder):
    async def remove_user_contributions(self, user_id: int) -> None:
        self.calls.append(("remove_contributions", user_id))


async def test_delete_fixes_aggregates_first() -> None:
    calls: list[tuple[str, Any]] = []
    service = UserService(
        FakeUsers(calls),  # type: ignore[arg-type]
        FakeTokens(calls),  # type: ignore[arg-type]
        PasswordHashing(AuthSettings()),
        timedelta(hours=1),
        reviews=FakeContributions(calls),
    )
    admin = Principal(1, "admin", "root@example.com", "Root")
    await service.delete(admin, 7)
    assert calls == [("revoke_all", 7), ("remove_contributions", 7), ("delete_user", 7)]
    calls.clear()
    with pytest.raises(Forbidden):
        await service.delete(admin, 1)
    assert calls == []
