"""PostgreSQL LISTEN, for hints from other processes (committed events, terminal work).

One dedicated asyncpg connection per channel, outside SQLAlchemy's pools, reconnecting after a
lost connection. Whatever is heard is only a hint to look at the database: a caller must cope
with missing some while the connection is down (`on_connect` is called after every
(re)connection, for the caller to catch up).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any

import asyncpg
from sqlalchemy import make_url

from kassa.store.db import Database

log = logging.getLogger(__name__)

RETRY_AFTER = 2.0


def driver_dsn(db: Database) -> str:
    """The database's URL as asyncpg's own `connect` takes it, for a connection of its own
    outside SQLAlchemy's pools."""
    return make_url(db.url).set(drivername="postgresql").render_as_string(hide_password=False)


async def listen(
    db: Database,
    channel: str,
    heard: Callable[[str], None],
    *,
    on_connect: Callable[[], None] | None = None,
) -> None:
    """Call `heard` with the payload of every NOTIFY on `channel`, until cancelled."""
    dsn = driver_dsn(db)
    while True:
        try:
            conn = await asyncpg.connect(dsn)
        except (OSError, asyncpg.PostgresError) as exc:
            log.warning("cannot LISTEN on %s (%s); retrying", channel, exc)
            await asyncio.sleep(RETRY_AFTER)
            continue
        await _until_lost(conn, channel, heard, on_connect)
        log.warning("the LISTEN connection for %s was lost; reconnecting", channel)


async def _until_lost(
    conn: Any,
    channel: str,
    heard: Callable[[str], None],
    on_connect: Callable[[], None] | None,
) -> None:
    lost = asyncio.Event()
    conn.add_termination_listener(lambda _conn: lost.set())
    try:
        await conn.add_listener(channel, lambda _conn, _pid, _channel, payload: heard(payload))
        if on_connect is not None:
            on_connect()
        await lost.wait()
    finally:
        if not conn.is_closed():
            await conn.close()
