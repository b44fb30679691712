"""The ``bistro`` command on SQLite and PostgreSQL: success paths and one-line failures."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import orjson
import pytest
from argon2 import PasswordHasher
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine
from typer.testing import CliRunner

from bistro.cli.main import app
from bistro.core.migrate import current
from bistro.core.rating import PRIOR_MEAN, PRIOR_WEIGHT
from bistro.restaurants.hours import week_intervals
from tests.support import create_postgres_database, drop_postgres_database, truncate_all

runner = CliRunner()


def bistro(*args: str, env: dict[str, str] | None = None, input: str | None = None) -> Any:
    return runner.invoke(app, list(args), env=env, input=input)


def one_line_error(result: Any) -> str:
    """The failure message: exactly one line on stderr, no traceback."""
    assert result.exit_code != 0
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: ")
    assert "Traceback" not in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
    return str(lines[0])


def query(url: str, sql: str) -> list[tuple[Any, ...]]:
    async def _run() -> list[tuple[Any, ...]]:
        engine = create_async_engine(url)
        try:
            async with engine.connect() as conn:
                return [tuple(r) for r in (await conn.execute(text(sql))).all()]
        finally:
            await engine.dispose()

    return asyncio.run(_run())


# --- db upgrade -------------------------------------------------------------------------


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
def test_db_upgrade_migrates_a_fresh_database_and_is_idempotent(
    backend: str, tmp_path: Path
) -> None:
    url = f"sqlite:///{tmp_path}/fresh.db" if backend == "sqlite" else create_postgres_database()
    try:
        first = bistro("db", "upgrade", "--database-url", url, "--json")
        assert first.exit_code == 0, first.output
        report = orjson.loads(first.stdout)
        assert report["from"] == [] and report["to"]
        assert "password" not in first.stdout
        again = bistro("db", "upgrade", "--database-url", url, "--json")
        assert again.exit_code == 0
        assert orjson.loads(again.stdout)["from"] == report["to"]
        shown = bistro("db", "current", "--database-url", url)
        assert shown.exit_code == 0 and report["to"][0] in shown.stdout
        assert query(
            url.replace("sqlite:///", "sqlite+aiosqlite:///").replace(
                "postgresql://", "postgresql+asyncpg://"
            ),
            "SELECT count(*) FROM restaurants",
        ) == [(0,)]
    finally:
        if backend == "postgres":
            drop_postgres_database(url)


def test_db_upgrade_reads_the_url_from_the_environment(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path}/env.db"
    result = bistro("db", "upgrade", env={"BISTRO_DATABASE_URL": url})
    assert result.exit_code == 0, result.output
    assert current(url)


def test_bad_database_url_is_a_usage_error() -> None:
    result = bistro("db", "upgrade", "--database-url", "mysql://root@localhost/x")
    assert result.exit_code == 2
    assert one_line_error(result) == (
        "error: invalid database URL: url: must be a postgresql:// or sqlite:/// URL"
    )


def test_unreachable_postgres_is_one_line_and_hides_the_password() -> None:
    url = "postgresql://bistro:s3cret@127.0.0.1:1/bistro"
    for args in (
        ("db", "upgrade"),
        ("seed", "--restaurants", "1", "--reviews", "0"),
        ("users", "create-admin", "--email", "a@example.com", "--password", "long-pass-1"),
    ):
        result = bistro(*args, "--database-url", url)
        assert result.exit_code == 1, result.output
        line = one_line_error(result)
        where = "postgresql+asyncpg://bistro:***@127.0.0.1:1/bistro"
        assert line.startswith(f"error: cannot reach the database at {where}: "), line
        assert "s3cret" not in result.output


def test_missing_postgres_database_is_reported() -> None:
    result = bistro(
        "db",
        "upgrade",
        "--database-url",
        "postgresql://postgres@127.0.0.1:5432/bistro_no_such_db_ops",
    )
    assert result.exit_code == 1
    assert 'database "bistro_no_such_db_ops" does not exist' in one_line_error(result)


def test_unopenable_sqlite_file_is_reported(tmp_path: Path) -> None:
    result = bistro("db", "upgrade", "--database-url", f"sqlite:///{tmp_path}/no/such/dir/x.db")
    assert result.exit_code == 1
    assert "unable to open database file" in one_line_error(result)


# --- seed ---------------------------------------------------------------------------------


def seed_args(url: str, *extra: str) -> list[str]:
    return [
        "seed",
        "--database-url",
        url,
        "--restaurants",
        "40",
        "--reviews",
        "300",
        "--users",
        "25",
        "--json",
        *extra,
    ]


def snapshot(url: str) -> dict[str, list[tuple[Any, ...]]]:
    tables = {
        "users": "SELECT * FROM users ORDER BY id",
        "restaurants": "SELECT * FROM restaurants ORDER BY id",
        "intervals": "SELECT restaurant_id, open_minute, close_minute "
        "FROM restaurant_opening_intervals ORDER BY 1, 2",
        "reviews": "SELECT * FROM reviews ORDER BY id",
    }
    return {name: query(url, sql) for name, sql in tables.items()}


def test_seed_fills_consistent_data(db_url: str) -> None:
    result = bistro(*seed_args(db_url, "--seed", "5"))
    assert result.exit_code == 0, result.output
    report = orjson.loads(result.stdout)
    assert (report["restaurants"], report["reviews"], report["users"]) == (40, 300, 25)
    assert report["opening_intervals"] > 40

    # Aggregates equal what the reviews say, with the Bayesian score.
    rows = query(
        db_url,
        """
        SELECT r.id, r.review_count, r.rating_sum, r.rating_avg, r.rating_score,
               count(v.id), COALESCE(sum(v.rating), 0)
        FROM restaurants r LEFT JOIN reviews v ON v.restaurant_id = r.id
        GROUP BY r.id, r.review_count, r.rating_sum, r.rating_avg, r.rating_score""",
    )
    assert len(rows) == 40
    for _, count, total, avg, score, real_count, real_total in rows:
        assert (count, total) == (real_count, real_total)
        assert avg == pytest.approx(total / count if count else 0.0)
        assert score == pytest.approx((total + PRIOR_MEAN * PRIOR_WEIGHT) / (count + PRIOR_WEIGHT))

    # Opening intervals match each restaurant's hours.
    hours = query(db_url, "SELECT id, hours FROM restaurants ORDER BY id")
    intervals = query(
        db_url, "SELECT restaurant_id, open_minute, close_minute FROM restaurant_opening_intervals"
    )
    for rid, value in hours:
        value = orjson.loads(value) if isinstance(value, str) else value
        assert sorted((o, c) for r, o, c in intervals if r == rid) == week_intervals(value)

    # Seeded users can sign in with the documented password.
    email, password_hash = query(db_url, "SELECT email, password_hash FROM users LIMIT 1")[0]
    assert email.endswith("@seed.bistro.example")
    assert PasswordHasher().verify(password_hash, report["user_password"])


def test_seed_rebuilds_every_index_it_deferred(postgres_url: str) -> None:
    sql = "SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = 'public' ORDER BY 1"
    asyncio.run(truncate_all(postgres_url))
    before = query(postgres_url, sql)
    assert len(before) > 15
    assert bistro(*seed_args(postgres_url)).exit_code == 0
    assert query(postgres_url, sql) == before
    failed = bistro(*seed_args(postgres_url))  # refused: nothing changes
    assert failed.exit_code == 1
    assert query(postgres_url, sql) == before


def test_seed_is_deterministic_and_refuses_to_seed_twice(db_url: str) -> None:
    assert bistro(*seed_args(db_url, "--seed", "9")).exit_code == 0
    first = snapshot(db_url)

    again = bistro(*seed_args(db_url, "--seed", "9"))
    assert again.exit_code == 1
    assert one_line_error(again) == (
        "error: the database already holds 40 restaurants: pass --reset to replace them"
    )

    assert bistro(*seed_args(db_url, "--seed", "9", "--reset")).exit_code == 0
    assert snapshot(db_url) == first

    assert bistro(*seed_args(db_url, "--seed", "10", "--reset")).exit_code == 0
    other = snapshot(db_url)
    assert other["restaurants"] != first["restaurants"]
    assert other["reviews"] != first["reviews"]


def test_seed_keeps_existing_accounts_and_continues_their_ids(db_url: str) -> None:
    made = bistro(
        "users",
        "create-admin",
        "--email",
        "root@example.com",
        "--password",
        "long-enough-1",
        "--database-url",
        db_url,
        "--json",
    )
    assert made.exit_code == 0, made.output
    assert bistro(*seed_args(db_url)).exit_code == 0
    ids = [r[0] for r in query(db_url, "SELECT id FROM users ORDER BY id")]
    assert ids == list(range(1, 27))
    assert bistro(*seed_args(db_url, "--reset")).exit_code == 0
    assert query(db_url, "SELECT email FROM users WHERE role = 'admin'") == [("root@example.com",)]


def test_seed_rejects_an_impossible_plan(db_url: str) -> None:
    result = bistro(
        "seed", "--database-url", db_url, "--restaurants", "3", "--reviews", "10", "--users", "2"
    )
    assert result.exit_code == 2
    assert one_line_error(result) == (
        "error: 10 reviews cannot fit one review per (user, restaurant): at most 6 with 2 users "
        "and 3 restaurants"
    )


def test_seed_needs_a_migrated_database(tmp_path: Path) -> None:
    result = bistro("seed", "--database-url", f"sqlite:///{tmp_path}/empty.db")
    assert result.exit_code == 1
    assert one_line_error(result) == (
        "error: the database has no schema: run `bistro db upgrade` first"
    )


# --- users create-admin --------------------------------------------------------------------


def admin_rows(url: str) -> list[tuple[Any, ...]]:
    return query(url, "SELECT email, display_name, role, password_hash FROM users ORDER BY id")


def test_create_admin_with_password_option(db_url: str) -> None:
    result = bistro(
        "users",
        "create-admin",
        "--email",
        "Boss@Example.com",
        "--password",
        "correct-horse-1",
        "--display-name",
        "Boss",
        "--database-url",
        db_url,
        "--json",
    )
    assert result.exit_code == 0, result.output
    out = orjson.loads(result.stdout)
    assert out["email"] == "boss@example.com" and out["role"] == "admin"
    assert out["action"] == "created" and "password" not in result.stdout
    [(email, name, role, password_hash)] = admin_rows(db_url)
    assert (email, name, role) == ("boss@example.com", "Boss", "admin")
    assert password_hash.startswith("$argon2id$v=19$m=19456,t=2,p=1$")
    assert PasswordHasher().verify(password_hash, "correct-horse-1")


def test_create_admin_password_from_env_and_from_prompt(db_url: str) -> None:
    env = bistro(
        "users",
        "create-admin",
        "--email",
        "env@example.com",
        "--database-url",
        db_url,
        env={"BISTRO_ADMIN_PASSWORD": "from-the-env-1"},
    )
    assert env.exit_code == 0, env.output
    prompted = bistro(
        "users",
        "create-admin",
        "--email",
        "tty@example.com",
        "--database-url",
        db_url,
        input="typed-secret-1\ntyped-secret-1\n",
        env={"BISTRO_ADMIN_PASSWORD": ""},
    )
    assert prompted.exit_code == 0, prompted.output
    assert "typed-secret-1" not in prompted.stdout
    hashes = {r[0]: r[3] for r in admin_rows(db_url)}
    assert PasswordHasher().verify(hashes["env@example.com"], "from-the-env-1")
    assert PasswordHasher().verify(hashes["tty@example.com"], "typed-secret-1")


def test_create_admin_refuses_an_existing_email_unless_promote(db_url: str) -> None:
    args = [
        "users",
        "create-admin",
        "--email",
        "ana@example.com",
        "--password",
        "first-pass-1",
        "--database-url",
        db_url,
    ]
    assert bistro(*args).exit_code == 0
    again = bistro(*args[:-4], "--password", "other-pass-2", "--database-url", db_url)
    assert again.exit_code == 1
    assert one_line_error(again) == (
        "error: an account with email ana@example.com already exists; "
        "pass --promote to make it an admin"
    )
    # The password was not changed by the refused call.
    assert PasswordHasher().verify(admin_rows(db_url)[0][3], "first-pass-1")
    promoted = bistro(*args, "--promote", "--json")
    assert promoted.exit_code == 0
    assert orjson.loads(promoted.stdout)["action"] == "exists"


def test_create_admin_promotes_a_user(db_url: str) -> None:
    assert bistro(*seed_args(db_url)).exit_code == 0
    email = query(db_url, "SELECT email FROM users WHERE id = 3")[0][0]
    result = bistro(
        "users",
        "create-admin",
        "--email",
        email,
        "--password",
        "unused-pass-1",
        "--promote",
        "--database-url",
        db_url,
        "--json",
    )
    assert result.exit_code == 0, result.output
    assert orjson.loads(result.stdout)["action"] == "promoted"
    assert query(db_url, "SELECT role FROM users WHERE id = 3") == [("admin",)]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--email", "not-an-email", "--password", "long-enough-1"], "error: invalid email: "),
        (
            ["--email", "a@example.com", "--password", "short"],
            "error: invalid password: String should have at least 8 characters",
        ),
        (
            ["--email", "a@example.com", "--password", "long-enough-1", "--display-name", " "],
            "error: invalid display-name: String should have at least 1 character",
        ),
    ],
)
def test_create_admin_rejects_bad_input(sqlite_url: str, args: list[str], message: str) -> None:
    result = bistro("users", "create-admin", *args, "--database-url", sqlite_url)
    assert result.exit_code == 2
    assert one_line_error(result).startswith(message)
