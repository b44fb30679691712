"""Scale: indexes that serve filter and sort together, statistics kept by triggers

Revision ID: 0008_scale
Revises: 0005_review_rating_indexes
Create Date: 2026-12-03 19:00:00

Indexes (docs/performance.md, "Query plans at scale"). Every list order ends with ``id``, and
three of them mix directions (``rating_score DESC, review_count DESC, id ASC``), so an index
on the first column alone leaves PostgreSQL an incremental sort over every tie (and
``review_count`` is a small integer: ties by the ten thousand). Each sort gets an index in its
exact order, which replaces the single-column one it extends (no net index added to the
restaurant row a review write updates). Opening intervals are probed per restaurant by the
``open_now`` EXISTS: (restaurant_id, open_minute, close_minute) answers it from the index alone.

Statistics: ``statistics_counters`` (bistro.statistics.models) is kept by triggers on
reviews, restaurants and users, on PostgreSQL (statement level, with transition tables, so a
COPY or a cascade of thousands of rows costs one UPDATE per statement) and SQLite (row level).
The counters start from a full count of the existing rows.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008_scale"
down_revision: str | Sequence[str] | None = "0005_review_rating_indexes"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SHARDS = 32  # bistro.statistics.models.SHARDS (migrations do not import application code)
REVIEW_COLUMNS = ", ".join(f"reviews_{r}" for r in range(1, 6))

# (name, table, columns, replaced index)
INDEXES = (
    (
        "ix_restaurants_rating_order",
        "restaurants",
        "rating_score DESC, review_count DESC, id",
        ("ix_restaurants_rating_score", ["rating_score"]),
    ),
    (
        "ix_restaurants_cuisine_rating_order",
        "restaurants",
        "cuisine, rating_score DESC, review_count DESC, id",
        ("ix_restaurants_cuisine_score", ["cuisine", "rating_score"]),
    ),
    (
        "ix_restaurants_review_count_order",
        "restaurants",
        "review_count DESC, id",
        ("ix_restaurants_review_count", ["review_count"]),
    ),
    ("ix_restaurants_name_order", "restaurants", "name, id", ("ix_restaurants_name", ["name"])),
    (
        "ix_restaurants_newest_order",
        "restaurants",
        "created_at DESC, id",
        ("ix_restaurants_created_at", ["created_at"]),
    ),
    (
        "ix_opening_intervals_restaurant_window",
        "restaurant_opening_intervals",
        "restaurant_id, open_minute, close_minute",
        ("ix_opening_intervals_restaurant", ["restaurant_id"]),
    ),
)


def _pg_review_counts(sign: str) -> str:
    return ", ".join(f"{sign}count(*) FILTER (WHERE rating = {r})" for r in range(1, 6))


def _upsert_set(columns: Sequence[str]) -> str:
    return ", ".join(f"{c} = s.{c} + EXCLUDED.{c}" for c in columns)


REVIEW_LIST = [f"reviews_{r}" for r in range(1, 6)]

POSTGRES_FUNCTIONS = (
    # Reviews added (INSERT, COPY): one upsert per statement into this connection's shard.
    f"""
CREATE FUNCTION bistro_stats_reviews_inserted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO statistics_counters AS s (shard, {REVIEW_COLUMNS})
  SELECT pg_backend_pid() % {SHARDS}, {_pg_review_counts("")}
  FROM new_rows HAVING count(*) > 0
  ON CONFLICT (shard) DO UPDATE SET {_upsert_set(REVIEW_LIST)};
  RETURN NULL;
END $$""",
    f"""
CREATE FUNCTION bistro_stats_reviews_deleted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO statistics_counters AS s (shard, {REVIEW_COLUMNS})
  SELECT pg_backend_pid() % {SHARDS}, {_pg_review_counts("-")}
  FROM old_rows HAVING count(*) > 0
  ON CONFLICT (shard) DO UPDATE SET {_upsert_set(REVIEW_LIST)};
  RETURN NULL;
END $$""",
    # An edit that keeps the rating (most edits change the text) touches no counter row.
    f"""
CREATE FUNCTION bistro_stats_reviews_updated() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO statistics_counters AS s (shard, {REVIEW_COLUMNS})
  SELECT pg_backend_pid() % {SHARDS},
         {", ".join(f"sum((n.rating = {r})::int - (o.rating = {r})::int)" for r in range(1, 6))}
  FROM new_rows n JOIN old_rows o ON o.id = n.id
  WHERE n.rating <> o.rating HAVING count(*) > 0
  ON CONFLICT (shard) DO UPDATE SET {_upsert_set(REVIEW_LIST)};
  RETURN NULL;
