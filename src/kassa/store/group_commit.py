"""Group commit: units of work that arrive together share one transaction.

Concurrent notifications each need a short write transaction, and beginning and committing
one (taking turns at SQLite's one writer, `BEGIN IMMEDIATE`, `COMMIT`, SQLAlchemy's transaction
set-up) costs more than a savepoint: sharing transactions took a quarter off a notification's
CPU (`bench/ingest.py`). A `GroupCommit` runs the units that queue up while a transaction is
under way together in the next one, up to `MAX_GROUP` at a time, each in a savepoint of its
own: a unit that raises is rolled back alone and the others still commit. A unit's caller
hears how it went only after the commit, so whatever it wrote is durable by then (or, if the
commit itself failed, it hears that error and nothing of the group stands). A unit whose
caller has gone (a cancelled request) before its turn is not run.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from contextlib import AbstractAsyncContextManager
from typing import Any, TypeVar

from sqlalchemy.ext.asyncio import AsyncConnection

#: Units per transaction: SQLite's writer runs on the event loop's thread, so a group holds
#: the loop for as long as its units take (about 0.4 ms each for a notification).
MAX_GROUP = 16

T = TypeVar("T")
Unit = Callable[[AsyncConnection], Awaitable[Any]]
Transaction = Callable[[], AbstractAsyncContextManager[AsyncConnection]]


class GroupCommit:
    """The queue of units for one event loop; `transaction` opens a write transaction."""

    def __init__(self, transaction: Transaction) -> None:
        self._transaction = transaction
        self._queue: list[tuple[Unit, asyncio.Future[Any]]] = []
        self._runner: asyncio.Task[None] | None = None

    async def run(self, unit: Callable[[AsyncConnection], Awaitable[T]]) -> T:
        """`unit(conn)` in a savepoint of the next group's transaction; its result once that
        transaction has committed."""
        future: asyncio.Future[T] = asyncio.get_running_loop().create_future()
        self._queue.append((unit, future))
        if self._runner is None:
            self._runner = asyncio.create_task(self._run_groups())
        return await future

    async def _run_groups(self) -> None:
        try:
            while self._queue:
                group, self._queue = self._queue[:MAX_GROUP], self._queue[MAX_GROUP:]
                await self._commit(group)
        except BaseException:  # cancelled (the process is stopping): so are the waiting units
            for _, future in self._queue:
                future.cancel()
            self._queue = []
            raise
        finally:
            self._runner = None

    async def _commit(self, group: list[tuple[Unit, asyncio.Future[Any]]]) -> None:
        outcomes: list[tuple[asyncio.Future[Any], Any, BaseException | None]] = []
        try:
            async with self._transaction() as conn:
                for unit, future in group:
                    if future.done():  # its caller has gone before its turn: not run
                        continue
                    outcomes.append((future, *await _in_savepoint(conn, unit)))
        except Exception as exc:  # the transaction failed: nothing of the group stands
            for _, future in group:
                if not future.done():
                    future.set_exception(exc)
            return
        except BaseException:
            for _, future in group:
                future.cancel()
            raise
        for future, value, error in outcomes:
            if future.done():  # its caller went while it ran; what it wrote stands all the same
                continue
            if error is None:
                future.set_result(value)
            else:
                future.set_exception(error)


async def _in_savepoint(conn: AsyncConnection, unit: Unit) -> tuple[Any, Exception | None]:
    try:
        async with conn.begin_nested():
            return await unit(conn), None
    except Exception as exc:
        return None, exc
