"""Packages (fixed time for a fixed price, maybe in one zone only, maybe in a window of the
day only) and the packages customers hold.

A package is bought from the balance: the purchase is one ledger entry (the price taken,
conditionally: `kassa.services.club.ledger.post`) and one holding with the package's time,
in one transaction. A window package (a night pass, 23:00-08:00 in the club's time zone) is
bought only inside its window, and its time ends with that window.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from kassa.domain import MAX_AMOUNT, Conflict, NotFound, ParameterInvalid, new_id
from kassa.domain.club import Held, LedgerKind, Window, check_name
from kassa.services.callers import Caller
from kassa.services.club import access, customers
from kassa.services.club.access import Right
from kassa.services.club.clubs import Club, find_zone
from kassa.services.club.ledger import Entry, post
from kassa.services.context import Context
from kassa.store.tables import club_holdings, club_packages, club_zones

#: A package lasts up to a month.
MAX_SECONDS = 31 * 24 * 3600


@dataclass(frozen=True, slots=True)
class Package:
    id: str
    club_id: str
    name: str
    seconds: int
    #: Minor units.
    price: int
    zone: str | None
    zone_id: str | None
    window: Window | None
    active: bool

    def buyable(self, club: Club, now: datetime) -> bool:
        """Whether it may be bought at `now` (inside its window, if it has one)."""
        if self.window is None:
            return True
        local = club.local(now)
        return self.window.contains(local.hour * 60 + local.minute)

    def expiry(self, club: Club, now: datetime) -> datetime | None:
        """When time bought at `now` ends: with the window, for a window package."""
        if self.window is None:
            return None
        local_end = self.window.ends_after(club.local(now).replace(tzinfo=None))
        return local_end.replace(tzinfo=club.zone_info).astimezone(UTC)


def _query() -> Any:
    return select(club_packages, club_zones.c.name.label("zone_name")).outerjoin(
        club_zones, club_zones.c.id == club_packages.c.zone_id
    )


def _package(row: Any) -> Package:
    starts, ends = row.window_starts, row.window_ends
    return Package(
        id=row.id,
        club_id=row.club_id,
        name=row.name,
        seconds=row.seconds,
        price=row.price,
        zone=row.zone_name,
        zone_id=row.zone_id,
        window=None if starts is None else Window(starts, ends),
        active=row.active,
    )


async def add(
    ctx: Context,
    *,
    club: Club,
    name: str,
    seconds: int,
    price: int,
    zone: str | None = None,
    window: str | None = None,
    caller: Caller | None = None,
) -> Package:
    """A new package: `seconds` of play for `price` (minor units), in `zone` only if given,
    bought and used in `window` ("23:00-08:00") only if given."""
    access.require(caller, Right.SETUP)
    check_name(name, what="A package")
    if not 0 < seconds <= MAX_SECONDS:
        raise ParameterInvalid("a package is 1 second to 31 days", param="seconds")
    if not 0 <= price <= MAX_AMOUNT:
        raise ParameterInvalid("a price is zero or more", param="price")
    parsed = None if window is None else Window.parse(window)
    package_id = new_id("pkg")
    try:
        async with ctx.db.write() as conn:
            zone_id = None if zone is None else (await find_zone(conn, club=club, name=zone)).id
            await conn.execute(
                club_packages.insert().values(
                    id=package_id,
                    club_id=club.id,
                    name=name,
                    seconds=seconds,
                    price=price,
                    zone_id=zone_id,
                    window_starts=None if parsed is None else parsed.start,
                    window_ends=None if parsed is None else parsed.end,
                    created_at=ctx.clock(),
                )
            )
            await access.witness(
                conn,
                caller,
                club=club,
                action="club.package.add",
                object_id=package_id,
                now=ctx.clock(),
                details={"name": name, "seconds": seconds, "price": price},
            )
    except IntegrityError:
        raise Conflict(f"Club {club.name} has a package {name!r} already", param="name") from None
    return Package(package_id, club.id, name, seconds, price, zone, zone_id, parsed, True)


async def list_packages(ctx: Context, *, club: Club, active_only: bool = False) -> list[Package]:
    query = _query().where(club_packages.c.club_id == club.id)
    if active_only:
        query = query.where(club_packages.c.active.is_(True))
    async with ctx.db.read() as conn:
        rows = await conn.execute(query.order_by(club_packages.c.seconds, club_packages.c.name))
        return [_package(row) for row in rows]


async def find(conn: AsyncConnection, *, club: Club, name: str) -> Package:
    query = _query().where(club_packages.c.club_id == club.id, club_packages.c.name == name)
    row = (await conn.execute(query)).first()
    if row is None:
        raise NotFound(f"Club {club.name} has no package {name!r}", param="package")
    return _package(row)


async def disable(ctx: Context, *, club: Club, name: str, caller: Caller | None = None) -> None:
    """Stop selling a package; time already bought with it stays."""
    access.require(caller, Right.SETUP)
    async with ctx.db.write() as conn:
        done = await conn.execute(
            update(club_packages)
            .where(club_packages.c.club_id == club.id, club_packages.c.name == name)
            .values(active=False)
            .returning(club_packages.c.id)
        )
        package_id = done.scalar()
        if package_id is not None:
            await access.witness(
                conn,
                caller,
                club=club,
                action="club.package.disable",
                object_id=package_id,
                now=ctx.clock(),
                details={"name": name},
            )
    if package_id is None:
        raise NotFound(f"Club {club.name} has no package {name!r}", param="package")


def refusal(club: Club, package: Package, now: datetime) -> str | None:
    """Why `package` cannot be bought at `now`, or None."""
    if not package.active:
        return f"Package {package.name!r} is no longer sold"
    if not package.buyable(club, now):
        return f"Package {package.name!r} is sold only {package.window} ({club.timezone})"
    return None


@dataclass(frozen=True, slots=True)
class PurchasePreview:
    package: Package
    balance: int
    balance_after: int
    #: Why it cannot be bought now (outside its window, not enough money…), or None.
    refused: str | None
    expires_at: datetime | None


async def preview_purchase(
    ctx: Context, *, club: Club, login: str, package: str
) -> PurchasePreview:
    """What buying `package` now would do. Changes nothing."""
    now = ctx.clock()
    async with ctx.db.read() as conn:
        customer = await customers.find(conn, club=club, login=login)
        found = await find(conn, club=club, name=package)
    refused = refusal(club, found, now)
    try:
        customers.check_active(customer)
    except Conflict as exc:
        refused = refused or exc.message
    if refused is None and customer.balance < found.price:
        refused = "The balance does not cover the price"
    return PurchasePreview(
        found,
        customer.balance,
        customer.balance - found.price,
        refused,
        None if refused else found.expiry(club, now),
    )


async def buy(
    ctx: Context,
    *,
    club: Club,
    login: str,
    package: str,
    actor: str,
    key: str | None = None,
    caller: Caller | None = None,
) -> Entry:
    """Buy `package` for the customer from their balance: `InsufficientFunds` if it does
    not cover the price, `Conflict` outside the package's window. With `key` seen before,
    the earlier purchase's entry (`replayed`) and nothing else."""
    access.require(caller, Right.FLOOR)
    now = ctx.clock()
    async with ctx.db.write() as conn:
        customer = await customers.find(conn, club=club, login=login)
        customers.check_active(customer)
        found = await find(conn, club=club, name=package)
        return await purchase(
            conn, club=club, customer_id=customer.id, package=found, actor=actor, now=now, key=key
        )


