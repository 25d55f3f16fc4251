"""The database: engines, transactions, and the few statements that differ by dialect.

SQLite is the embedded default. It allows one writer at a time, so Kassa gives it a writer
engine with a single connection whose transactions start with `BEGIN IMMEDIATE` (taking the
write lock up front, so a read-then-write transaction can never fail half way with "database
is locked") and a separate reader engine. The writer's statements run on the event loop's
thread (`kassa.store.sqlite_inline`); the readers' on aiosqlite's threads. PostgreSQL gets
one pooled engine for both.

A write transaction may be `touch`ed with topics ("events were written"); once it commits, the
listeners registered with `Database.on_commit` hear them (how the webhook dispatcher wakes up).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager, nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import (
    ColumnElement,
    Insert,
    Table,
    TextClause,
    any_,
    bindparam,
    column,
    delete,
    event,
    func,
    make_url,
    select,
    tuple_,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.engine import URL
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine
from sqlalchemy.sql.expression import TableValuedAlias
from sqlalchemy.types import TypeEngine

from kassa.store import json_codec, sqlite_inline, text
from kassa.store.group_commit import Batch, GroupCommit

log = logging.getLogger(__name__)

#: Where a connection keeps the topics its transaction touched (see `touch`).
_TOUCHED = "kassa.touched"

CommitListener = Callable[[frozenset[str]], None]
T = TypeVar("T")

#: How long a statement waits for another connection's write lock before failing.
SQLITE_BUSY_TIMEOUT = 30.0
#: How the engines write and read JSON columns; and the statements' parameters (credentials,
#: secrets, hashes of keys) are left out of the errors they raise, which end up in the log.
_ENGINE_OPTIONS: dict[str, Any] = {
    "json_serializer": json_codec.dumps,
    "json_deserializer": json_codec.loads,
    "hide_parameters": True,
}
#: Group commits under way at once on PostgreSQL, each on a pooled connection of its own:
#: while one group waits for the database's answers the others' statements run. Two left the
#: server waiting on PostgreSQL 40 % of the time; three and four (with
#: `group_commit.MIN_ALONGSIDE`) did better, four a little better than three in alternated
#: runs against peer B (the server 78-84 % busy instead of 65-75 %), at the same CPU per
#: notification (`bench/ingest.py`, bench/README.md).
GROUPS_IN_FLIGHT = 4
_SQLITE_PRAGMAS = (
    "PRAGMA journal_mode=WAL",
    "PRAGMA synchronous=NORMAL",
    "PRAGMA foreign_keys=ON",
)


class Database:
    """Kassa's connection to SQLite or PostgreSQL; `read()` and `write()` hand out connections."""

    def __init__(self, url: str | URL, *, pool_size: int = 20) -> None:
        self.url = make_url(url)
        self.dialect = self.url.get_backend_name()
        self._commit_listeners: list[CommitListener] = []
        #: The writer queues, bound to the event loop they were made in.
        self._queues: _WriterQueues | None = None
        if self.dialect == "sqlite":
            self._prepare_sqlite_file()
            # No overflow: each SQLite connection is a thread of its own, too dear to churn.
            self._reader = create_async_engine(
                self.url, pool_size=pool_size, max_overflow=0, **_ENGINE_OPTIONS
            )
            _configure_sqlite_reader(self._reader)
            # The writer runs on the loop's own thread: see `kassa.store.sqlite_inline`.
            self._writer = create_async_engine(
                self.url,
                pool_size=1,
                max_overflow=0,
                async_creator=sqlite_inline.connector(
                    str(self.url.database),
                    pragmas=_SQLITE_PRAGMAS,
                    busy_timeout=SQLITE_BUSY_TIMEOUT,
                ),
                **_ENGINE_OPTIONS,
            )
            _begin_with(self._writer, "BEGIN IMMEDIATE")
            event.listen(
                self._writer.sync_engine,
                "connect",
                lambda dbapi_connection, _record: text.register_sqlite_functions(dbapi_connection),
            )
        elif self.dialect == "postgresql":
            # pool_recycle, not pre-ping: a ping would cost a round trip at every checkout.
            self._reader = self._writer = create_async_engine(
                self.url,
                pool_size=pool_size,
                max_overflow=pool_size * 2,
                pool_recycle=1800,
                **_ENGINE_OPTIONS,
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
            conn.info.pop(_TOUCHED, None)
            yield conn

    @asynccontextmanager
    async def snapshot(self) -> AsyncIterator[AsyncConnection]:
        """A connection for reads that all see the database as it was at the first one:
        SQLite's read transaction does so already; PostgreSQL's needs `REPEATABLE READ`."""
        async with self.read() as conn:
            if not self.is_sqlite:
                await conn.execution_options(isolation_level="REPEATABLE READ")
            yield conn

    @asynccontextmanager
    async def write(self) -> AsyncIterator[AsyncConnection]:
        """A transaction: committed when the block ends, rolled back if it raises. Once it
        has committed, the `on_commit` listeners hear the topics it was `touch`ed with."""
        async with self._writer_turn(), self._writer.begin() as conn:
            conn.info.pop(_TOUCHED, None)  # left by a transaction that rolled back
            yield conn
            touched: set[str] | None = conn.info.pop(_TOUCHED, None)
        if touched:
            topics = frozenset(touched)
            for listener in list(self._commit_listeners):
                try:
                    listener(topics)
                except Exception:
                    log.exception("an after-commit listener failed")

    async def write_together(
        self,
        unit: Callable[[AsyncConnection], Awaitable[T]],
        *,
        batch: Batch | None = None,
        item: Any = None,
    ) -> T:
        """`unit(conn)` in a write transaction; what it returned, once committed, or what it
        raised, with its writes rolled back. The transaction is shared with the units that
        other tasks hand in meanwhile, each in a savepoint of its own, and units that came
        with the same `batch` have their `item`s done together by it (group commit, see
        `kassa.store.group_commit`). On SQLite, whose one writer takes transactions one at a
        time anyway, every unit is grouped, one group at a time. PostgreSQL runs transactions
        side by side on its pool, and groups only pay there with a batch: a unit without one
        has a transaction of its own, and `GROUPS_IN_FLIGHT` groups run at once."""
        if not self.is_sqlite and batch is None:
            async with self.write() as conn:
                return await unit(conn)
        return await self._writer_queues().groups.run(unit, batch=batch, item=item)

    def _writer_turn(self) -> AbstractAsyncContextManager[Any]:
        """On SQLite, a first-come-first-served turn at the one writer connection. The pool
        gives a released connection to whoever asks before the woken waiter runs, and a
        waiter that finds it gone queues again at the back; with transactions that run on
        the loop's thread a busy server always has such a newcomer, so without this queue
        some writers waited seconds (`bench/ingest.py`: p99 4.8 s against 0.14 s)."""
        if not self.is_sqlite:
            return nullcontext()
        return self._writer_queues().turns

    def _writer_queues(self) -> _WriterQueues:
        """The queues for the running event loop (a `Database` may outlive a loop)."""
        loop = asyncio.get_running_loop()
        if self._queues is None or self._queues.loop is not loop:
            self._queues = _WriterQueues(
                loop,
                asyncio.Lock(),
                GroupCommit(self.write, in_flight=1 if self.is_sqlite else GROUPS_IN_FLIGHT),
            )
        return self._queues

    def on_commit(self, listener: CommitListener) -> Callable[[], None]:
        """Call `listener` with the topics of every `touch`ed write transaction, after it
        commits (in this process; a listener must not block). Returns the unsubscribe."""
        self._commit_listeners.append(listener)
        return lambda: self._commit_listeners.remove(listener)

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

    async def delete_in_batches(
        self, table: Table, *conditions: ColumnElement[bool], batch: int
    ) -> int:
        """Delete the rows of `table` that meet `conditions`, `batch` per transaction, and
        return how many. Each transaction stays short: SQLite's writer runs on the event
        loop's thread, so the loop waits for as long as one runs."""
        keys = list(table.primary_key.columns)
        key = keys[0] if len(keys) == 1 else tuple_(*keys)
        some = select(*keys).where(*conditions).limit(batch)
        deleted = 0
        while True:
            async with self.write() as conn:
                count = (await conn.execute(delete(table).where(key.in_(some)))).rowcount
            deleted += count
            if count < batch:
                return deleted

    async def dispose(self) -> None:
        """Close every pooled connection."""
        await self._reader.dispose()
        if self._writer is not self._reader:
            await self._writer.dispose()


@dataclass(frozen=True, slots=True)
class _WriterQueues:
    """The writer queues of one event loop: turns at SQLite's one writer connection
    (`_writer_turn`) and groups of units sharing a transaction (`write_together`)."""

    loop: asyncio.AbstractEventLoop
    turns: asyncio.Lock
    groups: GroupCommit


def touch(conn: AsyncConnection, topic: str) -> bool:
    """Note that the transaction on `conn` (from `Database.write`) concerns `topic`, for the
    `on_commit` listeners; returns whether it is the first time in this transaction."""
    touched: set[str] = conn.info.setdefault(_TOUCHED, set())
    if topic in touched:
        return False
    touched.add(topic)
    return True


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


def unnested(name: str, columns: dict[str, TypeEngine[Any]]) -> TableValuedAlias:
    """PostgreSQL's `unnest(:a, :b, …) AS name(a, b, …)`: rows given as one array parameter
    per column (named as the column), to select from or join. Unlike a `VALUES` list, its text
    does not depend on how many rows there are, so a statement using it is compiled and
    prepared once, whatever the number of rows."""
    return (
        func.unnest(*(bindparam(key, type_=ARRAY(type_)) for key, type_ in columns.items()))
        .table_valued(*(column(key, type_) for key, type_ in columns.items()))
        .render_derived(name=name)
    )


def any_of(dialect: str, column: ColumnElement[Any], name: str) -> ColumnElement[bool]:
    """`column IN (:name, …)` for `dialect`, with the list given at execution: on PostgreSQL
    `column = ANY(:name)`, one array parameter, so that the statement's text is the same
    whatever the list's length and is prepared once (an expanding `IN` is rendered anew for
    each length, and asyncpg prepares each apart); elsewhere an expanding `IN`."""
    if dialect == "postgresql":
        return column == any_(bindparam(name, type_=ARRAY(column.type)))
    return column.in_(bindparam(name, expanding=True))


def _configure_sqlite_reader(engine: AsyncEngine) -> None:
    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy, not the sqlite3 module, decide where transactions begin.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        for pragma in (*_SQLITE_PRAGMAS, f"PRAGMA busy_timeout={int(SQLITE_BUSY_TIMEOUT * 1000)}"):
            cursor.execute(pragma)
        cursor.close()
        text.register_sqlite_functions(dbapi_connection)

    _begin_with(engine, "BEGIN")


def _begin_with(engine: AsyncEngine, begin: str) -> None:
    """Begin the engine's transactions with `begin`, not the driver's implicit one."""

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(conn: Any) -> None:
        conn.exec_driver_sql(begin)
