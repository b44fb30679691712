"""Every table, imported once so ``Base.metadata`` is complete (Alembic and tests use it)."""

from bistro.core.database import Base
from bistro.restaurants.models import OpeningInterval, Restaurant
from bistro.reviews.models import Review
from bistro.users.models import AuthToken, User

__all__ = ["AuthToken", "Base", "OpeningInterval", "Restaurant", "Review", "User"]
