from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Query

MAX_LIMIT = 50
MAX_OFFSET = 1_000_000


@dataclass(frozen=True, slots=True)
class Page:
    limit: int
    offset: int

    def meta(self, total: int) -> dict[str, int]:
        return {"total": total, "limit": self.limit, "offset": self.offset}


async def page_params(
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT, description="Page size (max 50)")] = 20,
    offset: Annotated[int, Query(ge=0, le=MAX_OFFSET, description="Rows to skip")] = 0,
) -> Page:
    return Page(limit, offset)


PageDep = Annotated[Page, Depends(page_params)]
