"""What the app holds for its lifetime, created in the lifespan and read by dependencies."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from bistro.core.auth import PrincipalLookup
from bistro.core.clock import Clock, SystemClock
from bistro.core.database import Database
from bistro.core.security import PasswordHashing
from bistro.core.settings import Settings

# In ``extras``: this process's instance name (the monitoring feature's), set by the app.
INSTANCE_KEY = "instance"


@dataclass
class AppState:
    settings: Settings
    db: Database
    hashing: PasswordHashing
    clock: Clock = field(default_factory=SystemClock)
    # How a bearer token becomes a principal (the users feature's query, wired by the app).
    principals: PrincipalLookup | None = None
    # Filled in by features that start with the app (cache, flags, metrics, ...).
    extras: dict[str, Any] = field(default_factory=dict)
