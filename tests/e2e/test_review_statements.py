"""Creating a review is two statements on PostgreSQL once the principal is known: the insert
(whose constraints refuse a duplicate or a missing restaurant) and the aggregate's update."""

from __future__ import annotations

import pytest
from sqlalchemy import event

from tests.support import Factory, app_client

V4 = "/api/v4"
# Background work that shares the engine and may run meanwhile (the flag poller).
_BACKGROUND = ("migration_flag_version", "monitoring_")


@pytest.mark.postgres
async def test_review_create_is_two_statements_besides_the_principal(postgres_url: str) -> None:
    async with app_client(postgres_url) as (app, client):
        factory = Factory(app)
        rest = await factory.restaurant()
        ana = await factory.user()
        statements: list[str] = []

        def note(conn: object, cursor: object, statement: str, *args: object) -> None:
            if not any(table in statement for table in _BACKGROUND):
                statements.append(" ".join(statement.split()))

        engine = app.state.bistro.db.engine.sync_engine
        event.listen(engine, "before_cursor_execute", note)
        try:
            body = {"restaurant_id": rest["id"], "rating": 4, "text": "Lovely."}
            created = await client.post(f"{V4}/reviews", json=body, headers=ana.headers)
            assert created.status_code == 201
            statements_ok = list(statements)
            statements.clear()
            again = await client.post(f"{V4}/reviews", json=body, headers=ana.headers)
            assert again.status_code == 409
            statements_duplicate = list(statements)
            statements.clear()
            body_missing = body | {"restaurant_id": rest["id"] + 1000}
            missing = await client.post(f"{V4}/reviews", json=body_missing, headers=ana.headers)
            assert missing.status_code == 404
            assert missing.json()["code"] == "RESTAURANT_NOT_FOUND"
        finally:
            event.remove(engine, "before_cursor_execute", note)

    def without_principal(seen: list[str]) -> list[str]:
        lookups = [s for s in seen if "auth_tokens" in s]
        assert len(lookups) == 1, seen  # the principal, once
        return [s for s in seen if "auth_tokens" not in s]

    work = without_principal(statements_ok)
    assert len(work) == 2, work
    assert work[0].startswith("INSERT INTO reviews")
    assert work[1].startswith("UPDATE restaurants")
    # A refused insert is the only statement: nothing is read beforehand.
    refused = without_principal(statements_duplicate)
    assert len(refused) == 1 and refused[0].startswith("INSERT INTO reviews"), refused
