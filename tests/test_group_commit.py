"""`Database.write_together`: a unit that raises is rolled back alone, on both databases; on
SQLite units handed in together share one commit (group commit, `kassa.store.group_commit`),
while PostgreSQL gives each its own transaction, side by side on its pool; and a unit whose
caller has gone before its turn is not run. Units that come with a batch share a commit on
both databases and are done together by it, which may hand some back to run alone; a batch
that fails is undone and its units run alone."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import cast

import pytest
from sqlalchemy import make_url, text
from sqlalchemy.ext.asyncio import AsyncConnection

from kassa.store import group_commit
from kassa.store.db import Database, touch


def insert(n: int, ran: list[int]) -> Callable[[AsyncConnection], Awaitable[int]]:
    """A unit that inserts `n` (noting in `ran` that it ran), and raises after it if `n` is 3."""

    async def unit(conn: AsyncConnection) -> int:
        ran.append(n)
        touch(conn, "grouped")
        await conn.execute(text("INSERT INTO grouped VALUES (:n)"), {"n": n})
        if n == 3:
            raise ValueError("three is refused after its insert")
        return n

    return unit


def is_sqlite(database_url: str) -> bool:
    return make_url(database_url).get_backend_name() == "sqlite"


@dataclass
class HandedIn:
    """What became of six units handed in at once (the fourth raises)."""

    results: list[int | BaseException]
    rows: list[int]
    #: The units that ran on their own (not done by a batch).
    alone: list[int]
    commits: int


def hand_in_six(database_url: str, batch: group_commit.Batch | None = None) -> HandedIn:
    """Hand in six `insert` units at once, with `batch` if given."""

    async def scenario() -> HandedIn:
        database = Database(database_url)
        try:
            async with database.write() as conn:
                await conn.execute(text("DROP TABLE IF EXISTS grouped"))
                await conn.execute(text("CREATE TABLE grouped (n INTEGER)"))
            commits: list[frozenset[str]] = []
            database.on_commit(commits.append)
            alone: list[int] = []
            results = await asyncio.gather(
                *(database.write_together(insert(n, alone), batch=batch, item=n) for n in range(6)),
                return_exceptions=True,
            )
            async with database.read() as conn:
                rows = sorted((await conn.execute(text("SELECT n FROM grouped"))).scalars())
            return HandedIn(results, rows, sorted(alone), len(commits))
        finally:
            await database.dispose()

    return asyncio.run(scenario())


def test_one_unit_that_raises_is_undone_alone_and_on_sqlite_the_rest_share_a_commit(
    own_database_url: str,
) -> None:
    handed = hand_in_six(own_database_url)
    assert handed.results[:3] == [0, 1, 2]
    assert isinstance(handed.results[3], ValueError)
    assert handed.results[4:] == [4, 5]
    assert handed.rows == [0, 1, 2, 4, 5]
    if is_sqlite(own_database_url):
        assert handed.commits == 1, "the six units did not share one commit"
    else:
        assert handed.commits == 5, "each unit that did not raise commits on its own"


def test_a_group_has_at_most_max_group_units(
    own_database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    if not is_sqlite(own_database_url):
        pytest.skip("PostgreSQL gives every unit a transaction of its own")
    monkeypatch.setattr(group_commit, "MAX_GROUP", 2)
    handed = hand_in_six(own_database_url)
    assert handed.rows == [0, 1, 2, 4, 5]
    assert handed.commits == 3


def test_a_unit_whose_caller_has_gone_before_its_turn_is_not_run(own_database_url: str) -> None:
    if not is_sqlite(own_database_url):
        pytest.skip("PostgreSQL gives every unit a transaction of its own")

    async def scenario() -> list[int]:
        database = Database(own_database_url)
        try:
            async with database.write() as conn:
                await conn.execute(text("DROP TABLE IF EXISTS grouped"))
                await conn.execute(text("CREATE TABLE grouped (n INTEGER)"))
                # The writer is busy: the unit waits for the next group, and its caller goes.
                ran: list[int] = []
                caller = asyncio.create_task(database.write_together(insert(7, ran)))
                await asyncio.sleep(0.05)
                caller.cancel()
            await asyncio.sleep(0.1)  # the group's turn comes and goes
            async with database.read() as conn:
                return list((await conn.execute(text("SELECT n FROM grouped"))).scalars())
        finally:
            await database.dispose()

    assert asyncio.run(scenario()) == []


async def insert_together(conn: AsyncConnection, items: Sequence[int]) -> list[object]:
    """A batch for `insert`'s units: one statement for the items it takes; it refuses 3
    (writing nothing for it) and hands 5 back to run alone."""
    taken = [n for n in items if n not in (3, 5)]
    await conn.execute(text("INSERT INTO grouped VALUES (:n)"), [{"n": n} for n in taken])
    answers: dict[int, object] = {3: ValueError("three is refused"), 5: group_commit.RUN_ALONE}
    return [answers.get(n, n) for n in items]


async def failing_batch(conn: AsyncConnection, items: Sequence[int]) -> list[object]:
    await conn.execute(text("INSERT INTO grouped VALUES (:n)"), [{"n": n} for n in items])
    raise RuntimeError("the batch fails after writing")


def test_a_batch_does_the_units_it_takes_and_hands_the_others_back(
    own_database_url: str,
) -> None:
    handed = hand_in_six(own_database_url, insert_together)
    assert handed.results[:3] == [0, 1, 2]
    assert isinstance(handed.results[3], ValueError)
    assert handed.results[4:] == [4, 5]
    assert handed.rows == [0, 1, 2, 4, 5]
    assert handed.alone == [5], "only the unit the batch handed back ran alone"
    assert handed.commits == 1


def test_a_batch_that_fails_is_rolled_back_and_its_units_run_alone(
    own_database_url: str,
) -> None:
    handed = hand_in_six(own_database_url, failing_batch)
    assert handed.results[:3] == [0, 1, 2]
    assert isinstance(handed.results[3], ValueError)
    assert handed.results[4:] == [4, 5]
    assert handed.rows == [0, 1, 2, 4, 5], "the failed batch's own writes did not stay"
    assert handed.alone == [0, 1, 2, 3, 4, 5]
    assert handed.commits == 1


def test_up_to_in_flight_groups_are_under_way_at_once() -> None:
    """With `in_flight=2` (PostgreSQL's), a second group starts while the first waits on the
    database, once `MIN_ALONGSIDE` units are waiting, and no third; every unit is still
    answered, once its group has committed."""
    enough = group_commit.MIN_ALONGSIDE

    async def scenario() -> tuple[list[int], list[int]]:
        under_way, most = 0, 0
        release = asyncio.Event()

        @asynccontextmanager
        async def transaction() -> AsyncIterator[AsyncConnection]:
            nonlocal under_way, most
            under_way += 1
            most = max(most, under_way)
            try:
                yield cast(AsyncConnection, FakeConnection())
                await release.wait()  # the commit waits for the database
            finally:
                under_way -= 1

        groups = group_commit.GroupCommit(transaction, in_flight=2)

        async def unit(n: int) -> int:
            return await groups.run(lambda _conn: asyncio.sleep(0, n))

        tasks: list[asyncio.Task[int]] = []
        seen = []
        # One unit starts a group, which waits on the database while more arrive: too few to
        # start a second, then enough, then more, which wait for a group under way.
        for arriving in (1, enough - 1, 1, enough):
            tasks += [asyncio.create_task(unit(len(tasks) + n)) for n in range(arriving)]
            await asyncio.sleep(0.01)
            seen.append(most)
        release.set()
        return seen, list(await asyncio.gather(*tasks))

    seen, results = asyncio.run(scenario())
    assert seen == [1, 1, 2, 2], "not a second group (only) once enough units waited"
    assert results == list(range(2 * enough + 1))


class FakeConnection:
    """Enough of a connection for units that do not touch it: savepoints that do nothing."""

    @asynccontextmanager
    async def begin_nested(self) -> AsyncIterator[None]:
        yield
