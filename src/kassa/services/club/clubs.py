"""Clubs, their zones and their member groups.

A shop runs one or more clubs; a club's name is unique across Kassa and is what `{club}`
means in URLs and settings. Amounts of a club are in its currency's minor units; windows and
time-of-day prices are read in its time zone.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from kassa.domain import Conflict, NotFound, ParameterInvalid, Shop, new_id
from kassa.domain.club import OfflinePolicy, check_club_name, check_name
from kassa.domain.money import currency_exponent
from kassa.services.callers import Caller
from kassa.services.club import access
from kassa.services.club.access import Right
from kassa.services.context import Context
from kassa.services.shops.shops import check_timezone
from kassa.store.tables import club_groups, club_zones, clubs

DEFAULT_LEASE_MAX = 300
#: The languages of the PCs' screens.
LANGUAGES = ("ru", "en")
#: A lease between 30 s and an hour.
LEASE_RANGE = (30, 3600)


@dataclass(frozen=True, slots=True)
class Club:
    id: str
    shop_id: str
    name: str
    currency: str
    timezone: str
    lease_max: int
    offline_policy: str
    created_at: datetime
    #: Its PCs' screens' language (`LANGUAGES`).
    language: str = "ru"
    #: Its PCs' online top-ups are made in test mode (the sandbox), else live.
    test: bool = False

    @property
    def zone_info(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    def local(self, moment: datetime) -> datetime:
        """`moment` on the club's wall clock."""
        return moment.astimezone(self.zone_info)


@dataclass(frozen=True, slots=True)
class Zone:
    id: str
    club_id: str
    name: str


@dataclass(frozen=True, slots=True)
class Group:
    id: str
    club_id: str
    name: str
    discount_percent: int


def _club(row: Any) -> Club:
    return Club(
        id=row.id,
        shop_id=row.shop_id,
        name=row.name,
        currency=row.currency,
        timezone=row.timezone,
        lease_max=row.lease_max,
        offline_policy=row.offline_policy,
        created_at=row.created_at,
        language=row.language,
        test=row.test,
    )


async def create(
    ctx: Context,
    *,
    shop: Shop,
    name: str,
    currency: str,
    timezone: str,
    lease_max: int = DEFAULT_LEASE_MAX,
    offline_policy: str = OfflinePolicy.LOCK,
    language: str = "ru",
    test: bool = False,
) -> Club:
    """A new club of `shop`."""
    check_club_name(name)
    currency = currency.upper()
    currency_exponent(currency)
    check_timezone(timezone)
    _check_settings(lease_max=lease_max, offline_policy=offline_policy, language=language)
    club = Club(
        id=new_id("club"),
        shop_id=shop.id,
        name=name,
        currency=currency,
        timezone=timezone,
        lease_max=lease_max,
        offline_policy=offline_policy,
        created_at=ctx.clock(),
        language=language,
        test=test,
    )
    try:
        async with ctx.db.write() as conn:
            await conn.execute(clubs.insert().values(**_values(club)))
    except IntegrityError:
        raise Conflict(f"There is a club named {name!r} already", param="name") from None
    return club


def _check_settings(
    *, lease_max: int | None, offline_policy: str | None, language: str | None
) -> None:
    """`ParameterInvalid` for a setting out of its range (None: not being set)."""
    if lease_max is not None and not LEASE_RANGE[0] <= lease_max <= LEASE_RANGE[1]:
        raise ParameterInvalid(
            f"lease_max is {LEASE_RANGE[0]}-{LEASE_RANGE[1]} seconds", param="lease_max"
        )
    if offline_policy is not None and offline_policy not in OfflinePolicy.ALL:
        raise ParameterInvalid("the offline policy is lock or continue", param="offline_policy")
    if language is not None and language not in LANGUAGES:
        raise ParameterInvalid("the language is ru or en", param="language")


async def configure(
    ctx: Context,
    *,
    club: Club,
    language: str | None = None,
    test: bool | None = None,
    lease_max: int | None = None,
    offline_policy: str | None = None,
) -> Club:
    """Change the club's settings that are given (None: kept); the club as it is then."""
    _check_settings(lease_max=lease_max, offline_policy=offline_policy, language=language)
    values: dict[str, Any] = {
        name: value
        for name, value in (
            ("language", language),
            ("test", test),
            ("lease_max", lease_max),
            ("offline_policy", offline_policy),
        )
        if value is not None
    }
    async with ctx.db.write() as conn:
        if values:
            await conn.execute(update(clubs).where(clubs.c.id == club.id).values(**values))
        return await find_by_id(conn, club_id=club.id)


