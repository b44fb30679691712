"""Which constraint a failed write broke, so a repository can turn it into a domain error.

Writes do not check beforehand what the database's constraints enforce (a pre-check costs a
round trip and still loses a race); the repository catches the ``IntegrityError`` and says
what it means: a unique key taken is a ``Conflict``, a missing parent row a ``NotFound``.
PostgreSQL names the constraint (asyncpg's ``constraint_name``); SQLite names only the kind
(and for a unique key, the columns), so the kind is what both backends give.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.exc import IntegrityError

_KIND_OF_SQLSTATE = {
    "23505": "unique",
    "23503": "foreign_key",
    "23514": "check",
    "23502": "not_null",
}
_KIND_OF_SQLITE_MESSAGE = (
    ("UNIQUE constraint failed", "unique"),
    ("FOREIGN KEY constraint failed", "foreign_key"),
    ("CHECK constraint failed", "check"),
    ("NOT NULL constraint failed", "not_null"),
)


@dataclass(frozen=True, slots=True)
class Violation:
    kind: str  # unique | foreign_key | check | not_null | other
    constraint: str | None  # its name, where the backend reports it (PostgreSQL)


def violation(exc: IntegrityError) -> Violation:
    orig = exc.orig
    sqlstate = getattr(orig, "sqlstate", None) or getattr(orig, "pgcode", None)
    if sqlstate:
        driver_error = getattr(orig, "__cause__", None)
        name = getattr(driver_error, "constraint_name", None)
        return Violation(_KIND_OF_SQLSTATE.get(str(sqlstate), "other"), name)
    message = str(orig)
    for prefix, kind in _KIND_OF_SQLITE_MESSAGE:
        if message.startswith(prefix):
            return Violation(kind, None)
    return Violation("other", None)
