"""Hears terminal signals from other hub processes (PostgreSQL LISTEN) and hands them to
this process's subscribers. See `kassa.services.terminal_signals`; signals missed while the
connection is down are covered by the hub's sweep."""

from __future__ import annotations

from kassa.services.context import Context
from kassa.services.terminal_signals import CHANNEL, Signal
from kassa.store.listen import listen as store_listen


async def listen(ctx: Context) -> None:
    """LISTEN until cancelled."""

    def heard(payload: str) -> None:
        signal = Signal.decode(payload)
        if signal is not None:
            ctx.signals.publish(signal)

    await store_listen(ctx.db, CHANNEL, heard)
