"""Terminals on the web side: the WebSocket endpoints agents connect to, and the process's
hub for them (`kassa.services.devices.hub.DeviceHub` with the terminal kind's rules)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

from fastapi import FastAPI

from kassa.services.context import Context
from kassa.services.devices import terminals
from kassa.services.devices.hub import DeviceHub
from kassa.services.devices.signals import listen
from kassa.web.terminals import field_links, kassa_link, send


def install(app: FastAPI) -> None:
    app.include_router(kassa_link.router)
    app.include_router(field_links.router)
    app.include_router(send.router)


@contextlib.asynccontextmanager
async def running_hub(app: FastAPI, ctx: Context) -> AsyncIterator[DeviceHub]:
    """The process's terminal hub (and, on PostgreSQL, its LISTEN for other processes'
    signals) for as long as the app runs."""
    hub = DeviceHub(ctx, terminals.RULES)
    app.state.terminals = hub
    hub.start()
    listener = asyncio.create_task(listen(ctx.db, hub.heard)) if not ctx.db.is_sqlite else None
    try:
        yield hub
    finally:
        if listener is not None:
            listener.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await listener
        await hub.stop()
