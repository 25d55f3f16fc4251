"""Tariffs (a zone's per-minute rates, by weekday and time of day) and the preview of play:
how long a customer can play in a zone now, and what pays for each part of it, in the fixed
order (`kassa.domain.club`: packages, then the time bank, then the balance per minute).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from kassa.domain import MAX_AMOUNT, NotFound, ParameterInvalid, new_id
from kassa.domain.club import (
    TariffRule,
    UsagePlan,
    Window,
    discounted,
    format_weekdays,
    parse_weekdays,
    rate_at,
    usage_plan,
)
from kassa.services.callers import Caller
from kassa.services.club import access, customers, packages
from kassa.services.club.access import Right
from kassa.services.club.clubs import Club, find_zone
from kassa.services.context import Context
from kassa.store.tables import club_tariffs, club_zones


@dataclass(frozen=True, slots=True)
class Tariff:
    """A rule of a zone's tariff."""

    zone: str
    per_minute: int
    days: str | None
    hours: str | None


def _rule(row: object) -> TariffRule:
    weekdays = row.weekdays  # type: ignore[attr-defined]
    starts, ends = row.starts, row.ends  # type: ignore[attr-defined]
    return TariffRule(
        per_minute=row.per_minute,  # type: ignore[attr-defined]
        weekdays=None if weekdays is None else frozenset(int(day) for day in weekdays),
        window=None if starts is None else Window(starts, ends),
    )


def _tariff(zone: str, rule: TariffRule) -> Tariff:
    return Tariff(
        zone=zone,
        per_minute=rule.per_minute,
        days=None if rule.weekdays is None else format_weekdays(rule.weekdays),
        hours=None if rule.window is None else str(rule.window),
    )


async def set_rate(
    ctx: Context,
    *,
    club: Club,
    zone: str,
    per_minute: int,
    days: str | None = None,
    hours: str | None = None,
    caller: Caller | None = None,
) -> Tariff:
    """Set the zone's per-minute rate (minor units), on `days` ("mon-fri") and in `hours`
    ("18:00-23:00") if given; the rule with the same days and hours is replaced."""
    access.require(caller, Right.SETUP)
    if not 0 <= per_minute <= MAX_AMOUNT:
        raise ParameterInvalid("a rate is zero or more", param="per_minute")
    weekdays = None if days is None else parse_weekdays(days)
    window = None if hours is None else Window.parse(hours, param="hours")
    stored_days = None if weekdays is None else "".join(str(day) for day in sorted(weekdays))
    starts, ends = (None, None) if window is None else (window.start, window.end)
    t = club_tariffs.c
    async with ctx.db.write() as conn:
        found = await find_zone(conn, club=club, name=zone)
        same = (
            t.zone_id == found.id,
            t.weekdays.is_(None) if stored_days is None else t.weekdays == stored_days,
            t.starts.is_(None) if starts is None else t.starts == starts,
            t.ends.is_(None) if ends is None else t.ends == ends,
        )
        changed = await conn.execute(
            update(club_tariffs).where(*same).values(per_minute=per_minute)
        )
        if changed.rowcount == 0:
            await conn.execute(
                club_tariffs.insert().values(
                    id=new_id("tariff"),
                    club_id=club.id,
                    zone_id=found.id,
                    per_minute=per_minute,
                    weekdays=stored_days,
                    starts=starts,
                    ends=ends,
                    created_at=ctx.clock(),
                )
            )
        await access.witness(
            conn,
            caller,
            club=club,
            action="club.tariff.set",
            object_id=found.id,
            now=ctx.clock(),
            details={"zone": found.name, "per_minute": per_minute, "days": days, "hours": hours},
        )
    return _tariff(found.name, TariffRule(per_minute, weekdays, window))


async def list_tariffs(ctx: Context, *, club: Club) -> list[Tariff]:
    query = (
        select(club_tariffs, club_zones.c.name.label("zone_name"))
        .join(club_zones, club_zones.c.id == club_tariffs.c.zone_id)
        .where(club_tariffs.c.club_id == club.id)
        .order_by(club_zones.c.name, club_tariffs.c.created_at)
    )
    async with ctx.db.read() as conn:
        return [_tariff(row.zone_name, _rule(row)) for row in await conn.execute(query)]


async def zone_rules(conn: AsyncConnection, *, zone_id: str) -> list[TariffRule]:
    rows = await conn.execute(select(club_tariffs).where(club_tariffs.c.zone_id == zone_id))
    return [_rule(row) for row in rows]


def rates_from(
    club: Club, rules: list[TariffRule], start: datetime, *, discount_percent: int = 0
) -> Callable[[int], int | None]:
    """The rate of the n-th minute after `start`, with a group's discount."""

    def rate(minute: int) -> int | None:
        found = rate_at(rules, club.local(start + timedelta(minutes=minute)))
        return None if found is None else discounted(found, discount_percent)

    return rate


@dataclass(frozen=True, slots=True)
class PlayPreview:
    """How `plan.seconds` of play in `zone` from `at` would be paid for."""

    zone: str
    at: datetime
    #: The rate per minute now, the customer's discount applied; None: the zone has none now.
    per_minute: int | None
    balance: int
    time_bank: int
    plan: UsagePlan


async def preview_play(
    ctx: Context, *, club: Club, login: str, zone: str, seconds: int | None = None
) -> PlayPreview:
    """What `seconds` of play (None: as long as the customer can, up to a day) in `zone`
    starting now would use, source by source. Changes nothing."""
    if seconds is not None and not 0 < seconds <= 24 * 3600:
        raise ParameterInvalid("a preview is of 1 minute to 24 hours", param="minutes")
    now = ctx.clock()
    async with ctx.db.read() as conn:
        customer = await customers.find(conn, club=club, login=login)
        customers.check_active(customer)
        found = await find_zone(conn, club=club, name=zone)
        rules = await zone_rules(conn, zone_id=found.id)
        held = await packages.usable(conn, customer_id=customer.id, zone_id=found.id, now=now)
    rate = rates_from(club, rules, now, discount_percent=customer.discount_percent)
    plan = usage_plan(
        held=held,
        time_bank=customer.time_bank,
        balance=customer.balance,
        rate=rate,
        seconds=seconds,
    )
    return PlayPreview(found.name, now, rate(0), customer.balance, customer.time_bank, plan)


async def require_zone_rate(conn: AsyncConnection, *, club: Club, zone: str) -> None:
    """`NotFound` unless the zone has a rate (used before play is allowed there)."""
    found = await find_zone(conn, club=club, name=zone)
    if not await zone_rules(conn, zone_id=found.id):
        raise NotFound(f"Zone {zone!r} has no tariff", param="zone")
