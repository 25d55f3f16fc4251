"""What a club's PC changes on the hub (`kassa.protocol.club_pc`): a signed-in customer's
session started or ended on it, and online top-ups made from its lock screen.

The PC acts as `pc:<name>` (the sessions' and the ledger's actor) with the shop's authority
(no person's right to check). Its top-ups are payments of the club's shop in the club's mode
(`Club.test`), as LoVHub's launchers' are (`kassa.services.club.legacy`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import select

from kassa.domain import NotFound
from kassa.domain.club_sessions import EndReason
from kassa.domain.money import format_major
from kassa.protocol import club_pc
from kassa.services.callers import Caller
from kassa.services.club import sessions, topups
from kassa.services.club.pc_tickets import Ticket
from kassa.services.club.pc_view import Seat
from kassa.services.context import Context
from kassa.services.objects import timestamp
from kassa.services.shops import shops
from kassa.store.tables import club_customers, club_topups, payments


async def start(
    ctx: Context,
    seat: Seat,
    ticket: Ticket,
    *,
    package: str | None = None,
    minutes: int | None = None,
) -> club_pc.Started:
    """Start the ticket's customer's session on this PC (`sessions.start`). Its lease carries
    the hub's `server_time`, as the link's leases do, so the agent counts from this answer
    at once, link or no link."""
    session = await sessions.start(
        ctx,
        club=seat.club,
        pc=seat.pc,
        login=ticket.login,
        actor=seat.actor,
        minutes=minutes,
        package=package,
    )
    lease = session.lease().to_data() | {"server_time": timestamp(ctx.clock())}
    return club_pc.Started(session=session.id, paid_until=lease["paid_until"], lease=lease)


async def end(ctx: Context, seat: Seat) -> str | None:
    """End the session on this PC, if one is running (what was not played is given back):
    its id, or None."""
    try:
        ended = await sessions.end(
            ctx, club=seat.club, pc=seat.pc, actor=seat.actor, reason=EndReason.CUSTOMER
        )
    except NotFound:
        return None
    return ended.id


def qr_of(confirmation: Mapping[str, Any] | None) -> str | None:
    """What the lock screen encodes in its QR: a QR confirmation's payload, else the page
    the payer is sent to."""
    if not confirmation:
        return None
    found = confirmation.get("payload") or confirmation.get("url")
    return None if found is None else str(found)


async def topup(ctx: Context, seat: Seat, *, login: str, amount: int) -> club_pc.Topup:
    """An online top-up of `login`'s balance by `amount` (minor units), in the club's mode;
    `NotFound` (`customer_not_found`) for a login the club does not have."""
    club = seat.club
    shop = await shops.get_shop(ctx, shop_id=club.shop_id)
    try:
        started = await topups.start(
            ctx,
            caller=Caller.system(shop=shop, test=club.test),
            club=club,
            login=login,
            amount=amount,
            actor=seat.actor,
        )
    except NotFound as exc:
        if exc.param != "customer":
            raise
        raise NotFound(exc.message, param="login", code="customer_not_found") from None
    made = started.topup
    return club_pc.Topup(
        id=made.id,
        login=login,
        amount=format_major(made.amount, club.currency),
        currency=club.currency,
        status=made.status,
        qr=qr_of(started.confirmation),
    )


async def topup_now(ctx: Context, seat: Seat, *, topup_id: str) -> club_pc.Topup:
    """The club's top-up `topup_id` as it stands (`NotFound` for another club's)."""
    t = club_topups.c
    query = (
        select(t.id, t.amount, t.status, club_customers.c.login, payments.c.confirmation)
        .join(club_customers, club_customers.c.id == t.customer_id)
        .outerjoin(payments, payments.c.id == t.payment_id)
        .where(t.id == topup_id, t.club_id == seat.club.id)
    )
    async with ctx.db.read() as conn:
        row = (await conn.execute(query)).first()
    if row is None:
        raise NotFound(f"No top-up {topup_id!r}", param="topup", code="topup_not_found")
    return club_pc.Topup(
        id=row.id,
        login=row.login,
        amount=format_major(row.amount, seat.club.currency),
        currency=seat.club.currency,
        status=row.status,
        qr=qr_of(row.confirmation),
    )
