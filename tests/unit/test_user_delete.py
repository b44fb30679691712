"""UserService: delete takes the user's reviews out of the aggregates before the row goes;
registration is stamped by the injected clock."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from bistro.core.auth import Principal
from bistro.core.clock import FakeClock
from bistro.core.errors import Forbidden
from bistro.core.security import PasswordHashing
from bistro.core.settings import AuthSettings
from bistro.users.models import User
from bistro.users.service import UserService


class Recorder:
    def __init__(self, calls: list[tuple[str, Any]]) -> None:
        self.calls = calls


class FakeUsers(Recorder):
    async def get(self, id_: int, *, for_update: bool = False) -> User | None:
        if for_update:
            self.calls.append(("lock_user", id_))
        return User(
            id=id_, email=f"u{id_}@example.com", password_hash="x", display_name="U", role="user"
        )

    async def delete(self, obj: User) -> None:
        self.calls.append(("delete_user", obj.id))


class FakeTokens(Recorder):
    async def revoke_all(self, user_id: int, now: datetime) -> None:
        self.calls.append(("revoke_all", user_id))


class FakeContributions(Recorder):
    async def remove_user_contributions(self, user_id: int, now: datetime) -> None:
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
    assert calls == [
        ("lock_user", 7),
        ("revoke_all", 7),
        ("remove_contributions", 7),
        ("delete_user", 7),
    ]
    calls.clear()
    with pytest.raises(Forbidden):
        await service.delete(admin, 1)
    assert calls == [("lock_user", 1)]


class FakeUserStore:
    async def by_email(self, email: str) -> User | None:
        return None

    async def add(self, obj: User) -> User:
        return obj


async def test_registration_is_stamped_by_the_service_clock() -> None:
    # The injected clock, not the wall clock: tests and replays get the time they set.
    moment = datetime(2031, 5, 6, 7, 8, 9, tzinfo=UTC)
    service = UserService(
        FakeUserStore(),  # type: ignore[arg-type]
        FakeTokens([]),  # type: ignore[arg-type]
        PasswordHashing(AuthSettings()),
        timedelta(hours=1),
        FakeClock(moment),
        reviews=FakeContributions([]),
    )
    user = await service.register(" New@Example.com ", "a-long-password", "New")
    assert (user.email, user.created_at, user.updated_at) == ("new@example.com", moment, moment)
