"""Hears terminal signals from other hub processes (PostgreSQL LISTEN) and hands them to
this process's subscribers. See `kassa.services.terminal_signals`."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import asyncpg
from sqlalchemy import make_url

from kassa.services.context import Context
from kassa.services.terminal_signals import CHANNEL, Signal

log = logging.getLogger(__name__)

RETRY_AFTER = 2.0


async def listen(ctx: Context) -> None:
    """LISTEN until cancelled, reconnecting after a lost connection. Signals missed while
    reconnecting are covered by the hub's sweep."""
    dsn = make_url(ctx.db.url).set(drivername="postgresql").render_as_string(hide_password=False)

    def heard(_conn: Any, _pid: int, _channel: str, payload: str) -> None:
        signal = Signal.decode(payload)
        if signal is not None:
            ctx.signals.publish(signal)

    while True:
        try:
            conn = await asyncpg.connect(dsn)
        except (OSError, asyncpg.PostgresError) as exc:
            log.warning("cannot LISTEN for terminal signals (%s); retrying", exc)
            await asyncio.sleep(RETRY_AFTER)
            continue
        await _listen_until_lost(conn, heard)
        log.warning("the LISTEN connection for terminal signals was lost; reconnecting")


async def _listen_until_lost(conn: Any, heard: Any) -> None:
    lost = asyncio.Event()
    conn.add_termination_listener(lambda _conn: lost.set())
    try:
        await conn.add_listener(CHANNEL, heard)
        await lost.wait()
    finally:
        if not conn.is_closed():
            await conn.close()
