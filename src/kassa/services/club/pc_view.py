"""What a club's PC asks the hub for before anything changes (`kassa.protocol.club_pc`): the
PC's seat in its club (`seat_of`, from its device), the lock screen, the Games and Apps of its
zone and the preview of starting a session (a customer's sign-in is `pc_sign_in`).

Money is answered as the API's decimal strings in the club's currency.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select

from kassa.domain import Conflict, InsufficientFunds, NotFound
from kassa.domain.devices import Device
from kassa.domain.money import format_major
from kassa.protocol import club_pc
from kassa.services.club import apps, clubs, packages, pricing
from kassa.services.club.clubs import Club
from kassa.services.club.pc_tickets import Ticket
from kassa.services.context import Context
from kassa.services.shops import shops
from kassa.store.tables import club_pcs, club_zones

#: A play preview's sources (`kassa.domain.club.Use.kind`).
PACKAGE, TIME_BANK = "package", "time_bank"


@dataclass(frozen=True, slots=True)
class Seat:
    """A PC where it stands: its club, its name (the device id), alias and zone."""

    club: Club
    pc: str
    alias: str
    zone: str
    zone_id: str

    @property
    def actor(self) -> str:
        """Who the ledger and the sessions say acted from this PC."""
        return f"pc:{self.pc}"


async def seat_of(ctx: Context, device: Device) -> Seat:
    """The club and zone of the PC `device` (`NotFound` if it was never placed in a club)."""
    async with ctx.db.read() as conn:
        row = (
            await conn.execute(
                select(club_pcs.c.club_id, club_pcs.c.zone_id, club_zones.c.name)
                .join(club_zones, club_zones.c.id == club_pcs.c.zone_id)
                .where(club_pcs.c.shop_id == device.shop_id, club_pcs.c.device_id == device.id)
            )
        ).first()
        if row is None:
            raise NotFound(f"PC {device.id!r} is in no club", param="pc")
        club = await clubs.find_by_id(conn, club_id=row.club_id)
    return Seat(club, device.id, device.name, row.name, row.zone_id)


def money(amount: int, club: Club) -> str:
    return format_major(amount, club.currency)


async def screen(ctx: Context, seat: Seat) -> club_pc.Screen:
    """What the PC's lock screen shows: the club, its packages (those of every zone and of
    the PC's own), and whether online top-ups can be made in the club's mode."""
    club, now = seat.club, ctx.clock()
    offers = [
        club_pc.PackageOffer(
            name=each.name,
            seconds=each.seconds,
            price=money(each.price, club),
            zone=each.zone,
            available=each.buyable(club, now),
        )
        for each in await packages.list_packages(ctx, club=club, active_only=True)
        if each.zone_id in (None, seat.zone_id)
    ]
    accounts = await shops.list_accounts(
        ctx, shop_id=club.shop_id, test=club.test, enabled_only=True
    )
    return club_pc.Screen(
        club=club.name,
        pc=seat.pc,
        alias=seat.alias,
        zone=seat.zone,
        currency=club.currency,
        language=club.language,
        offline_policy=club.offline_policy,
        packages=offers,
        topups=bool(accounts),
    )


async def app_entries(ctx: Context, seat: Seat) -> list[club_pc.AppEntry]:
    """The Games and Apps offered in the PC's zone, games first."""
    found = await apps.list_apps(ctx, club=seat.club, zone=seat.zone)
    return [club_pc.AppEntry(each.name, each.path, each.kind, each.icon) for each in found]


async def preview(
    ctx: Context,
    seat: Seat,
    ticket: Ticket,
    *,
    package: str | None = None,
    minutes: int | None = None,
) -> club_pc.Preview:
    """What starting a session would do: buying and playing `package`, or `minutes` of play
    (None: as long as the customer can pay). `InsufficientFunds` if it cannot be paid,
    `Conflict` (`package_unavailable`) for a package not sold now. Changes nothing."""
    club = seat.club
    if package is not None:
        bought = await packages.preview_purchase(
            ctx, club=club, login=ticket.login, package=package
        )
        if bought.refused is not None:
            if bought.balance < bought.package.price:
                raise InsufficientFunds(bought.refused)
            raise Conflict(bought.refused, param="package", code="package_unavailable")
        return club_pc.Preview(
            seconds=bought.package.seconds,
            price=money(bought.package.price, club),
            time_bank_seconds=0,
            package_seconds=bought.package.seconds,
            balance_after=money(bought.balance_after, club),
        )
    play = await pricing.preview_play(
        ctx,
        club=club,
        login=ticket.login,
        zone=seat.zone,
        seconds=None if minutes is None else minutes * 60,
    )
    if play.plan.seconds == 0:
        raise InsufficientFunds(f"Customer {ticket.login!r} has no time or money to play")
    return club_pc.Preview(
        seconds=play.plan.seconds,
        price=money(play.plan.amount, club),
        time_bank_seconds=sum(use.seconds for use in play.plan.uses if use.kind == TIME_BANK),
        package_seconds=sum(use.seconds for use in play.plan.uses if use.kind == PACKAGE),
        balance_after=money(play.balance - play.plan.amount, club),
    )
