"""Small helpers for v3's hand-written SQL: typed ``text()`` statements and row shapes."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import JSON, TextClause, bindparam, text
from sqlalchemy.engine import RowMapping
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.sql.elements import TextClause as _TextClause
from sqlalchemy.sql.selectable import TextualSelect
from sqlalchemy.types import TypeEngine

from bistro.core.database import UTCDateTime
from bistro.legacy.hours import normalise_hours

UTC_DATETIME = UTCDateTime()

RESTAURANT_COLUMNS = (
    "r.id, r.name, r.cuisine, r.city, r.address, r.latitude, r.longitude, r.price_level, "
    "r.hours, r.rating_avg, r.review_count, r.created_at, r.updated_at"
)
RESTAURANT_RETURNING = RESTAURANT_COLUMNS.replace("r.", "")
RESTAURANT_TYPES: dict[str, TypeEngine[Any]] = {
    "hours": JSON(),
    "created_at": UTC_DATETIME,
    "updated_at": UTC_DATETIME,
}
REVIEW_COLUMNS = "v.id, v.restaurant_id, v.user_id, v.rating, v.text, v.created_at, v.updated_at"
REVIEW_RETURNING = REVIEW_COLUMNS.replace("v.", "")
TIMESTAMPS: dict[str, TypeEngine[Any]] = {"created_at": UTC_DATETIME, "updated_at": UTC_DATETIME}


def sql(
    statement: str,
    *,
    binds: Mapping[str, TypeEngine[Any]] | None = None,
    expanding: tuple[str, ...] = (),
    columns: Mapping[str, TypeEngine[Any]] | None = None,
) -> TextClause | TextualSelect:
    """A ``text()`` statement whose datetime/JSON parameters and columns convert per backend."""
    clause: _TextClause = text(statement)
    params = [bindparam(name, type_=type_) for name, type_ in (binds or {}).items()]
    params += [bindparam(name, expanding=True) for name in expanding]
    if params:
        clause = clause.bindparams(*params)
    if columns:
        return clause.columns(**columns)
    return clause


class SQLBase:
    """What every part of ``DatabaseManagerV3`` shares: the request's connection."""

    def __init__(self, conn: AsyncConnection) -> None:
        self.conn = conn

    @property
    def dialect(self) -> str:
        return self.conn.dialect.name

    def for_update(self) -> str:
        """Row lock on PostgreSQL; SQLite serialises writers on its own."""
        return " FOR UPDATE" if self.dialect == "postgresql" else ""


def restaurant_out(row: RowMapping) -> dict[str, Any]:
    return {
        "id": row["id"],
        "name": row["name"],
        "cuisine": row["cuisine"],
        "city": row["city"],
        "address": row["address"],
        "latitude": float(row["latitude"]),
        "longitude": float(row["longitude"]),
        "price_level": int(row["price_level"]),
        "hours": normalise_hours(row["hours"]),
        "rating_avg": round(float(row["rating_avg"]), 2),
        "review_count": int(row["review_count"]),
        "created_at": row["created_at"],
        "updated_at": row["updated_at"],
    }


def review_out(row: RowMapping) -> dict[str, Any]:
    return {
        "id": row["id"],
        "restaurant_id": row["restaurant_id"],
        "user_id": row["user_id"],
        "rating": int(row["rating"]),
        "text": row["text"],
        "created_at": row["created_at"],
        "updated_at": row["updated_at"],
    }


def user_out(row: RowMapping, *, with_email: bool) -> dict[str, Any]:
    data: dict[str, Any] = {
        "id": row["id"],
        "display_name": row["display_name"],
        "role": row["role"],
        "created_at": row["created_at"],
    }
    if with_email:
        data["email"] = row["email"]
    return data
