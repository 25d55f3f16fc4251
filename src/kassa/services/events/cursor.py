"""A reader's position in the outbox (`events.seq`), safe with several workers on PostgreSQL.

On PostgreSQL an event's `seq` is taken when its row is inserted but becomes visible only when
its transaction commits, so seq 41 may appear after seq 42 (or never, if rolled back). A reader
that simply remembered "done up to 42" would skip 41 for good. So the cursor only moves over
seqs that are all visible; at the first gap it stops, and the reader looks again at everything
above it on every round (it must recognise what it has already handled, e.g. by a unique row
per event). A gap that stays open for `GAP_TIMEOUT` after it was first seen belonged to a
rolled-back transaction (Kassa's transactions last milliseconds) and is then stepped over.

"When it was first seen" is the reader's own clock at that moment, not the event's
`created_at`: a service may take `created_at` before a provider call and insert the event
seconds later. SQLite has a single writer, so it never shows gaps; the same code runs there.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import exists, func, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from kassa.store.db import insert_ignoring_conflict
from kassa.store.tables import events, outbox_cursors

GAP_TIMEOUT = timedelta(minutes=2)


@dataclass(frozen=True, slots=True)
class Position:
    """Where a cursor is: every visible event up to `seq` is handled. `waiting_seq` is set
    while it waits at a gap: the newest seq it had seen then, and since when it waits."""

    seq: int
    waiting_seq: int | None = None
    waiting_since: datetime | None = None


@dataclass(frozen=True, slots=True)
class Window:
    """The events a reader looks at in one round: `position.seq < seq <= upto`. `gap` is the
    first seq in that range that was not visible when the window was opened."""

    name: str
    position: Position
    upto: int
    gap: int | None


async def created(conn: AsyncConnection, name: str) -> bool:
    """Whether the cursor `name` has been created."""
    query = select(outbox_cursors.c.name).where(outbox_cursors.c.name == name)
    return (await conn.execute(query)).first() is not None


async def create(conn: AsyncConnection, name: str, *, at_end: bool) -> None:
    """Create the cursor `name` unless another worker just did: at the end of the outbox (its
    reader gets what is written from now on) or, unless `at_end`, before the first event."""
    seq = await _newest(conn) if at_end else 0
    statement = insert_ignoring_conflict(conn.dialect.name, outbox_cursors, index_elements=["name"])
    await conn.execute(statement, {"name": name, "seq": seq})


async def open_window(conn: AsyncConnection, name: str) -> Window:
    """The window of the cursor `name`: from its position to the newest event now visible.
    Gaps are looked for before the reader reads any event, so an event committing meanwhile
    is either read, or keeps the cursor below it until the next round."""
    row = (
        (await conn.execute(select(outbox_cursors).where(outbox_cursors.c.name == name)))
        .mappings()
        .one()
    )
    position = Position(int(row["seq"]), row["waiting_seq"], row["waiting_since"])
    after = position.seq
    upto = await _newest(conn)
    gap = await _first_gap(conn, after, upto) if upto > after else None
    return Window(name=name, position=position, upto=max(after, upto), gap=gap)


async def _newest(conn: AsyncConnection) -> int:
    """The newest visible event's seq, 0 if there is none."""
    newest = await conn.execute(select(func.coalesce(func.max(events.c.seq), 0)))
    return int(newest.scalar_one())


async def _first_gap(conn: AsyncConnection, after: int, upto: int) -> int | None:
    first = select(events.c.seq).where(events.c.seq == after + 1)
    if (await conn.execute(first)).first() is None:
        return after + 1
    following = events.alias("following")
    query = select(func.min(events.c.seq) + 1).where(
        events.c.seq > after,
        events.c.seq < upto,
        ~exists().where(following.c.seq == events.c.seq + 1),
    )
    gap = (await conn.execute(query)).scalar_one()
    return None if gap is None else int(gap)


def next_position(window: Window, *, handled_upto: int, now: datetime) -> Position:
    """Where the cursor goes once the reader handled every visible event of `window` up to
    `handled_upto` (an event it saw, or `window.upto`)."""
    gap = window.gap if window.gap is not None and window.gap <= handled_upto else None
    seq = handled_upto if gap is None else gap - 1
    waiting_seq, waiting_since = window.position.waiting_seq, window.position.waiting_since
    if waiting_seq is not None and waiting_since is not None and now - waiting_since >= GAP_TIMEOUT:
        # Everything up to `waiting_seq` has had its time to commit: step over its gaps.
        seq = max(seq, min(waiting_seq, handled_upto))
        waiting_seq = waiting_since = None
    if gap is None or seq >= handled_upto:
        return Position(seq)
    if waiting_seq is None:
        # Seqs below the newest one seen now were taken before it: wait for them from now.
        return Position(seq, handled_upto, now)
    return Position(seq, waiting_seq, waiting_since)


async def move(conn: AsyncConnection, window: Window, position: Position) -> None:
    """Store `position` unless another worker moved the cursor since `window` was opened."""
    await conn.execute(
        update(outbox_cursors)
        .where(
            outbox_cursors.c.name == window.name,
            outbox_cursors.c.seq == window.position.seq,
        )
        .values(
            seq=position.seq,
            waiting_seq=position.waiting_seq,
            waiting_since=position.waiting_since,
        )
    )
