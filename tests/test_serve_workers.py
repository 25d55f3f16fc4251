"""`kassa serve --workers N`: several processes serving one port on PostgreSQL, the background
loop run by one of them at a time (elected by an advisory lock, `kassa.store.leader`), taken
over when that one dies; refused on SQLite."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
from sqlalchemy import make_url

from kassa.config import Settings
from kassa.services.context import Context
from kassa.store import Database
from kassa.store.leader import Leadership
from kassa.store.listen import driver_dsn
from tests.live import Served, serve_process

LEADS = "this process leads"
LOOP_STARTED = "background loop started"


@pytest.fixture
def postgres_url(own_database_url: str) -> str:
    if make_url(own_database_url).get_backend_name() != "postgresql":
        pytest.skip("--workers serves PostgreSQL only")
    return own_database_url


def eventually(check: Callable[[], bool], *, what: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, f"waited {timeout} s for {what}"
        time.sleep(0.05)


class Processes:
    """What the processes behind one port said about themselves at `/healthz`, each a new
    connection (the kernel hands each to one of the processes)."""

    def __init__(self, served: Served) -> None:
        self.served = served
        #: The latest answer of each process, by pid.
        self.background: dict[int, bool] = {}

    def ask(self) -> None:
        try:
            answer = httpx.get(f"{self.served.base}/healthz").json()
        except httpx.TransportError:  # a process dying with the connection
            return
        self.background[answer["pid"]] = answer["background"]

    def leaders(self) -> set[int]:
        return {pid for pid, leads in self.background.items() if leads}


def test_two_workers_serve_the_port_and_one_runs_the_background_loop(
    postgres_url: str, tmp_path: Path
) -> None:
    with serve_process(tmp_path, "--workers", "2", database_url=postgres_url) as served:
        seen = Processes(served)

        def both_answered_and_one_leads() -> bool:
            seen.ask()
            return len(seen.background) == 2 and len(seen.leaders()) == 1

        eventually(both_answered_and_one_leads, what=f"both workers, one leading:\n{served.text}")
        (leader,) = seen.leaders()
        assert served.text.count(LEADS) == 1, served.text
        assert served.text.count(LOOP_STARTED) == 1, served.text

        # The leader dies: uvicorn starts a new process, and one of the others leads.
        os.kill(leader, signal.SIGKILL)
        del seen.background[leader]

        def another_leads() -> bool:
            seen.ask()
            return bool(seen.leaders()) and served.text.count(LOOP_STARTED) == 2

        eventually(another_leads, what=f"another process to take over:\n{served.text}")
        assert leader not in seen.leaders()
        assert served.text.count(LEADS) == 2, served.text


def test_workers_need_postgresql(tmp_path: Path) -> None:
    env = {**os.environ, "KASSA_DATA_DIR": str(tmp_path)}
    env.pop("KASSA_DATABASE_URL", None)
    done = subprocess.run(
        [sys.executable, "-m", "kassa", "serve", "--workers", "2"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 2, done.stderr
    assert "--workers needs PostgreSQL" in " ".join(done.stderr.split())
    assert not (tmp_path / "kassa.db").exists()  # refused before anything was done


def test_a_waiting_process_leads_once_the_leader_resigns_or_its_session_ends(
    postgres_url: str,
) -> None:
    """Two contenders in one process, each with a connection of its own as two processes
    have: the second leads when the first stops, and again when its session is killed."""

    async def scenario() -> None:
        db = Database(postgres_url)
        terms: list[str] = []

        def work(name: str) -> Callable[[asyncio.Event], Awaitable[None]]:
            async def lead(resign: asyncio.Event) -> None:
                terms.append(name)
                await resign.wait()

            return lead

        first, second = Leadership(db, "test lock"), Leadership(db, "test lock")
        stop_first, stop_second = asyncio.Event(), asyncio.Event()
        running_first = asyncio.create_task(first.run(work("first"), stop_first))
        await until(lambda: first.leading)
        running_second = asyncio.create_task(second.run(work("second"), stop_second))
        await asyncio.sleep(0.5)
        assert (first.leading, second.leading, terms) == (True, False, ["first"])

        stop_first.set()
        await running_first
        await until(lambda: second.leading)
        assert terms == ["first", "second"]

        # The leader's session ends under it (its process died, or the server cut it): it
        # steps down, and leads again once it has the lock again.
        conn = await asyncpg.connect(driver_dsn(db))
        try:
            await conn.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_locks"
                " WHERE locktype = 'advisory' AND granted AND pid <> pg_backend_pid()"
                " AND database = (SELECT oid FROM pg_database WHERE datname = current_database())"
            )
        finally:
            await conn.close()
        await until(lambda: terms == ["first", "second", "second"])
        stop_second.set()
        await running_second
        assert not second.leading
        await db.dispose()

    asyncio.run(scenario())


async def until(check: Callable[[], bool], within: float = 20) -> None:
    deadline = time.monotonic() + within
    while not check():
        assert time.monotonic() < deadline, "waited too long"
        await asyncio.sleep(0.05)


def test_each_process_keeps_the_pool_size_it_is_given(database_url: str) -> None:
    """`KASSA_DATABASE_POOL_SIZE`: how N processes are kept under PostgreSQL's
    `max_connections`."""

    async def sizes() -> tuple[int, int]:
        ctx = Context.open(Settings(database_url=database_url, database_pool_size=3))
        try:
            pool: Any = ctx.db._reader.pool
            return pool.size(), pool._max_overflow
        finally:
            await ctx.close()

    size, overflow = asyncio.run(sizes())
    assert size == 3
    if make_url(database_url).get_backend_name() == "postgresql":
        assert overflow == 6