async def purchase(
    conn: AsyncConnection,
    *,
    club: Club,
    customer_id: str,
    package: Package,
    actor: str,
    now: datetime,
    key: str | None = None,
) -> Entry:
    """`buy`, in the caller's transaction, for a customer already found active (a session
    started on a package buys it with the session)."""
    refused = refusal(club, package, now)
    if refused is not None:
        raise Conflict(refused, param="package", code="package_unavailable")
    holding_id = new_id("hold")
    entry = await post(
        conn,
        club=club,
        customer_id=customer_id,
        kind=LedgerKind.PURCHASE,
        amount=-package.price,
        reason=package.name,
        actor=actor,
        now=now,
        key=key,
        package_id=package.id,
        holding_id=holding_id,
    )
    if entry.replayed:
        return entry
    await conn.execute(
        club_holdings.insert().values(
            id=holding_id,
            club_id=club.id,
            customer_id=customer_id,
            package_id=package.id,
            seconds_left=package.seconds,
            expires_at=package.expiry(club, now),
            created_at=now,
        )
    )
    return entry


async def usable(
    conn: AsyncConnection, *, customer_id: str, zone_id: str, now: datetime
) -> list[Held]:
    """The customer's package time usable in the zone now, the soonest to end first: each
    holding's seconds left, but no more than is left of its window."""
    h, p = club_holdings.c, club_packages.c
    rows = await conn.execute(
        select(h.id, h.seconds_left, h.expires_at, p.name)
        .join(club_packages, p.id == h.package_id)
        .where(
            h.customer_id == customer_id,
            h.seconds_left > 0,
            or_(h.expires_at.is_(None), h.expires_at > now),
            or_(p.zone_id.is_(None), p.zone_id == zone_id),
        )
        .order_by(h.expires_at.is_(None), h.expires_at, h.created_at)
    )
    held = []
    for row in rows:
        seconds = row.seconds_left
        if row.expires_at is not None:
            seconds = min(seconds, int((row.expires_at - now).total_seconds()))
        held.append(Held(row.id, row.name, seconds))
    return held
