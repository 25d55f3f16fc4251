"""Writes run through their compiled form on the SQLite writer's driver connection or on
asyncpg (`kassa.store.compiled`) store what SQLAlchemy's own execution stores, count what it
counts, raise what it raises, stay inside SQLAlchemy's transaction, and refuse statements they
could not run the same way."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import (
    Boolean,
    Column,
    Integer,
    MetaData,
    String,
    Table,
    bindparam,
    insert,
    make_url,
    select,
    update,
)
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from kassa.store import compiled
from kassa.store.asyncpg_direct import AsyncpgDriver
from kassa.store.compiled import execute_many, fetch_all
from kassa.store.db import Database, any_of
from kassa.store.types import Document, UtcDateTime

metadata = MetaData()
things = Table(
    "things",
    metadata,
    Column("id", String(16), primary_key=True),
    Column("flag", Boolean, nullable=False),
    Column("doc", Document, nullable=False),
    Column("at", UtcDateTime, nullable=False),
    Column("state", String(8), nullable=False),
)
defaulted = Table(
    "defaulted",
    MetaData(),
    Column("id", Integer, primary_key=True),
    Column("n", Integer, default=1),
)
_INSERT = insert(things)
_MOVE = (
    update(things)
    .where(things.c.id == bindparam("key"), things.c.state == "new")
    .values(state=bindparam("state"))
)


def run(path: Path, scenario: Callable[[Database], Awaitable[Any]]) -> Any:
    async def main() -> Any:
        database = Database(f"sqlite+aiosqlite:///{path / 'kassa.db'}")
        try:
            async with database.write() as conn:
                await conn.run_sync(metadata.create_all)
            return await scenario(database)
        finally:
            await database.dispose()

    return asyncio.run(main())


def row(key: str, **fields: Any) -> dict[str, Any]:
    at = datetime(2026, 12, 6, 12, 0, tzinfo=UTC).astimezone(UTC) + timedelta(microseconds=7)
    return {"id": key, "flag": True, "doc": {"a": [1, "ü"]}, "at": at, "state": "new", **fields}


async def read_all(conn: AsyncConnection) -> dict[str, dict[str, Any]]:
    rows = (await conn.execute(select(things).order_by(things.c.id))).mappings()
    return {r["id"]: dict(r) for r in rows}


def test_rows_read_back_as_sqlalchemy_wrote_them(tmp_path: Path) -> None:
    async def scenario(database: Database) -> dict[str, dict[str, Any]]:
        async with database.write() as conn:
            assert await compiled._driver(conn) is not None  # the driver path is taken
            await conn.execute(_INSERT, [row("a")])
            assert await execute_many(conn, _INSERT, [row("b"), row("c", flag=False)]) == 2
        async with database.read() as conn:
            return await read_all(conn)

    stored = run(tmp_path, scenario)
    assert {k: {**v, "id": "-"} for k, v in stored.items() if k != "c"} == {
        "a": {**row("a"), "id": "-"},
        "b": {**row("b"), "id": "-"},
    }
    assert stored["c"]["flag"] is False


def test_an_update_counts_only_the_rows_it_changed(tmp_path: Path) -> None:
    async def scenario(database: Database) -> tuple[int, dict[str, dict[str, Any]]]:
        async with database.write() as conn:
            await execute_many(conn, _INSERT, [row("a"), row("b", state="old")])
            moved = await execute_many(
                conn, _MOVE, [{"key": "a", "state": "done"}, {"key": "b", "state": "done"}]
            )
            return moved, await read_all(conn)

    moved, stored = run(tmp_path, scenario)
    assert moved == 1
    assert (stored["a"]["state"], stored["b"]["state"]) == ("done", "old")


def test_a_constraint_violation_is_sqlalchemys_integrity_error(tmp_path: Path) -> None:
    async def scenario(database: Database) -> None:
        async with database.write() as conn:
            await execute_many(conn, _INSERT, [row("a")])
            await execute_many(conn, _INSERT, [row("a")])

    with pytest.raises(IntegrityError):
        run(tmp_path, scenario)


def test_other_connections_run_the_statement_through_sqlalchemy(tmp_path: Path) -> None:
    async def scenario(database: Database) -> int:
        async with database.read() as conn:  # aiosqlite, not the inline writer
            assert await compiled._driver(conn) is None
            count = await execute_many(conn, _INSERT, [row("a")])
            await conn.rollback()
            return count

    assert run(tmp_path, scenario) == 1


@pytest.mark.parametrize(
    ("statement", "keys", "why"),
    [
        (insert(defaulted), ("id",), "column defaults"),
        (
            select(things).where(things.c.id.in_(bindparam("ids", expanding=True))),
            ("ids",),
            "expanding",
        ),
        (_MOVE, ("state",), "no value for the parameter 'key'"),
    ],
)
def test_statements_it_cannot_run_the_same_way_are_refused(
    tmp_path: Path, statement: Any, keys: tuple[str, ...], why: str
) -> None:
    async def scenario(database: Database) -> None:
        async with database.write() as conn:
            compiled._compile(statement, conn.dialect, keys)

    with pytest.raises(ValueError, match=why):
        run(tmp_path, scenario)


_SOME = select(things).where(
    things.c.id.in_(bindparam("ids", expanding=True)), things.c.at == bindparam("at")
)


def test_a_query_reads_what_sqlalchemy_reads(tmp_path: Path) -> None:
    async def scenario(database: Database) -> tuple[Any, Any]:
        async with database.write() as conn:
            await execute_many(conn, _INSERT, [row("a"), row("b", flag=False), row("c")])
            parameters = {"ids": ["a", "b", "x"], "at": row("a")["at"]}
            fast = await fetch_all(conn, _SOME, parameters)
            plain = (await conn.execute(_SOME, parameters)).mappings().all()
            return fast, plain

    fast, plain = run(tmp_path, scenario)
    assert sorted(map(dict, fast), key=str) == sorted(map(dict, plain), key=str)
    assert {r["id"]: r["flag"] for r in fast} == {"a": True, "b": False}
    assert fast[0]["at"] == row("a")["at"]


def run_on_postgres(url: str, scenario: Callable[[Database], Awaitable[Any]]) -> Any:
    """`scenario` on a fresh `things` table of the PostgreSQL database at `url`."""
    if make_url(url).get_backend_name() != "postgresql":
        pytest.skip("the asyncpg path")

    async def main() -> Any:
        database = Database(url)
        try:
            async with database.write() as conn:
                await conn.run_sync(metadata.drop_all)
                await conn.run_sync(metadata.create_all)
            return await scenario(database)
        finally:
            await database.dispose()

    return asyncio.run(main())


def test_on_asyncpg_rows_read_back_as_sqlalchemy_wrote_them(own_database_url: str) -> None:
    async def scenario(database: Database) -> tuple[Any, Any]:
        async with database.write() as conn:
            assert isinstance(await compiled._driver(conn), AsyncpgDriver)
            await execute_many(conn, _INSERT, [row("b"), row("c", flag=False)])  # begins it
            await conn.execute(_INSERT, [row("a")])
            parameters = {"ids": ["a", "b", "c", "x"]}
            fast = await fetch_all(conn, _ANY_OF, parameters)
            plain = (await conn.execute(_ANY_OF, parameters)).mappings().all()
            return fast, plain

    fast, plain = run_on_postgres(own_database_url, scenario)
    assert sorted(map(dict, fast), key=str) == sorted(map(dict, plain), key=str)
    assert {r["id"]: r["flag"] for r in fast} == {"a": True, "b": True, "c": False}
    assert {**fast[0], "id": "-"} == {**row("a"), "id": "-"}


def test_on_asyncpg_statements_are_part_of_sqlalchemys_transaction(own_database_url: str) -> None:
    """The driver path begins SQLAlchemy's transaction when it runs first, and what it writes
    is rolled back with it, as after a constraint violation, raised as SQLAlchemy's."""

    async def twice(database: Database) -> None:
        async with database.write() as conn:
            await execute_many(conn, _INSERT, [row("a")])
            await execute_many(conn, _INSERT, [row("a")])

    async def then_fail(database: Database) -> None:
        async with database.write() as conn:
            await execute_many(conn, _INSERT, [row("b")])
            raise RuntimeError("roll back")

    async def scenario(database: Database) -> tuple[Any, Any]:
        with pytest.raises(IntegrityError):
            await twice(database)
        with pytest.raises(RuntimeError):
            await then_fail(database)
        async with database.write() as conn:
            await execute_many(conn, _INSERT, [row("c"), row("d", state="old")])
            moved = await fetch_all(conn, _MOVE_RETURNING, {"ids": ["c", "d"]})
        async with database.read() as conn:
            return moved, await read_all(conn)

    moved, stored = run_on_postgres(own_database_url, scenario)
    assert [r["id"] for r in moved] == ["c"]
    assert {k: v["state"] for k, v in stored.items()} == {"c": "done", "d": "old"}


_ANY_OF = select(things).where(any_of("postgresql", things.c.id, "ids"))
_MOVE_RETURNING = (
    update(things)
    .where(any_of("postgresql", things.c.id, "ids"), things.c.state == "new")
    .values(state="done")
    .returning(things.c.id)
)


def test_an_asyncpg_adapter_without_the_members_it_uses_is_not_run_directly() -> None:
    """The direct path uses SQLAlchemy's adapter's private members: a release whose adapter
    lacks one of them gets SQLAlchemy's own execution instead of a failure."""
    from sqlalchemy.dialects.postgresql.asyncpg import AsyncAdapt_asyncpg_connection

    class Older:
        _execute_mutex = None
        _prepare = None
        _handle_exception = None

    # The adapter declares them as slots: its class has them all.
    assert AsyncpgDriver.fits(AsyncAdapt_asyncpg_connection)
    assert not AsyncpgDriver.fits(Older())
