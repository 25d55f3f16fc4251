"""The migrations build exactly the schema the code declares, on both databases."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Connection, insert, make_url, select
from sqlalchemy.ext.asyncio import create_async_engine

from kassa.store import upgrade
from kassa.store.tables import metadata, notifications, shops, terminals
from tests.live import fresh_postgres, sqlite_url


def test_the_migrated_schema_is_the_declared_one(database_url: str) -> None:
    def differences(conn: Connection) -> list[Any]:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        return list(compare_metadata(context, metadata))

    async def compare() -> list[Any]:
        engine = create_async_engine(database_url)
        try:
            async with engine.connect() as conn:
                return await conn.run_sync(differences)
        finally:
            await engine.dispose()

    assert asyncio.run(compare()) == []


@pytest.fixture
def at_0007(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A new database of `database_url`'s kind, migrated only as far as revision 0007."""
    if make_url(database_url).get_backend_name() == "sqlite":
        yield sqlite_url(str(tmp_path_factory.mktemp("at-0007")), "0007")
    else:
        yield from fresh_postgres(os.environ["KASSA_TEST_DATABASE_URL"], "0007")


def test_signature_headers_stored_before_are_redacted_by_the_upgrade(at_0007: str) -> None:
    """Notifications stored before signatures were redacted keep none once upgraded."""
    url = at_0007
    row = {
        "id": "ntf_old",
        "provider": "cloudpayments",
        "shop_ref": "s",
        "method": "POST",
        "headers": {"content-hmac": "c2lnbmVk", "content-type": "text/plain"},
        "query": "",
        "body": b"TransactionId=1",
        "received_at": datetime.now(UTC),
        "verdict": "accepted",
    }

    async def run(statement: Any) -> Any:
        engine = create_async_engine(url)
        try:
            async with engine.begin() as conn:
                return (await conn.execute(statement)).all()
        finally:
            await engine.dispose()

    asyncio.run(run(insert(notifications).values(row).returning(notifications.c.id)))
    upgrade(url)
    ((headers,),) = asyncio.run(run(select(notifications.c.headers)))
    assert headers == {"content-hmac": "[redacted]", "content-type": "text/plain"}


@pytest.fixture
def at_0012(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A new database of `database_url`'s kind, migrated only as far as revision 0012."""
    if make_url(database_url).get_backend_name() == "sqlite":
        yield sqlite_url(str(tmp_path_factory.mktemp("at-0012")), "0012")
    else:
        yield from fresh_postgres(os.environ["KASSA_TEST_DATABASE_URL"], "0012")


def test_terminals_added_before_device_kinds_are_terminals_after(at_0012: str) -> None:
    """Every terminal of a database from before devices had a kind is a `terminal` after
    the upgrade, with the rest of its row as it was."""
    url = at_0012
    now = datetime.now(UTC)
    terminal = {
        "shop_id": "shop_old",
        "id": "KIOSK_001",
        "name": "Hall",
        "location": "Entrance",
        "enabled": False,
        "token_version": 3,
        "created_at": now,
        "updated_at": now,
        "health": {"gateway": "ok"},
        "stats": {"requests": 7},
    }

    async def run(*statements: Any) -> list[Any]:
        engine = create_async_engine(url)
        try:
            async with engine.begin() as conn:
                return [await conn.execute(statement) for statement in statements]
        finally:
            await engine.dispose()

    # No `kind` in the statement: the column does not exist yet.
    asyncio.run(
        run(
            insert(shops).values(id="shop_old", name="old", created_at=now),
            insert(terminals).values(terminal),
        )
    )
    upgrade(url)

    async def read() -> Any:
        engine = create_async_engine(url)
        try:
            async with engine.connect() as conn:
                return (await conn.execute(select(terminals))).mappings().one()
        finally:
            await engine.dispose()

    row = asyncio.run(read())
    assert row["kind"] == "terminal"
    assert {name: row[name] for name in terminal if name not in ("created_at", "updated_at")} == {
        name: value for name, value in terminal.items() if name not in ("created_at", "updated_at")
    }
