"""Wake-ups for the webhook dispatcher: "events were committed, fan them out now".

`event_written` is called in the transaction that writes an event. Once that transaction
commits, `Database.write` tells this process's `Database.on_commit` listeners (the dispatcher of
the background loop). On PostgreSQL it also sends `pg_notify` in that transaction (delivered
exactly when it commits) and every dispatcher LISTENs (`listen`), so a `kassa worker` in
another process wakes too. A wake-up is only a hint to look at the outbox: missing one delays an
event until the dispatcher's next periodic look, it never loses one.
"""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncConnection

from kassa.store import Database
from kassa.store.compiled import fetch_all
from kassa.store.db import touch
from kassa.store.listen import listen as store_listen

#: The topic of `Database.touch`, and the PostgreSQL channel.
TOPIC = "events"
CHANNEL = "kassa_events"
#: Built once: `fetch_all` keeps its compiled form by statement.
_NOTIFY = select(func.pg_notify(CHANNEL, "").label("notified"))


async def event_written(conn: AsyncConnection) -> None:
    """Wake the dispatchers once the transaction on `conn` commits (once per transaction)."""
    if touch(conn, TOPIC) and conn.dialect.name == "postgresql":
        await fetch_all(conn, _NOTIFY, {})


def on_events(db: Database, wake: Callable[[], None]) -> Callable[[], None]:
    """Call `wake` whenever a transaction of this process that wrote events commits; returns
    the unsubscribe."""

    def heard(topics: frozenset[str]) -> None:
        if TOPIC in topics:
            wake()

    return db.on_commit(heard)


async def listen(db: Database, wake: Callable[[], None]) -> None:
    """On PostgreSQL, call `wake` for every NOTIFY of events committed by any process, until
    cancelled, reconnecting after a lost connection (and waking then, for what it missed)."""
    await store_listen(db, CHANNEL, lambda _payload: wake(), on_connect=wake)