END $$""",
    *(
        f"""
CREATE FUNCTION bistro_stats_{table}_{event}() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO statistics_counters AS s (shard, {table})
  SELECT pg_backend_pid() % {SHARDS}, {sign}count(*) FROM {rows} HAVING count(*) > 0
  ON CONFLICT (shard) DO UPDATE SET {table} = s.{table} + EXCLUDED.{table};
  RETURN NULL;
END $$"""
        for table in ("restaurants", "users")
        for event, sign, rows in (("inserted", "", "new_rows"), ("deleted", "-", "old_rows"))
    ),
    # TRUNCATE fires no DELETE trigger: zero the table's counters instead.
    f"""
CREATE FUNCTION bistro_stats_truncated() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_TABLE_NAME = 'reviews' THEN
    UPDATE statistics_counters SET {", ".join(f"{c} = 0" for c in REVIEW_LIST)};
  ELSIF TG_TABLE_NAME = 'restaurants' THEN
    UPDATE statistics_counters SET restaurants = 0;
  ELSIF TG_TABLE_NAME = 'users' THEN
    UPDATE statistics_counters SET users = 0;
  END IF;
  RETURN NULL;
END $$""",
)

POSTGRES_TRIGGERS = (
    ("reviews", "INSERT", "NEW TABLE AS new_rows", "bistro_stats_reviews_inserted"),
    ("reviews", "DELETE", "OLD TABLE AS old_rows", "bistro_stats_reviews_deleted"),
    (
        "reviews",
        "UPDATE",
        "OLD TABLE AS old_rows NEW TABLE AS new_rows",
        "bistro_stats_reviews_updated",
    ),
    ("restaurants", "INSERT", "NEW TABLE AS new_rows", "bistro_stats_restaurants_inserted"),
    ("restaurants", "DELETE", "OLD TABLE AS old_rows", "bistro_stats_restaurants_deleted"),
    ("users", "INSERT", "NEW TABLE AS new_rows", "bistro_stats_users_inserted"),
    ("users", "DELETE", "OLD TABLE AS old_rows", "bistro_stats_users_deleted"),
)


def _sqlite_review_values(prefix: str, sign: str) -> str:
    return ", ".join(f"{sign}({prefix}.rating = {r})" for r in range(1, 6))


def _sqlite_set(columns: Sequence[str]) -> str:
    return ", ".join(f"{c} = {c} + excluded.{c}" for c in columns)


SQLITE_TRIGGERS = (
    f"""
CREATE TRIGGER trg_stats_reviews_insert AFTER INSERT ON reviews BEGIN
  INSERT INTO statistics_counters (shard, {REVIEW_COLUMNS})
  VALUES (0, {_sqlite_review_values("NEW", "")})
  ON CONFLICT (shard) DO UPDATE SET {_sqlite_set(REVIEW_LIST)};
END""",
    f"""
CREATE TRIGGER trg_stats_reviews_delete AFTER DELETE ON reviews BEGIN
  INSERT INTO statistics_counters (shard, {REVIEW_COLUMNS})
  VALUES (0, {_sqlite_review_values("OLD", "-")})
  ON CONFLICT (shard) DO UPDATE SET {_sqlite_set(REVIEW_LIST)};
END""",
    f"""
CREATE TRIGGER trg_stats_reviews_update AFTER UPDATE OF rating ON reviews
WHEN NEW.rating <> OLD.rating BEGIN
  INSERT INTO statistics_counters (shard, {REVIEW_COLUMNS})
  VALUES (0, {", ".join(f"(NEW.rating = {r}) - (OLD.rating = {r})" for r in range(1, 6))})
  ON CONFLICT (shard) DO UPDATE SET {_sqlite_set(REVIEW_LIST)};
END""",
    *(
        f"""
CREATE TRIGGER trg_stats_{table}_{event.lower()} AFTER {event} ON {table} BEGIN
  INSERT INTO statistics_counters (shard, {table}) VALUES (0, {sign}1)
  ON CONFLICT (shard) DO UPDATE SET {table} = {table} + excluded.{table};
