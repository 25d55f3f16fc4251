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
to it together, in one savepoint (none if the batch is all the group does); it answers each
unit or hands it back to be run alone (`RUN_ALONE`), and if it raises, its savepoint (or the
whole transaction) is rolled back and every one of its units is run alone instead, so a batch
can only ever be faster than its units, never different.
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

#: Units that must be waiting before a group starts beside those under way (`in_flight` > 1).
#: Every group pays for a transaction of its own (eight statements on PostgreSQL), and a group
#: started for whatever had just arrived was often one or two units: with 50 notifications
#: in flight, seven groups in ten were, and the CPU per notification was a fifth higher. 4 (with
#: several groups in flight, `kassa.store.db.GROUPS_IN_FLIGHT`) cost no more CPU each than 8 and
#: was as fast or faster, though runs on the shared machine swung too much to rank them finely
#: (`bench/ingest.py`).
MIN_ALONGSIDE = 4

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
    """The queue of units for one event loop; `transaction` opens a write transaction.

    At most `in_flight` groups are under way at once, each in its own transaction: one on
    SQLite, whose one writer takes them one at a time anyway; more on PostgreSQL, where a
    group spends much of its time waiting for the database's answers, and the next group
    can be running meanwhile on another pooled connection (see `Database.write_together`).
    A group starts beside those under way only once `MIN_ALONGSIDE` units are waiting;
    fewer wait for the next group of a runner under way."""

    def __init__(self, transaction: Transaction, *, in_flight: int = 1) -> None:
        if in_flight < 1:
            raise ValueError("at least one group must be able to run")
        self._transaction = transaction
        self._in_flight = in_flight
        self._queue: list[_Queued] = []
        #: Groups under way (or about to be); a runner leaves it as it returns, so that a unit
        #: queued just after it found the queue empty starts another.
        self._running = 0
        #: The runners' tasks, kept until they are done.
        self._runners: set[asyncio.Task[None]] = set()

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
        if self._running == 0 or (
            self._running < self._in_flight and len(self._queue) >= MIN_ALONGSIDE
        ):
            self._running += 1
            runner = asyncio.create_task(self._run_groups())
            self._runners.add(runner)
            runner.add_done_callback(self._runners.discard)
        return await future

    async def _run_groups(self) -> None:
        """Commit groups from the queue, one after another, until it is empty. Several of
        these may run at once (`in_flight`); each takes the units queued when it starts its
        next group."""
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
            self._running -= 1

    async def _commit(self, group: list[_Queued], *, batched: bool = True) -> None:
        """Run `group` in one transaction and answer its units once it has committed. A
        group that is one batch and nothing else runs it without a savepoint (two statements
        fewer); if that batch fails, the transaction is rolled back and the group committed
        again with every unit run alone (`batched=False`)."""
        outcomes: list[tuple[asyncio.Future[Any], Any, BaseException | None]] = []
        try:
            async with self._transaction() as conn:
                # A unit whose caller has gone before its turn is not run.
                batches = _by_batch(group) if batched else {}
                alone = [queued for queued in group if not batched or queued.batch is None]
                whole = len(batches) == 1 and not alone
                for batch, members in batches.items():
                    alone += await _run_batch(conn, batch, members, outcomes, whole=whole)
                for queued in alone:
                    if not queued.future.done():
                        outcomes.append((queued.future, *await _in_savepoint(conn, queued.unit)))
        except _BatchFailed:
            await self._commit(group, batched=False)
            return
        except Exception as exc:  # the transaction failed: nothing of the group stands
            for queued in group:
                if not queued.future.done():
                    queued.future.set_exception(exc)
            return
        except BaseException:
            for queued in group:
                queued.future.cancel()
            raise
        _answer(outcomes)


def _answer(outcomes: list[tuple[asyncio.Future[Any], Any, BaseException | None]]) -> None:
    """Tell the committed units' callers how they went."""
    for future, value, error in outcomes:
        if future.done():  # its caller went while it ran; what it wrote stands all the same
            continue
        if error is None:
            future.set_result(value)
        else:
            future.set_exception(error)


class _BatchFailed(Exception):
    """A batch that was the whole transaction failed: roll it back and run its units alone."""


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
    *,
    whole: bool,
) -> list[_Queued]:
    """Run `batch` over its members' items, in a savepoint unless it is the `whole`
    transaction; add the outcomes it gave to `outcomes` and return the members it left to run
    alone. If it fails, all of them (its savepoint rolled back), or, as the whole
    transaction, `_BatchFailed`."""
    items = [queued.item for queued in members]
    if whole:
        answers, error = await _caught(batch(conn, items))
    else:
        answers, error = await _in_savepoint(conn, lambda conn: batch(conn, items))
    if error is not None or len(answers) != len(members):
        log.error("a batch of %d failed; running them one by one", len(members), exc_info=error)
        if whole:
            raise _BatchFailed from error
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


async def _caught(work: Awaitable[Any]) -> tuple[Any, Exception | None]:
    """What `work` returned, or what it raised."""
    try:
        return await work, None
    except Exception as exc:
        return None, exc
