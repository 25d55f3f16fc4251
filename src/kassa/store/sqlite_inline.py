"""SQLite on the event loop's own thread, for Kassa's one writer connection.

SQLAlchemy's asyncio layer reaches SQLite through aiosqlite, which runs every call (opening a
cursor, executing, fetching, closing, committing) on a thread of its own and hands the result
back through the event loop. A write transaction of four statements is about twenty such round
trips, and on a busy loop each waits for its turn: with `bench/ingest.py` they were about 40 %
of a notification's CPU, far more than SQLite's own work. A small statement on a local SQLite
file takes microseconds, so Kassa's writer (`store.db`) runs its statements directly on the
loop's thread through this module, which looks to SQLAlchemy's aiosqlite dialect like an
aiosqlite connection (it is passed as the engine's `async_creator`). The loop waits for the
statements themselves, so write transactions are kept short. Readers keep aiosqlite: a long
report must not hold up the loop.

Two things would block the loop, and are kept off it:

- **Waiting for another process's write lock.** The connection's `busy_timeout` is 0, so a
  statement SQLite cannot run yet fails at once with `SQLITE_BUSY`, having done nothing; it is
  retried after an asynchronous pause (1 ms, doubling up to 50 ms) until `busy_timeout`
  seconds have passed, then the error is raised as it would be after SQLite's own wait.
- **Checkpoints.** SQLite copies the write-ahead log into the database file, with an fsync,
  in whichever commit crosses `wal_autocheckpoint` pages. Here that is switched off and a
  passive checkpoint runs on a worker thread, through a connection of its own, after every
  `checkpoint_every` commits (a passive checkpoint never waits for, or holds up, the writer).
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
from collections.abc import Callable, Generator, Iterable, Sequence
from functools import partial
from typing import Any

log = logging.getLogger(__name__)

#: SQLite's result code for "the database is locked" (extended codes keep it in the low byte).
_SQLITE_BUSY = 5
_FIRST_PAUSE = 0.001
_LONGEST_PAUSE = 0.05


def _is_busy(exc: sqlite3.OperationalError) -> bool:
    code = getattr(exc, "sqlite_errorcode", None)
    return code is not None and code & 0xFF == _SQLITE_BUSY


async def _retry_while_busy(call: Callable[[], Any], busy_timeout: float) -> Any:
    """`call()`, retried after asynchronous pauses while SQLite answers `SQLITE_BUSY` (a
    statement that fails so has done nothing), for up to `busy_timeout` seconds."""
    try:
        return call()
    except sqlite3.OperationalError as exc:
        if not _is_busy(exc):
            raise
    loop = asyncio.get_running_loop()
    deadline = loop.time() + busy_timeout
    pause = _FIRST_PAUSE
    while True:
        await asyncio.sleep(pause)
        try:
            return call()
        except sqlite3.OperationalError as exc:
            if not _is_busy(exc) or loop.time() >= deadline:
                raise
        pause = min(pause * 2, _LONGEST_PAUSE)


class Cursor:
    """An aiosqlite-shaped cursor over a `sqlite3.Cursor`; awaiting it, or entering it with
    `async with`, gives the cursor itself (both forms are used by SQLAlchemy's versions)."""

    def __init__(self, connection: InlineConnection) -> None:
        self._connection = connection
        self._cursor = connection._connection_or_raise().cursor()

    def __await__(self) -> Generator[Any, None, Cursor]:
        return self.__aenter__().__await__()

    async def __aenter__(self) -> Cursor:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    async def execute(self, sql: str, parameters: Sequence[Any] | None = None) -> Cursor:
        await _retry_while_busy(
            lambda: self._cursor.execute(sql, parameters or ()), self._connection.busy_timeout
        )
        return self

    async def executemany(self, sql: str, parameters: Iterable[Sequence[Any]]) -> Cursor:
        rows = list(parameters)  # an iterator could not be retried
        await _retry_while_busy(
            lambda: self._cursor.executemany(sql, rows), self._connection.busy_timeout
        )
        return self

    async def fetchone(self) -> Any:
        return self._cursor.fetchone()

    async def fetchmany(self, size: int | None = None) -> list[Any]:
        return self._cursor.fetchmany(self._cursor.arraysize if size is None else size)

    async def fetchall(self) -> list[Any]:
        return self._cursor.fetchall()

    async def close(self) -> None:
        self._cursor.close()

    async def setinputsizes(self, *sizes: Any) -> None:
        """Nothing to do: `sqlite3` ignores input sizes."""

    @property
    def description(self) -> Any:
        return self._cursor.description

    @property
    def rowcount(self) -> int:
        return self._cursor.rowcount

    @property
    def lastrowid(self) -> int | None:
        return self._cursor.lastrowid

    @property
    def arraysize(self) -> int:
        return self._cursor.arraysize

    @arraysize.setter
    def arraysize(self, value: int) -> None:
        self._cursor.arraysize = value


class InlineConnection:
    """An aiosqlite-shaped connection whose calls run on the calling (event loop's) thread.

    `_connection` is the `sqlite3` connection, or `None` once closed: SQLAlchemy's aiosqlite
    adapter looks at that attribute before a commit or a rollback."""

    def __init__(
        self,
        connection: sqlite3.Connection,
        *,
        database: str,
        busy_timeout: float,
        checkpoint_every: int,
    ) -> None:
        self._connection: sqlite3.Connection | None = connection
        self._database = database
        self.busy_timeout = busy_timeout
        self._checkpoint_every = checkpoint_every
        self._commits = 0
        self._checkpoint: asyncio.Future[None] | None = None

    def _connection_or_raise(self) -> sqlite3.Connection:
        if self._connection is None:
            raise sqlite3.ProgrammingError("Cannot operate on a closed database.")
        return self._connection

    @property
    def isolation_level(self) -> str | None:
        return self._connection_or_raise().isolation_level

    def cursor(self) -> Cursor:
        return Cursor(self)

    async def execute(self, sql: str, parameters: Sequence[Any] | None = None) -> Cursor:
        return await Cursor(self).execute(sql, parameters)

    async def create_function(self, *args: Any, **kwargs: Any) -> None:
        self._connection_or_raise().create_function(*args, **kwargs)

    async def commit(self) -> None:
        connection = self._connection_or_raise()
        await _retry_while_busy(connection.commit, self.busy_timeout)
        self._commits += 1
        if self._commits >= self._checkpoint_every and self._checkpoint is None:
            self._commits = 0
            self._start_checkpoint()

    async def rollback(self) -> None:
        self._connection_or_raise().rollback()

    async def close(self) -> None:
        if self._checkpoint is not None:
            await asyncio.shield(self._checkpoint)
        self.stop()

    def stop(self) -> None:
        """Close at once (SQLAlchemy's forced termination; also the end of `close`)."""
        if self._connection is not None:
            self._connection.close()
            self._connection = None

    def _start_checkpoint(self) -> None:
        future = asyncio.get_running_loop().run_in_executor(None, _checkpoint, self._database)
        self._checkpoint = future
        future.add_done_callback(self._checkpoint_done)

    def _checkpoint_done(self, future: asyncio.Future[None]) -> None:
        self._checkpoint = None
        if not future.cancelled() and future.exception() is not None:
            log.warning("a background SQLite checkpoint failed: %s", future.exception())


def _checkpoint(database: str) -> None:
    """Copy what the write-ahead log holds into the database file, without waiting for
    anyone (run on a worker thread)."""
    connection = sqlite3.connect(database, timeout=0, isolation_level=None)
    try:
        connection.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
    finally:
        connection.close()


def _run(connection: sqlite3.Connection, sql: str) -> None:
    connection.execute(sql).fetchall()


def connector(
    database: str, *, pragmas: Iterable[str], busy_timeout: float, checkpoint_every: int = 1000
) -> Callable[[], Any]:
    """The `async_creator` of an engine whose connections run on the loop's thread."""

    async def connect() -> InlineConnection:
        connection = sqlite3.connect(
            database, timeout=0, isolation_level=None, check_same_thread=False
        )
        for pragma in ("PRAGMA busy_timeout=0", "PRAGMA wal_autocheckpoint=0", *pragmas):
            await _retry_while_busy(partial(_run, connection, pragma), busy_timeout)
        return InlineConnection(
            connection,
            database=database,
            busy_timeout=busy_timeout,
            checkpoint_every=checkpoint_every,
        )

    return connect