END"""
        for table in ("restaurants", "users")
        for event, sign in (("INSERT", ""), ("DELETE", "-"))
    ),
)
SQLITE_TRIGGER_NAMES = (
    "trg_stats_reviews_insert",
    "trg_stats_reviews_delete",
    "trg_stats_reviews_update",
    "trg_stats_restaurants_insert",
    "trg_stats_restaurants_delete",
    "trg_stats_users_insert",
    "trg_stats_users_delete",
)


def _trigger_name(table: str, event: str) -> str:
    return f"trg_stats_{table}_{event.lower()}"


# PostgreSQL only (SQLite has no INCLUDE): the columns the other filters test, carried in the
# index the cuisine and city filters use, so counting a filtered list's matches (meta.total)
# is an index-only scan rather than one heap visit per match.
INCLUDES = {
    "ix_restaurants_cuisine_rating_order": " INCLUDE (price_level, rating_avg)",
    # city itself too: PostgreSQL plans an index-only scan of an expression index only when
    # the expression's column is in the index as well.
    "ix_restaurants_city_lower": " INCLUDE (city, price_level, rating_avg)",
}


def upgrade() -> None:
    postgres = op.get_bind().dialect.name == "postgresql"
    for name, table, columns, (old_name, _) in INDEXES:
        include = INCLUDES.get(name, "") if postgres else ""
        op.execute(f"CREATE INDEX {name} ON {table} ({columns}){include}")
        op.drop_index(old_name, table_name=table)
    if postgres:
        op.drop_index("ix_restaurants_city_lower", table_name="restaurants")
        op.execute(
            "CREATE INDEX ix_restaurants_city_lower ON restaurants (lower(city))"
            + INCLUDES["ix_restaurants_city_lower"]
        )

    counters = [
        sa.Column(column, sa.BigInteger(), nullable=False, server_default="0")
        for column in ("restaurants", "users", *REVIEW_LIST)
    ]
    op.create_table(
        "statistics_counters",
        sa.Column("shard", sa.Integer(), autoincrement=False, nullable=False),
        *counters,
        sa.PrimaryKeyConstraint("shard", name=op.f("pk_statistics_counters")),
    )
    # The starting point: a full count (shard 0); the triggers move it from here on.
    op.execute(
        f"INSERT INTO statistics_counters (shard, restaurants, users, {REVIEW_COLUMNS}) SELECT 0,"
        " (SELECT count(*) FROM restaurants), (SELECT count(*) FROM users), "
        + ", ".join(f"(SELECT count(*) FROM reviews WHERE rating = {r})" for r in range(1, 6))
    )
    if op.get_bind().dialect.name == "postgresql":
        for function in POSTGRES_FUNCTIONS:
            op.execute(function)
        for table, event, referencing, function in POSTGRES_TRIGGERS:
            op.execute(
                f"CREATE TRIGGER {_trigger_name(table, event)} AFTER {event} ON {table}"
                f" REFERENCING {referencing} FOR EACH STATEMENT EXECUTE FUNCTION {function}()"
            )
        for table in ("reviews", "restaurants", "users"):
            op.execute(
                f"CREATE TRIGGER trg_stats_{table}_truncate AFTER TRUNCATE ON {table}"
                " FOR EACH STATEMENT EXECUTE FUNCTION bistro_stats_truncated()"
            )
    else:
        for trigger in SQLITE_TRIGGERS:
            op.execute(trigger)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for table, event, _, _ in POSTGRES_TRIGGERS:
            op.execute(f"DROP TRIGGER IF EXISTS {_trigger_name(table, event)} ON {table}")
        for table in ("reviews", "restaurants", "users"):
            op.execute(f"DROP TRIGGER IF EXISTS trg_stats_{table}_truncate ON {table}")
        for _, _, _, function in POSTGRES_TRIGGERS:
            op.execute(f"DROP FUNCTION IF EXISTS {function}()")
        op.execute("DROP FUNCTION IF EXISTS bistro_stats_truncated()")
    else:
        for name in SQLITE_TRIGGER_NAMES:
            op.execute(f"DROP TRIGGER IF EXISTS {name}")
    op.drop_table("statistics_counters")
    if op.get_bind().dialect.name == "postgresql":
        op.drop_index("ix_restaurants_city_lower", table_name="restaurants")
        op.create_index("ix_restaurants_city_lower", "restaurants", [sa.text("lower(city)")])
    for name, table, _, (old_name, old_columns) in reversed(INDEXES):
        op.create_index(old_name, table, old_columns)
        op.execute(f"DROP INDEX {name}")
