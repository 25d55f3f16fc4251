"""The database: engines, transactions, and the few statements that differ by dialect.

SQLite is the embedded default. It allows one writer at a time, so Kassa gives it a writer
engine with a single connection whose transactions start with `BEGIN IMMEDIATE` (taking the
write lock up front, so a read-then-write transaction can never fail half way with "database
is locked") and a separate reader engine. PostgreSQL gets one pooled engine for both.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import ColumnElement, Insert, Table, TextClause, event, make_url
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import URL
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

_SQLITE_PRAGMAS = (
    "PRAGMA journal_mode=WAL",
    "PRAGMA synchronous=NORMAL",
    "PRAGMA foreign_keys=ON",
    "PRAGMA busy_timeout=30000",
)


class Database:
    """Kassa's connection to SQLite or PostgreSQL; `read()` and `write()` hand out connections."""

    def __init__(self, url: str | URL, *, pool_size: int = 20) -> None:
        self.url = make_url(url)
        self.dialect = self.url.get_backend_name()
        if self.dialect == "sqlite":
            self._prepare_sqlite_file()
            # No overflow: each SQLite connection is a thread of its own, too dear to churn.
            self._reader = create_async_engine(self.url, pool_size=pool_size, max_overflow=0)
            self._writer = create_async_engine(self.url, pool_size=1, max_overflow=0)
            _configure_sqlite(self._reader, immediate=False)
            _configure_sqlite(self._writer, immediate=True)
        elif self.dialect == "postgresql":
            # pool_recycle, not pre-ping: a ping would cost a round trip at every checkout.
            self._reader = self._writer = create_async_engine(
                self.url, pool_size=pool_size, max_overflow=pool_size * 2, pool_recycle=1800
            )
        else:
            raise ValueError(f"unsupported database {self.dialect!r}: use sqlite or postgresql")

    @property
    def is_sqlite(self) -> bool:
        return self.dialect == "sqlite"

    def _prepare_sqlite_file(self) -> None:
        database = self.url.database
        if not database or database == ":memory:":
            raise ValueError("Kassa needs an SQLite file, not an in-memory database")
        Path(database).parent.mkdir(parents=True, exist_ok=True)

    @asynccontextmanager
    async def read(self) -> AsyncIterator[AsyncConnection]:
        """A connection for reads; nothing written through it is committed."""
        async with self._reader.connect() as conn:
            yield conn

    @asynccontextmanager
    async def write(self) -> AsyncIterator[AsyncConnection]:
        """A transaction: committed when the block ends, rolled back if it raises."""
        async with self._writer.begin() as conn:
            yield conn

    def insert_ignoring_conflict(
        self,
        table: Table,
        *,
        index_elements: list[str],
        index_where: ColumnElement[bool] | TextClause | None = None,
    ) -> Insert:
        """`insert_ignoring_conflict` in this database's dialect."""
        return insert_ignoring_conflict(
            self.dialect, table, index_elements=index_elements, index_where=index_where
        )

    async def dispose(self) -> None:
        """Close every pooled connection."""
        await self._reader.dispose()
        if self._writer is not self._reader:
            await self._writer.dispose()


def insert_ignoring_conflict(
    dialect: str,
    table: Table,
    *,
    index_elements: list[str],
    index_where: ColumnElement[bool] | TextClause | None = None,
) -> Insert:
    """`INSERT … ON CONFLICT (index_elements) DO NOTHING` for `dialect` (`conn.dialect.name`
    inside a transaction); give the values when executing it, which also lets SQLAlchemy reuse
    its compiled form."""
    insert = sqlite.insert if dialect == "sqlite" else postgresql.insert
    return insert(table).on_conflict_do_nothing(
        index_elements=index_elements, index_where=index_where
    )


def _configure_sqlite(engine: AsyncEngine, *, immediate: bool) -> None:
    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy, not the sqlite3 module, decide where transactions begin.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        for pragma in _SQLITE_PRAGMAS:
            cursor.execute(pragma)
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(conn: Any) -> None:
        conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")
