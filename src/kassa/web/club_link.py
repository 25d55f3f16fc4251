"""`/club/ws`: a club PC's link. Kassa's device protocol (`serve_link`: tokens of kind
`club_pc`, operations with acks and de-duplication by request id) with the club's own
welcome and heartbeats (`kassa.protocol.club`), and the process's hub and floor for the PCs
(`kassa.services.club.floor`)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

from fastapi import APIRouter, FastAPI, WebSocket

from kassa.domain.devices import DeviceKind
from kassa.protocol.club import LEASE, PATH, Lease
from kassa.services.club.floor import Floor, Key
from kassa.services.context import Context
from kassa.services.devices import club_pcs
from kassa.services.devices.hub import DeviceHub
from kassa.services.devices.signals import Signal, listen
from kassa.services.objects import timestamp
from kassa.web.terminals.kassa_link import KassaLink, serve_link

router = APIRouter()


@contextlib.asynccontextmanager
async def running_floor(app: FastAPI, ctx: Context) -> AsyncIterator[Floor]:
    """The process's hub for club PCs and its floor (and, on PostgreSQL, its LISTEN for the
    other processes' signals) for as long as the app runs."""
    hub = DeviceHub(ctx, club_pcs.RULES)

    async def push(key: Key, lease: Lease) -> None:
        link = hub.links.get(key)
        if isinstance(link, KassaLink):
            await link.send(LEASE, lease.to_data() | {"server_time": timestamp(ctx.clock())})

    floor = Floor(ctx, hub, push)
    app.state.club_floor = floor
    hub.start()
    floor.start()

    def heard(signal: Signal) -> None:
        hub.heard(signal)
        floor.heard(signal)

    listener = asyncio.create_task(listen(ctx.db, heard)) if not ctx.db.is_sqlite else None
    try:
        yield floor
    finally:
        if listener is not None:
            listener.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await listener
        await floor.stop()
        await hub.stop()


@router.websocket(PATH)
async def pc_socket(websocket: WebSocket) -> None:
    floor: Floor = websocket.app.state.club_floor

    async def welcome(link: KassaLink, hello: dict[str, Any]) -> dict[str, Any]:
        return await floor.attach(*link.key, link)

    async def heartbeat(link: KassaLink, data: dict[str, Any]) -> None:
        lease = await floor.heartbeat(*link.key, data)
        now = timestamp(floor.ctx.clock())
        await link.send(LEASE, lease.to_data() | {"heartbeat": data.get("seq"), "server_time": now})

    def detached(link: KassaLink) -> None:
        floor.detach(*link.key, link)

    await serve_link(
        websocket,
        floor.hub,
        kind=DeviceKind.CLUB_PC,
        welcome=welcome,
        heartbeat=heartbeat,
        detached=detached,
    )
