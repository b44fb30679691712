"""List totals that cost the same at any table size.

A list's ``meta.total`` is exact up to ``EXACT_TOTAL_LIMIT`` matches: the count reads at most
``EXACT_TOTAL_LIMIT + 1`` index entries (``count(*)`` over a ``LIMIT``ed subquery), never the
whole match set. Above that the figure is PostgreSQL's planner estimate (the same row count
``EXPLAIN`` shows, from the table statistics ANALYZE keeps) and ``meta.total_is_estimate`` is
true; SQLite has no estimate to offer and reports the lower bound ``EXACT_TOTAL_LIMIT + 1``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson
from sqlalchemy import Select, func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.expression import ClauseElement, Executable

from bistro.core.database import Executor

EXACT_TOTAL_LIMIT = 10_000


@dataclass(frozen=True, slots=True)
class Total:
    value: int
    is_estimate: bool = False

    def at_least(self, shown: int) -> Total:
        """An estimate never below the rows a client has been shown (offset + page)."""
        return Total(max(self.value, shown), True) if self.is_estimate else self


class Explain(Executable, ClauseElement):
    """``EXPLAIN (FORMAT JSON[, ANALYZE, BUFFERS]) <statement>`` with the statement's own bind
    parameters (PostgreSQL only)."""

    inherit_cache = False

    def __init__(self, statement: Select[Any], *, analyze: bool = False) -> None:
        self.statement = statement
        self.analyze = analyze


@compiles(Explain, "postgresql")
def _explain(element: Explain, compiler: SQLCompiler, **kw: Any) -> str:
    options = "ANALYZE, BUFFERS, FORMAT JSON" if element.analyze else "FORMAT JSON"
    return f"EXPLAIN ({options}) " + compiler.process(element.statement, **kw)


def dialect_name(executor: Executor) -> str:
    if isinstance(executor, AsyncSession):
        return executor.get_bind().dialect.name
    return executor.dialect.name


async def explain(executor: Executor, statement: Select[Any], *, analyze: bool = False) -> Any:
    """The plan of ``statement`` as PostgreSQL's JSON (a list holding one plan document)."""
    raw = (await executor.execute(Explain(statement, analyze=analyze))).scalar_one()
    return orjson.loads(raw) if isinstance(raw, str | bytes) else raw


async def capped_total(executor: Executor, matching: Select[Any]) -> Total:
    """The number of rows ``matching`` returns: exact up to EXACT_TOTAL_LIMIT, else estimated.

    ``matching`` should select a constant (``select(literal(1)).where(...)``) so the count
    can come from an index alone.
    """
    capped = matching.limit(EXACT_TOTAL_LIMIT + 1).subquery()
    counted = int((await executor.execute(select(func.count()).select_from(capped))).scalar_one())
    if counted <= EXACT_TOTAL_LIMIT:
        return Total(counted)
    estimate = 0
    if dialect_name(executor) == "postgresql":
        plan = await explain(executor, matching)
        estimate = int(plan[0]["Plan"]["Plan Rows"])
    return Total(max(estimate, EXACT_TOTAL_LIMIT + 1), is_estimate=True)
