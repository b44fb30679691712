"""The Bayesian rating score, in one place for v3, v4 and the seeder.

Each restaurant starts with ``PRIOR_WEIGHT`` imaginary reviews of ``PRIOR_MEAN``, so one
5-star review does not top the list. The score is stored in ``restaurants.rating_score`` (so
the sort uses an index) and every writer computes it in SQL from the row's sum and count:
v4 through :func:`bayesian_score` (a SQLAlchemy expression), v3 and the seeder through
:func:`bayesian_score_sql` (the same formula as SQL text). ``CAST(... AS FLOAT)`` is double
precision on PostgreSQL and REAL on SQLite, so both spellings compute in floating point.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Float, cast
from sqlalchemy.sql.elements import ColumnElement

PRIOR_MEAN = 3.0
PRIOR_WEIGHT = 5
PRIOR_SUM = PRIOR_MEAN * PRIOR_WEIGHT


def bayesian_score(
    rating_sum: ColumnElement[Any], review_count: ColumnElement[Any]
) -> ColumnElement[Any]:
    """The score for a sum and count given as SQL expressions."""
    return (cast(rating_sum, Float) + PRIOR_SUM) / (review_count + PRIOR_WEIGHT)


def bayesian_score_sql(rating_sum: str, review_count: str) -> str:
    """The same score as SQL text, for hand-written statements (operands are SQL, not input)."""
    return f"(CAST({rating_sum} AS FLOAT) + {PRIOR_SUM!r}) / ({review_count} + {PRIOR_WEIGHT})"
