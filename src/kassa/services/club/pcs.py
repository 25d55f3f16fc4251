"""A club's PCs: devices of kind `club_pc` of the device core, placed in a club and a zone.

The PC's name (its hostname, `PC-01`) is its device id, so it is unique within the shop,
across the shop's clubs and its other devices; its alias, what staff see, is the device's
`name`. Tokens, revocation, enabling and presence are the device core's
(`kassa.services.devices.registry`, `presence`), as for kiosk terminals: a PC's token is
shown once, when it is added or revoked.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Select, select
from sqlalchemy.ext.asyncio import AsyncConnection

from kassa.domain import NotFound
from kassa.domain.club_sessions import Liveness, liveness
from kassa.domain.devices import Device
from kassa.services.admin.audit import Actor
from kassa.services.club.clubs import Club, find_zone
from kassa.services.context import Context
from kassa.services.devices import registry
from kassa.services.devices import tokens as device_tokens
from kassa.services.devices.club_pcs import KIND
from kassa.services.devices.presence import ONLINE_WITHIN
from kassa.services.devices.registry import Issued, device_record
from kassa.services.shops import shops
from kassa.store.tables import club_pc_states, club_pcs, club_zones
from kassa.store.tables import terminals as devices


@dataclass(frozen=True, slots=True)
class Pc:
    """A PC of a club and its device."""

    device: Device
    club_id: str
    zone: str

    @property
    def name(self) -> str:
        return self.device.id

    @property
    def alias(self) -> str:
        return self.device.name

    def online(self, now: datetime) -> bool:
        return self.device.online(now, within=ONLINE_WITHIN)


async def add(
    ctx: Context,
    *,
    club: Club,
    name: str,
    zone: str,
    alias: str | None = None,
    actor: Actor | None = None,
) -> tuple[Pc, str]:
    """A new PC of `club` in `zone`, and its first token (shown once)."""
    shop = await shops.get_shop(ctx, shop_id=club.shop_id)

    async def placed(conn: AsyncConnection) -> None:
        found = await find_zone(conn, club=club, name=zone)
        await conn.execute(
            club_pcs.insert().values(
                shop_id=shop.id,
                device_id=name,
                club_id=club.id,
                zone_id=found.id,
                created_at=ctx.clock(),
            )
        )

    device = await registry.add_device(
        ctx, kind=KIND, shop=shop, device_id=name, name=alias, actor=actor, placed=placed
    )
    return Pc(device, club.id, zone), await device_tokens.issue(ctx, device)


def _query(club: Club) -> Select[Any]:
    return (
        select(devices, club_zones.c.name.label("zone_name"))
        .join(
            club_pcs,
            (club_pcs.c.shop_id == devices.c.shop_id) & (club_pcs.c.device_id == devices.c.id),
        )
        .join(club_zones, club_zones.c.id == club_pcs.c.zone_id)
        .where(club_pcs.c.club_id == club.id, devices.c.kind == KIND.value)
    )


async def list_pcs(ctx: Context, *, club: Club) -> list[Pc]:
    """The club's PCs by name."""
    async with ctx.db.read() as conn:
        rows = (await conn.execute(_query(club).order_by(devices.c.id))).mappings().all()
    return [Pc(device_record(row), club.id, row["zone_name"]) for row in rows]


@dataclass(frozen=True, slots=True)
class Report:
    """What a PC's agent last said in a heartbeat (as the floor wrote it, at most a round
    late), judged by the server's clock."""

    heartbeat_at: datetime | None
    #: Its screen then: `locked` or `unlocked` (`kassa.protocol.club.PcState`); None: not said.
    screen: str | None
    #: Its silence since (`Liveness`: online, stale, offline).
    liveness: str
    #: What its agent said was wrong with it (`kassa.protocol.club`: a heartbeat's `alarms`).
    alarms: tuple[str, ...] = ()

    @property
    def silent(self) -> bool:
        return self.liveness != Liveness.ONLINE


async def reports(ctx: Context, *, club: Club) -> dict[str, Report]:
    """The last heartbeat's report of each of the club's PCs that ever linked, by PC name."""
    now = ctx.clock()
    s = club_pc_states.c
    query = select(s.device_id, s.heartbeat_at, s.reported).where(s.club_id == club.id)
    async with ctx.db.read() as conn:
        rows = (await conn.execute(query)).all()
    return {
        row.device_id: Report(
            heartbeat_at=row.heartbeat_at,
            screen=(row.reported or {}).get("state"),
            liveness=liveness(row.heartbeat_at, now),
            alarms=tuple((row.reported or {}).get("alarms") or ()),
        )
        for row in rows
    }


async def get(ctx: Context, *, club: Club, name: str) -> Pc:
    async with ctx.db.read() as conn:
        row = (await conn.execute(_query(club).where(devices.c.id == name))).mappings().first()
    if row is None:
        raise NotFound(f"Club {club.name} has no PC {name!r}", param="pc")
    return Pc(device_record(row), club.id, row["zone_name"])


async def revoke(ctx: Context, *, club: Club, name: str, actor: Actor | None = None) -> Issued:
    """Make every token of the PC useless (its agent is cut off) and issue a new one."""
    pc = await get(ctx, club=club, name=name)
    return await registry.revoke(ctx, device=pc.device, actor=actor)
