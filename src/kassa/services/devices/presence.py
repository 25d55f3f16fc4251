"""Which devices are connected, and when each was last seen: written by the hub process an
agent is connected to, read by everyone who shows a device as online or offline."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import bindparam, update

from kassa.domain.devices import AgentKind, Device
from kassa.services.context import Context
from kassa.services.devices.registry import key
from kassa.store.tables import terminals as devices

#: A connected device's hub process refreshes `last_seen_at` this often …
PRESENCE_INTERVAL = 30.0
#: … so a device not seen for this long is offline (its hub process died, say).
ONLINE_WITHIN = timedelta(seconds=90)
#: Device ids per `UPDATE … WHERE id IN (…)` when marking devices seen (SQLite takes 32,766
#: bound values per statement; PostgreSQL 65,535).
IDS_PER_STATEMENT = 1000


async def mark_connected(
    ctx: Context, device: Device, *, kind: AgentKind, version: str | None
) -> None:
    now = ctx.clock()
    async with ctx.db.write() as conn:
        await conn.execute(
            update(devices)
            .where(key(device.shop_id, device.id))
            .values(
                connected_at=now,
                last_seen_at=now,
                agent_kind=kind.value,
                agent_version=(version or "")[:64] or None,
            )
        )


async def mark_disconnected(ctx: Context, device: Device, *, since: datetime) -> None:
    """Offline, unless a newer connection (after `since`) has taken over meanwhile."""
    async with ctx.db.write() as conn:
        await conn.execute(
            update(devices)
            .where(key(device.shop_id, device.id), devices.c.connected_at <= since)
            .values(connected_at=None, last_seen_at=ctx.clock())
        )


@dataclass(frozen=True, slots=True)
class Heartbeat:
    """What an agent last reported about itself: its local services' health and counters."""

    shop_id: str
    device_id: str
    health: Mapping[str, Any]
    stats: Mapping[str, Any]


async def keep_present(
    ctx: Context, connected: Iterable[tuple[str, str]], heartbeats: Iterable[Heartbeat] = ()
) -> None:
    """Store the latest heartbeats of devices connected to this process (which also marks
    them seen now), and mark the `connected` ones (shop id, device id) seen now.

    A hub with thousands of agents writes this every few seconds in one transaction, not
    once per heartbeat nor in many small transactions: with SQLite's one writer, a round
    that holds it for a few tens of milliseconds delays the few operations that arrive
    meanwhile, while the same rows spread over a second of small transactions would delay
    every operation of that second."""
    now = ctx.clock()
    reports = [
        {
            "key_shop": beat.shop_id,
            "key_id": beat.device_id,
            "health": dict(beat.health),
            "stats": dict(beat.stats),
        }
        for beat in heartbeats
    ]
    by_shop: dict[str, list[str]] = {}
    for shop_id, device_id in connected:
        by_shop.setdefault(shop_id, []).append(device_id)
    if not reports and not by_shop:
        return
    store = (
        update(devices)
        .where(devices.c.shop_id == bindparam("key_shop"), devices.c.id == bindparam("key_id"))
        .values(health=bindparam("health"), stats=bindparam("stats"), last_seen_at=now)
    )
    async with ctx.db.write() as conn:
        if reports:
            await conn.execute(store, reports)
        for shop_id, ids in by_shop.items():
            for start in range(0, len(ids), IDS_PER_STATEMENT):
                await conn.execute(
                    update(devices)
                    .where(
                        devices.c.shop_id == shop_id,
                        devices.c.id.in_(ids[start : start + IDS_PER_STATEMENT]),
                    )
                    .values(last_seen_at=now)
                )
