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

Units may also come with a *batch*: a function that does the work of many such units at once,
with a few statements for all of them instead of a few each (SQLAlchemy's cost per statement is
most of a notification's, `bench/ingest.py`). The group's units that share a batch function go
to it together, in one savepoint; it answers each unit or hands it back to be run alone
(`RUN_ALONE`), and if it raises, its savepoint is rolled back and every one of its units is
run alone instead, so a batch can only ever be faster than its units, never different.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from typing import Any, TypeVar

from sqlalchemy.ext.asyncio import AsyncConnection

log = logging.getLogger(__name__)

#: Units per transaction. SQLite's writer runs on the event loop's thread, so a group holds
#: the loop for as long as its units take: about 0.1 ms a notification in a batch, 0.4 ms one
#: applied alone, so at most about 25 ms. Groups of 64 rather than 16 took a tenth off a
#: notification's CPU (`bench/ingest.py`).
MAX_GROUP = 64

T = TypeVar("T")
Unit = Callable[[AsyncConnection], Awaitable[Any]]
#: `batch(conn, items)`: one answer per item, in order: its result, an exception (the item
#: wrote nothing; its caller hears the exception), or `RUN_ALONE`.
Batch = Callable[[AsyncConnection, Sequence[Any]], Awaitable[Sequence[Any]]]
Transaction = Callable[[], AbstractAsyncContextManager[AsyncConnection]]

#: A batch's answer for an item it leaves to its own unit, run after the batch.
RUN_ALONE: Any = object()


@dataclass(slots=True)
class _Queued:
    unit: Unit
    future: asyncio.Future[Any]
    batch: Batch | None
    item: Any


class GroupCommit:
    """The queue of units for one event loop; `transaction` opens a write transaction."""

    def __init__(self, transaction: Transaction) -> None:
        self._transaction = transaction
        self._queue: list[_Queued] = []
        self._runner: asyncio.Task[None] | None = None

    async def run(
        self,
        unit: Callable[[AsyncConnection], Awaitable[T]],
        *,
        batch: Batch | None = None,
        item: Any = None,
    ) -> T:
        """`unit(conn)` in a savepoint of the next group's transaction; its result once that
        transaction has committed. With `batch`, `item` goes to `batch` together with the
        group's other items for it, and `unit` runs only if the batch hands it back."""
        future: asyncio.Future[T] = asyncio.get_running_loop().create_future()
        self._queue.append(_Queued(unit, future, batch, item))
        if self._runner is None:
            self._runner = asyncio.create_task(self._run_groups())
        return await future

    async def _run_groups(self) -> None:
        try:
            while self._queue:
                group, self._queue = self._queue[:MAX_GROUP], self._queue[MAX_GROUP:]
                await self._commit(group)
        except BaseException:  # cancelled (the process is stopping): so are the waiting units
            for queued in self._queue:
                queued.future.cancel()
            self._queue = []
            raise
        finally:
            self._runner = None

    async def _commit(self, group: list[_Queued]) -> None:
        outcomes: list[tuple[asyncio.Future[Any], Any, BaseException | None]] = []
        try:
            async with self._transaction() as conn:
                # A unit whose caller has gone before its turn is not run.
                alone = [queued for queued in group if queued.batch is None]
                for batch, members in _by_batch(group).items():
                    alone += await _run_batch(conn, batch, members, outcomes)
                for queued in alone:
                    if not queued.future.done():
                        outcomes.append((queued.future, *await _in_savepoint(conn, queued.unit)))
        except Exception as exc:  # the transaction failed: nothing of the group stands
            for queued in group:
                if not queued.future.done():
                    queued.future.set_exception(exc)
            return
        except BaseException:
            for queued in group:
                queued.future.cancel()
            raise
        for future, value, error in outcomes:
            if future.done():  # its caller went while it ran; what it wrote stands all the same
                continue
            if error is None:
                future.set_result(value)
            else:
                future.set_exception(error)


def _by_batch(group: list[_Queued]) -> dict[Batch, list[_Queued]]:
    """The group's waiting units that came with a batch, by batch function."""
    batches: dict[Batch, list[_Queued]] = {}
    for queued in group:
        if queued.batch is not None and not queued.future.done():
            batches.setdefault(queued.batch, []).append(queued)
    return batches


async def _run_batch(
    conn: AsyncConnection,
    batch: Batch,
    members: list[_Queued],
    outcomes: list[tuple[asyncio.Future[Any], Any, BaseException | None]],
) -> list[_Queued]:
    """Run `batch` over its members' items in a savepoint; add the outcomes it gave to
    `outcomes` and return the members it left to run alone (all of them if it raised)."""
    items = [queued.item for queued in members]
    answers, error = await _in_savepoint(conn, lambda conn: batch(conn, items))
    if error is not None or len(answers) != len(members):
        log.error("a batch of %d failed; running them one by one", len(members), exc_info=error)
        return members
    alone = []
    for queued, answer in zip(members, answers, strict=True):
        if answer is RUN_ALONE:
            alone.append(queued)
        elif isinstance(answer, Exception):
            outcomes.append((queued.future, None, answer))
        else:
            outcomes.append((queued.future, answer, None))
    return alone


async def _in_savepoint(conn: AsyncConnection, unit: Unit) -> tuple[Any, Exception | None]:
    try:
        async with conn.begin_nested():
            return await unit(conn), None
    except Exception as exc:
        return None, exc
