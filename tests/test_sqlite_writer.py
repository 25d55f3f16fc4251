"""SQLite's writer connection, which runs on the event loop's thread (`kassa.store.sqlite_inline`):
it waits for another process's write lock without stopping the loop, gives up after the busy
timeout, serves writers in the order they came, checkpoints off the loop, and lets two processes
write at once without refusing either."""

from __future__ import annotations

import asyncio
import sqlite3
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.exc import OperationalError

from kassa.store import db as store_db
from kassa.store.db import Database
from kassa.store.sqlite_inline import InlineConnection, connector


def run(path: Path, scenario: Callable[[Database], Awaitable[Any]]) -> Any:
    async def main() -> Any:
        database = Database(f"sqlite+aiosqlite:///{path / 'kassa.db'}")
        try:
            async with database.write() as conn:
                await conn.execute(text("CREATE TABLE IF NOT EXISTS t (n INTEGER)"))
            return await scenario(database)
        finally:
            await database.dispose()

    return asyncio.run(main())


def locked_by_another_process(path: Path) -> sqlite3.Connection:
    """A plain connection, as another process would have, holding the write lock."""
    other = sqlite3.connect(path / "kassa.db", isolation_level=None)
    other.execute("BEGIN IMMEDIATE")
    return other


def test_a_write_waits_for_another_process_lock_while_the_loop_keeps_running(
    tmp_path: Path,
) -> None:
    async def scenario(database: Database) -> tuple[int, list[int], list[int]]:
        other = locked_by_another_process(tmp_path)
        ticks = 0

        async def tick() -> None:
            nonlocal ticks
            while True:
                await asyncio.sleep(0.005)
                ticks += 1

        async def write() -> None:
            async with database.write() as conn:
                await conn.execute(text("INSERT INTO t VALUES (1)"))

        ticker = asyncio.create_task(tick())
        writing = asyncio.create_task(write())
        await asyncio.sleep(0.3)
        seen_while_locked = [row[0] for row in other.execute("SELECT n FROM t")]
        assert not writing.done()
        other.execute("COMMIT")
        other.close()
        await asyncio.wait_for(writing, 5)
        ticker.cancel()
        async with database.read() as conn:
            after = list((await conn.execute(text("SELECT n FROM t"))).scalars())
        return ticks, seen_while_locked, after

    ticks, seen_while_locked, after = run(tmp_path, scenario)
    assert ticks >= 20, "the loop stood still while the writer waited for the lock"
    assert seen_while_locked == []
    assert after == [1]


def test_a_write_gives_up_after_the_busy_timeout(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(store_db, "SQLITE_BUSY_TIMEOUT", 0.2)

    async def scenario(database: Database) -> float:
        other = locked_by_another_process(tmp_path)
        loop = asyncio.get_running_loop()
        started = loop.time()
        try:
            with pytest.raises(OperationalError, match="database is locked"):
                async with database.write() as conn:
                    await conn.execute(text("INSERT INTO t VALUES (1)"))
        finally:
            other.close()
        return loop.time() - started

    assert 0.2 <= run(tmp_path, scenario) < 2


def test_writers_take_their_turns_in_the_order_they_came(tmp_path: Path) -> None:
    """A writer that comes just as the connection is released does not overtake one that was
    already waiting for it."""

    async def scenario(database: Database) -> list[str]:
        order: list[str] = []
        holding = asyncio.Event()
        releasing = asyncio.Event()

        async def holder() -> None:
            async with database.write():
                order.append("holder")
                holding.set()
                await asyncio.sleep(0.05)
                # Wakes the newcomer after the connection is released (which the pool does in
                # a task of its own) and before the waiter's turn comes round: the moment a
                # request arriving on a busy server meets.
                asyncio.get_running_loop().call_soon(releasing.set)

        async def waiter() -> None:
            await holding.wait()
            async with database.write():
                order.append("waiter")

        async def newcomer() -> None:
            await releasing.wait()
            async with database.write():
                order.append("newcomer")

        await asyncio.gather(holder(), waiter(), newcomer())
        return order

    assert run(tmp_path, scenario) == ["holder", "waiter", "newcomer"]


def test_the_write_ahead_log_is_checkpointed_off_the_loop_every_so_many_commits(
    tmp_path: Path,
) -> None:
    blob = b"x" * 100_000

    async def main_file_size(checkpoint_every: int) -> int:
        path = tmp_path / f"every-{checkpoint_every}.db"
        connect = connector(
            str(path),
            pragmas=["PRAGMA journal_mode=WAL"],
            busy_timeout=1,
            checkpoint_every=checkpoint_every,
        )
        conn: InlineConnection = await connect()
        await conn.execute("CREATE TABLE b (x BLOB)")
        await conn.commit()
        for _ in range(3):
            await conn.execute("BEGIN")
            await conn.execute("INSERT INTO b VALUES (?)", (blob,))
            await conn.commit()
        for _ in range(40):  # a checkpoint started runs on a worker thread
            await asyncio.sleep(0.05)
            if path.stat().st_size > 300_000:
                break
        size = path.stat().st_size
        await conn.close()  # closing the last connection checkpoints in any case
        return size

    async def both() -> tuple[int, int]:
        return await main_file_size(1000), await main_file_size(4)

    never, checkpointed = asyncio.run(both())
    assert never < 100_000, "the writer checkpointed in a commit, on the loop"
    assert checkpointed > 300_000, "the four commits were not checkpointed"


_WRITER_SCRIPT = """
import asyncio, sys, time
from sqlalchemy import text
from kassa.store.db import Database

async def main():
    database = Database(sys.argv[1])
    print("ready", flush=True)
    sys.stdin.readline()
    started = time.time()
    for n in range(int(sys.argv[2])):
        async with database.write() as conn:
            await conn.execute(text("INSERT INTO t VALUES (:n)"), {"n": n})
    print(started, time.time(), flush=True)
    await database.dispose()

asyncio.run(main())
"""


def test_two_processes_writing_at_once_both_get_every_write_in(tmp_path: Path) -> None:
    """Each process's writer meets the other's lock and waits for it: nothing is refused."""
    writes = 1000

    async def scenario(database: Database) -> tuple[list[Any], list[float], list[float]]:
        other = await asyncio.create_subprocess_exec(
            sys.executable,
            "-c",
            _WRITER_SCRIPT,
            str(database.url),
            str(writes),
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
        )
        assert other.stdin is not None
        assert other.stdout is not None
        assert await asyncio.wait_for(other.stdout.readline(), 30) == b"ready\n"
        other.stdin.write(b"go\n")
        here = [time.time()]
        for n in range(writes):
            async with database.write() as conn:
                await conn.execute(text("INSERT INTO t VALUES (:n)"), {"n": n})
        here.append(time.time())
        there = [float(t) for t in (await asyncio.wait_for(other.stdout.readline(), 60)).split()]
        assert await asyncio.wait_for(other.wait(), 30) == 0
        async with database.read() as conn:
            counts = list(await conn.execute(text("SELECT n, count(*) FROM t GROUP BY n")))
        return counts, here, there

    counts, here, there = run(tmp_path, scenario)
    overlap = min(here[1], there[1]) - max(here[0], there[0])
    assert overlap > 0, "the two processes did not write at once"
    assert [tuple(row) for row in counts] == [(n, 2) for n in range(writes)]
