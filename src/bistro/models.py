"""Every table, imported once so ``Base.metadata`` is complete (Alembic and tests use it)."""

from bistro.core.database import Base
from bistro.migration.models import FlagAudit, FlagOverride, FlagRow, FlagStateVersion
from bistro.monitoring.models import AlertEvent, AlertState, CacheBucket, RequestBucket
from bistro.parity.models import ParityBucket, ParityExample, ParityNoise
from bistro.restaurants.models import OpeningInterval, Restaurant
from bistro.reviews.models import Review
from bistro.rollout.models import (
    ControllerLease,
    DrillRow,
    InstanceRow,
    RolloutDecision,
    RolloutRow,
)
from bistro.statistics.models import StatisticsCounter
from bistro.users.models import AuthToken, User

__all__ = [
    "AlertEvent",
    "AlertState",
    "AuthToken",
    "Base",
    "CacheBucket",
    "ControllerLease",
    "DrillRow",
    "FlagAudit",
    "FlagOverride",
    "FlagRow",
    "FlagStateVersion",
    "InstanceRow",
    "OpeningInterval",
    "ParityBucket",
    "ParityExample",
    "ParityNoise",
    "RequestBucket",
    "Restaurant",
    "Review",
    "RolloutDecision",
    "RolloutRow",
    "StatisticsCounter",
    "User",
]
