"""Hears terminal signals from other hub processes (PostgreSQL LISTEN). See
`kassa.services.devices.signals`; signals missed while the connection is down are covered by
the hub's sweep."""

from __future__ import annotations

from collections.abc import Callable

from kassa.services.devices.signals import CHANNEL, Signal
from kassa.store import Database
from kassa.store.listen import listen as store_listen


async def listen(db: Database, heard: Callable[[Signal], None]) -> None:
    """LISTEN until cancelled, calling `heard` with every signal."""

    def payload(text: str) -> None:
        signal = Signal.decode(text)
        if signal is not None:
            heard(signal)

    await store_listen(db, CHANNEL, payload)
