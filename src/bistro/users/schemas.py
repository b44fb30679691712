from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, EmailStr, Field, StringConstraints

DisplayName = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=80)]
Password = Annotated[str, Field(min_length=8, max_length=128)]


class _In(BaseModel):
    # Unknown fields (role, id, ...) are ignored: a client cannot mass-assign them.
    model_config = ConfigDict(extra="ignore")


class RegisterIn(_In):
    email: EmailStr = Field(max_length=254)
    password: Password
    display_name: DisplayName


class LoginIn(_In):
    email: str = Field(min_length=1, max_length=254)
    password: str = Field(min_length=1, max_length=128)


class ProfileUpdateIn(_In):
    display_name: DisplayName


class RoleUpdateIn(_In):
    role: Literal["user", "admin"]


class UserOut(BaseModel):
    id: int
    email: str | None = None
    display_name: str
    role: str
    created_at: datetime


class TokenOut(BaseModel):
    token: str
    token_type: str = "bearer"
    expires_at: datetime
    user: UserOut
