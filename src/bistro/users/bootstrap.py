"""Creating admins outside the HTTP API: ``bistro users create-admin`` and demo start-up."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from bistro.core.clock import utcnow
from bistro.core.database import Database
from bistro.core.errors import Conflict
from bistro.core.security import PasswordHashing
from bistro.users.models import User
from bistro.users.repository import TokenRepository, UserRepository


@dataclass(frozen=True)
class AdminResult:
    id: int
    email: str
    display_name: str
    action: Literal["created", "promoted", "exists"]


async def ensure_admin(
    db: Database,
    hashing: PasswordHashing,
    email: str,
    password: str,
    display_name: str,
    *,
    promote: bool = False,
) -> AdminResult:
    """Create an admin account; with ``promote`` an existing account is made admin instead.

    Without ``promote`` an existing email is a conflict: the command never silently changes a
    password or a role it was not asked to.
    """
    email = email.strip().lower()
    async with db.unit_of_work() as session:
        users = UserRepository(session)
        existing = await users.by_email(email)
        if existing is not None:
            if not promote:
                raise Conflict(f"an account with email {email} already exists", code="EMAIL_TAKEN")
            if existing.role == "admin":
                return AdminResult(existing.id, existing.email, existing.display_name, "exists")
            existing.role = "admin"
            await users.add(existing)
            # A role change takes effect at once, as through the admin API.
            await TokenRepository(session).revoke_all(existing.id, utcnow())
            return AdminResult(existing.id, existing.email, existing.display_name, "promoted")
        user = await users.add(
            User(
                email=email,
                password_hash=await hashing.hash(password),
                display_name=display_name.strip(),
                role="admin",
            )
        )
        return AdminResult(user.id, user.email, user.display_name, "created")
