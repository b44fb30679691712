"""``DatabaseManagerV3``: the legacy data layer, one hand-written SQL statement per need.

It runs on the request's connection (one transaction, committed by the route's dependency),
uses the shared schema and keeps its invariants: review aggregates move in the same
transaction as the review, one review per user and restaurant, tokens stored hashed.
"""

from __future__ import annotations

from bistro.legacy.restaurants_sql import RestaurantQuery, RestaurantSQL
from bistro.legacy.reviews_sql import ReviewSQL
from bistro.legacy.statistics_sql import StatisticsSQL
from bistro.legacy.users_sql import UserSQL


class DatabaseManagerV3(RestaurantSQL, ReviewSQL, UserSQL, StatisticsSQL):
    """All of v3's SQL, grouped by resource in its base classes."""


__all__ = ["DatabaseManagerV3", "RestaurantQuery"]
