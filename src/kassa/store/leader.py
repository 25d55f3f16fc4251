"""Leadership among the processes sharing a PostgreSQL database: the one holding a named
session-level advisory lock, on a connection of its own outside SQLAlchemy's pools, leads.

PostgreSQL holds such a lock for as long as the session lasts. A leader that dies (killed,
crashed, its machine gone) loses it as soon as PostgreSQL sees its connection end, and a process
waiting for it (`pg_advisory_lock` blocks) has it at once: takeover needs no polling. A leader
whose connection is lost, or stops answering a ping, steps down, since another process may be
taking over. Leadership is an economy, not a guarantee: two leaders may overlap for a moment (a
half-open connection the old one has not noticed yet), so the work led must stay safe to run
twice at once (Kassa's background jobs claim their work).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
from collections.abc import Awaitable, Callable
from typing import Any

import asyncpg

from kassa.store.db import Database
from kassa.store.listen import driver_dsn

log = logging.getLogger(__name__)

#: Seconds before connecting again after the lock's connection failed.
RETRY_AFTER = 2.0
#: While leading, the lock's connection is pinged this often, and given as long to answer.
PING_EVERY = 10.0
#: Seconds a closing connection is given to end its session politely.
CLOSE_TIMEOUT = 2.0

#: What losing the lock's connection raises.
LOST = (OSError, asyncpg.PostgresError, asyncpg.InterfaceError)


def lock_key(name: str) -> int:
    """The advisory lock's 64-bit key for `name`: the same in every process and version."""
    digest = hashlib.blake2b(name.encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


class Leadership:
    """Runs work in one process at a time of those sharing `db` (PostgreSQL only)."""

    def __init__(self, db: Database, name: str) -> None:
        self.db = db
        self.name = name
        self.key = lock_key(name)
        #: Whether this process holds the lock now.
        self.leading = False

    async def run(
        self, work: Callable[[asyncio.Event], Awaitable[None]], stop: asyncio.Event
    ) -> None:
        """Until `stop` is set: wait for the lock, then run `work(resign)` while holding it.
        `resign` is set when `stop` is or when the lock is lost, and `work` must then finish
        and return; the lock is let go, and waited for again unless stopping."""
        while not stop.is_set():
            try:
                conn = await asyncpg.connect(driver_dsn(self.db))
            except LOST as exc:
                log.warning(
                    "cannot connect to wait for the lock of %s (%s); retrying", self.name, exc
                )
                await _first(stop, within=RETRY_AFTER)
                continue
            try:
                if await self._acquire(conn, stop):
                    await self._lead(conn, work, stop)
            except LOST as exc:
                log.warning(
                    "the connection for the lock of %s failed (%s); retrying", self.name, exc
                )
                await _first(stop, within=RETRY_AFTER)
            finally:
                await _close(conn)  # ends the session, and the lock with it

    async def _acquire(self, conn: Any, stop: asyncio.Event) -> bool:
        """Wait for the lock (PostgreSQL queues the waiters) or for `stop`."""
        locking = asyncio.ensure_future(conn.fetchval("SELECT pg_advisory_lock($1)", self.key))
        stopping = asyncio.ensure_future(stop.wait())
        await asyncio.wait({locking, stopping}, return_when=asyncio.FIRST_COMPLETED)
        stopping.cancel()
        if locking.done():
            locking.result()  # raises if the connection failed
            return True
        locking.cancel()
        with contextlib.suppress(asyncio.CancelledError, *LOST):
            await locking
        return False

    async def _lead(
        self, conn: Any, work: Callable[[asyncio.Event], Awaitable[None]], stop: asyncio.Event
    ) -> None:
        resign = asyncio.Event()
        watch = asyncio.create_task(
            self._watch(conn, stop, resign), name=f"watch the lock of {self.name}"
        )
        self.leading = True
        log.info("this process leads: %s", self.name)
        try:
            await work(resign)
        finally:
            self.leading = False
            watch.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await watch
            if not stop.is_set():
                log.warning("this process stepped down: %s", self.name)

    async def _watch(self, conn: Any, stop: asyncio.Event, resign: asyncio.Event) -> None:
        """Set `resign` when `stop` is set or the lock's connection is lost or silent."""
        lost = asyncio.Event()
        conn.add_termination_listener(lambda _conn: lost.set())
        try:
            while not await _first(stop, lost, within=PING_EVERY):
                try:
                    await asyncio.wait_for(conn.fetchval("SELECT 1"), PING_EVERY)
                except (*LOST, TimeoutError) as exc:
                    log.warning("the connection holding the lock of %s failed: %r", self.name, exc)
                    return
            if lost.is_set():
                log.warning("the connection holding the lock of %s was lost", self.name)
        finally:
            resign.set()


async def _first(*events: asyncio.Event, within: float) -> bool:
    """Wait until one of `events` is set, at most `within` seconds; whether one was."""
    waits = [asyncio.ensure_future(event.wait()) for event in events]
    try:
        await asyncio.wait(waits, timeout=within, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for each in waits:
            each.cancel()
    return any(event.is_set() for event in events)


async def _close(conn: Any) -> None:
    try:
        await asyncio.wait_for(conn.close(), CLOSE_TIMEOUT)
    except Exception:
        conn.terminate()
    except BaseException:  # cancelled: the session ends all the same
        conn.terminate()
        raise