def _values(club: Club) -> dict[str, Any]:
    return {name: getattr(club, name) for name in Club.__dataclass_fields__}


async def get(ctx: Context, *, name: str, shop: Shop | None = None) -> Club:
    """The club named `name`; with `shop`, only if it is that shop's (an API key's)."""
    query = select(clubs).where(clubs.c.name == name)
    if shop is not None:
        query = query.where(clubs.c.shop_id == shop.id)
    async with ctx.db.read() as conn:
        row = (await conn.execute(query)).first()
    if row is None:
        raise NotFound(f"No club {name!r}", param="club")
    return _club(row)


async def find_by_id(conn: AsyncConnection, *, club_id: str) -> Club:
    """The club with the id `club_id` (for work that names it by id: an event's)."""
    row = (await conn.execute(select(clubs).where(clubs.c.id == club_id))).first()
    if row is None:
        raise NotFound(f"No club {club_id!r}", param="club")
    return _club(row)


async def list_clubs(ctx: Context, *, shop: Shop | None = None) -> list[Club]:
    query = select(clubs).order_by(clubs.c.name)
    if shop is not None:
        query = query.where(clubs.c.shop_id == shop.id)
    async with ctx.db.read() as conn:
        return [_club(row) for row in await conn.execute(query)]


async def add_zone(ctx: Context, *, club: Club, name: str, caller: Caller | None = None) -> Zone:
    access.require(caller, Right.SETUP)
    zone = Zone(new_id("zone"), club.id, check_name(name, what="A zone"))
    try:
        async with ctx.db.write() as conn:
            await conn.execute(
                club_zones.insert().values(
                    id=zone.id, club_id=club.id, name=zone.name, created_at=ctx.clock()
                )
            )
    except IntegrityError:
        raise Conflict(f"Club {club.name} has a zone {name!r} already", param="name") from None
    return zone


async def list_zones(ctx: Context, *, club: Club) -> list[Zone]:
    query = select(club_zones).where(club_zones.c.club_id == club.id).order_by(club_zones.c.name)
    async with ctx.db.read() as conn:
        return [Zone(row.id, row.club_id, row.name) for row in await conn.execute(query)]


async def find_zone(conn: AsyncConnection, *, club: Club, name: str) -> Zone:
    """The club's zone `name`, or `NotFound`."""
    row = (
        await conn.execute(
            select(club_zones).where(club_zones.c.club_id == club.id, club_zones.c.name == name)
        )
    ).first()
    if row is None:
        raise NotFound(f"Club {club.name} has no zone {name!r}", param="zone")
    return Zone(row.id, row.club_id, row.name)


async def add_group(
    ctx: Context,
    *,
    club: Club,
    name: str,
    discount_percent: int,
    caller: Caller | None = None,
) -> Group:
    """A member group whose customers pay per-minute rates `discount_percent` lower."""
    access.require(caller, Right.SETUP)
    if not 0 <= discount_percent <= 100:
        raise ParameterInvalid("a discount is 0-100 percent", param="discount")
    group = Group(new_id("grp"), club.id, check_name(name, what="A group"), discount_percent)
    try:
        async with ctx.db.write() as conn:
            await conn.execute(
                club_groups.insert().values(
                    id=group.id,
                    club_id=club.id,
                    name=group.name,
                    discount_percent=discount_percent,
                    created_at=ctx.clock(),
                )
            )
    except IntegrityError:
        raise Conflict(f"Club {club.name} has a group {name!r} already", param="name") from None
    return group


async def find_group(conn: AsyncConnection, *, club: Club, name: str) -> Group:
    row = (
        await conn.execute(
            select(club_groups).where(club_groups.c.club_id == club.id, club_groups.c.name == name)
        )
    ).first()
    if row is None:
        raise NotFound(f"Club {club.name} has no group {name!r}", param="group")
    return Group(row.id, row.club_id, row.name, row.discount_percent)
