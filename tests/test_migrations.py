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
from kassa.store.tables import metadata, notifications
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
