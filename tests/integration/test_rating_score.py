"""The Bayesian score: one formula, and its two spellings (v4's expression, v3's SQL text)
compute the same value on each backend."""

from __future__ import annotations

import pytest
from sqlalchemy import Integer, literal, select, text

from bistro.core.database import Database
from bistro.core.rating import PRIOR_MEAN, PRIOR_WEIGHT, bayesian_score, bayesian_score_sql
from bistro.core.settings import DatabaseSettings


@pytest.mark.parametrize(("total", "count"), [(0, 0), (5, 1), (7, 2), (1234, 300), (3, 3)])
async def test_both_spellings_agree_with_the_formula(db_url: str, total: int, count: int) -> None:
    db = Database(DatabaseSettings(url=db_url))
    try:
        async with db.engine.connect() as conn:
            as_text = (
                await conn.execute(text(f"SELECT {bayesian_score_sql(str(total), str(count))}"))
            ).scalar_one()
            as_expression = (
                await conn.execute(
                    select(bayesian_score(literal(total, Integer), literal(count, Integer)))
                )
            ).scalar_one()
    finally:
        await db.dispose()
    expected = (total + PRIOR_MEAN * PRIOR_WEIGHT) / (count + PRIOR_WEIGHT)
    assert float(as_text) == pytest.approx(expected, rel=1e-12)
    assert float(as_expression) == pytest.approx(expected, rel=1e-12)
    assert float(as_text) == float(as_expression)
