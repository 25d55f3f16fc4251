"""LoVHub's launchers served on Kassa's ledger, for one club during its move to Kassa.

LoVHub's launcher trusted itself: it counted the customer's time down and overwrote the
server's, and it sent the price of the package it sold. Here the launcher's word is a report
and nothing more: a package costs the club's own price, the money moves only through the
ledger, and the time left is the server's: the paid time left of the customer's session
(`kassa.services.club.sessions`), or with none, the time bank and the package time held. A
package bought on one of the club's PCs (added with `kassa club pcs add` under the launcher's
`pc_name`) is played there as a session, started or extended, and the PC's LoVHub heartbeat
renews that session's lease as the agent's heartbeat does; a PC Kassa does not know keeps the
package's time as a holding.

LoVHub's `buy_package` carries no key, so a retried request cannot be told from a second
purchase by what it sends. A purchase is keyed by its customer, its package and the
`DEDUP_SECONDS`-long slot of time it falls in: the same package bought again for the same
customer within that slot, or within `DEDUP_SECONDS` of an earlier purchase in the slot before,
is taken as the retry of the first and answers as it did, once however many arrive at once
(the key is unique in the club). The limit, said plainly in docs/club.md: a customer who
really buys the same package twice within `DEDUP_SECONDS` gets it once, and a retry arriving
later than that buys it again.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import or_, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from kassa.domain import Conflict, InsufficientFunds, NotFound, ParameterInvalid
from kassa.domain.club_sessions import LEASE_GRACE, SessionState, lease_end
from kassa.domain.money import currency_exponent, from_decimal
from kassa.services.callers import Caller
from kassa.services.club import clubs, customers, packages, pcs, session_records, sessions, topups
from kassa.services.club.clubs import Club
from kassa.services.club.customers import Customer
from kassa.services.club.packages import Package
from kassa.services.club.session_records import Session
from kassa.services.context import Context
from kassa.services.shops import shops
from kassa.store.tables import club_holdings, club_ledger, club_packages, club_sessions

log = logging.getLogger(__name__)

#: How long a repeated `buy_package` of one package for one customer is taken as a retry.
DEDUP_SECONDS = 60
#: How far a launcher's report of the time left may be from the server's before it is logged.
REPORT_TOLERANCE = 60
#: Who acted, in the ledger: the launcher's PC.
ACTOR_PREFIX = "lovhub:"


@dataclass(frozen=True, slots=True)
class Status:
    """What LoVHub's `get_user_status` answers: whole units of the club's currency (LoVHub's
    balances were whole tenge; a fraction is left out, never rounded up) and seconds."""

    login: str
    balance: int
    time_left: int


async def club(ctx: Context) -> Club:
    """The club `KASSA_CLUB_LEGACY_API` names: `NotFound` if there is none of that name."""
    name = ctx.settings.club_legacy_api
    if name is None:
        raise NotFound("LoVHub's launcher API is off", param="club")
    return await clubs.get(ctx, name=name)


def _whole(club: Club, amount: int) -> int:
    whole: int = amount // 10 ** currency_exponent(club.currency)
    return whole


async def _time_left(conn: AsyncConnection, customer: Customer, now: datetime) -> int:
    """The time bank and the package time the customer holds now, in any zone (LoVHub's
    status names no PC); a window package's time no more than is left of its window."""
    h = club_holdings.c
    rows = await conn.execute(
        select(h.seconds_left, h.expires_at).where(
            h.customer_id == customer.id,
            h.seconds_left > 0,
            or_(h.expires_at.is_(None), h.expires_at > now),
        )
    )
    held = sum(
        left if ends is None else min(left, int((ends - now).total_seconds()))
        for left, ends in rows
    )
    return customer.time_bank + int(held)


async def _session_of(ctx: Context, *, club: Club, customer: Customer) -> Session | None:
    """The customer's session that is not over, if any."""
    async with ctx.db.read() as conn:
        pc = (
            await conn.execute(
                select(club_sessions.c.device_id).where(
                    club_sessions.c.customer_id == customer.id,
                    club_sessions.c.state != SessionState.ENDED,
                )
            )
        ).scalar()
    if pc is None:
        return None
    try:
        return await session_records.get(ctx, club=club, pc=pc)
    except NotFound:  # ended meanwhile
        return None


async def _play(ctx: Context, *, club: Club, login: str, package: Package, pc: str) -> None:
    """Play a package just bought through LoVHub's API on `pc`, as LoVHub started its
    session: the customer's session there extended by its time, or one started, when `pc`
    is one of the club's PCs in a zone the package may be used in. Otherwise (a PC not added
    to Kassa yet, a session on another PC) its time stays a holding for a later session."""
    minutes = package.seconds // 60
    try:
        placed = await pcs.get(ctx, club=club, name=pc)
    except NotFound:
        return
    if minutes == 0 or package.zone not in (None, placed.zone):
        return
    customer = await customers.get(ctx, club=club, login=login)
    session = await _session_of(ctx, club=club, customer=customer)
    actor = f"{ACTOR_PREFIX}{pc}"
    try:
        if session is None:
            await sessions.start(ctx, club=club, pc=pc, login=login, actor=actor, minutes=minutes)
        elif session.pc == pc:
            await sessions.extend(ctx, club=club, pc=pc, actor=actor, minutes=minutes)
    except (Conflict, InsufficientFunds) as exc:
        log.warning("club %s: PC %s: %s; the package's time is held", club.name, pc, exc)


async def heartbeat(ctx: Context, *, club: Club, pc: str) -> bool:
    """A LoVHub PC's heartbeat renews its session's lease (to the paid end, at most the
    club's `lease_max` ahead), as the agent's heartbeat does over the device link; once its
    lease has run out it renews nothing (the session ends at the lease's end). True if
    renewed."""
    now = ctx.clock()
    try:
        session = await session_records.get(ctx, club=club, pc=pc)
    except NotFound:
        return False
    if session.state != SessionState.ACTIVE or session.lease_expires_at + LEASE_GRACE < now:
        return False
    s = club_sessions.c
    async with ctx.db.write() as conn:
        renewed = await conn.execute(
            update(club_sessions)
            .where(
                s.id == session.id,
                s.state == SessionState.ACTIVE,
                s.lease_seq == session.lease_seq,
            )
            .values(
                lease_expires_at=lease_end(session.paid_until, now, club.lease_max),
                lease_seq=session.lease_seq + 1,
            )
        )
    return bool(renewed.rowcount)


async def status(ctx: Context, *, club: Club, login: str) -> Status:
    """The customer's balance and time left (their session's paid time left, or with none
    the time they hold); zeros for an unknown or deleted login, as LoVHub answered."""
    async with ctx.db.read() as conn:
        try:
            customer = await customers.find(conn, club=club, login=login)
        except NotFound:
            return Status(login, 0, 0)
        if customer.deleted_at is not None:
            return Status(login, 0, 0)
        left = await _time_left(conn, customer, ctx.clock())
    session = await _session_of(ctx, club=club, customer=customer)
    if session is not None:
        left = session.left(ctx.clock())
    return Status(login, _whole(club, customer.balance), left)


async def _package(conn: AsyncConnection, *, club: Club, name: str, seconds: int) -> Package:
    """The club's package named `name`, else its one package of `seconds` (with no zone
    first): `ParameterInvalid` (LoVHub's 400) if there is none."""
    try:
        return await packages.find(conn, club=club, name=name)
    except NotFound:
        pass
    p = club_packages.c
    found = (
        await conn.execute(
            select(p.name)
            .where(p.club_id == club.id, p.seconds == seconds, p.active.is_(True))
            .order_by(p.zone_id.is_not(None), p.price, p.name)
            .limit(1)
        )
    ).scalar()
    if found is None:
        raise ParameterInvalid(
            f"Club {club.name} sells no package {name!r} nor one of {seconds} seconds",
            param="package_name",
            code="package_unknown",
        )
    return await packages.find(conn, club=club, name=found)


def _slot(now: datetime) -> int:
    return int(now.timestamp()) // DEDUP_SECONDS


def _key(customer: Customer, package: Package, slot: int) -> str:
    return f"lovhub:{customer.id}:{package.id}:{slot}"


async def _retried(
    conn: AsyncConnection, *, club: Club, customer: Customer, package: Package, now: datetime
) -> bool:
    """Whether the purchase of the slot before was made less than `DEDUP_SECONDS` ago."""
    key = _key(customer, package, _slot(now) - 1)
    made = (
        await conn.execute(
            select(club_ledger.c.created_at).where(
                club_ledger.c.club_id == club.id, club_ledger.c.idempotency_key == key
            )
        )
    ).scalar()
    return made is not None and now - made < timedelta(seconds=DEDUP_SECONDS)


async def buy_package(
    ctx: Context,
    *,
    club: Club,
    login: str,
    package_name: str,
    seconds: int,
    price: int | None,
    pc: str,
) -> Status:
    """Buy the package the launcher names at the club's own price (`price`, the launcher's,
    is only compared and logged), once per retry window; the customer's status after it.
    `InsufficientFunds` when the balance does not cover it."""
    now = ctx.clock()
    async with ctx.db.read() as conn:
        customer = await customers.find(conn, club=club, login=login)
        package = await _package(conn, club=club, name=package_name, seconds=seconds)
        retried = await _retried(conn, club=club, customer=customer, package=package, now=now)
    if price is not None and from_decimal(price, club.currency, param="price") != package.price:
        log.warning(
            "club %s: PC %s sent price %s for package %r; charged the club's %s",
            club.name,
            pc,
            price,
            package.name,
            _whole(club, package.price),
        )
    if retried:
        log.info("club %s: PC %s repeated the purchase of %r", club.name, pc, package.name)
    else:
        bought = await packages.buy(
            ctx,
            club=club,
            login=login,
            package=package.name,
            actor=f"{ACTOR_PREFIX}{pc}",
            key=_key(customer, package, _slot(now)),
        )
        if not bought.replayed:  # of requests at once, the one that bought it plays it
            await _play(ctx, club=club, login=login, package=package, pc=pc)
    return await status(ctx, club=club, login=login)


def report(
    club: Club, *, what: str, pc: str | None, login: str | None, reported: int, left: int | None
) -> None:
    """A launcher's report of its customer's time (`update_time`, `heartbeat`), never taken as
    what the customer has (`left`, the server's; None: no customer named). Logged for staff:
    at INFO when the two differ by more than `REPORT_TOLERANCE` seconds (a PC counting time
    the server does not give), at DEBUG otherwise (LoVHub reports every 5 s from every PC)."""
    level = logging.DEBUG
    if left is not None and abs(reported - left) > REPORT_TOLERANCE:
        level = logging.INFO
    log.log(
        level,
        "club %s: LoVHub %s from PC %s for %s says %s s left; the server has %s s",
        club.name,
        what,
        pc or "?",
        login or "nobody",
        reported,
        "-" if left is None else left,
    )


async def create_payment(
    ctx: Context, *, club: Club, login: str, amount: int, return_url: str | None = None
) -> topups.Started:
    """An online top-up of `amount` whole units for the customer, in the club's shop, test
    or live as `KASSA_CLUB_LEGACY_TEST` says."""
    shop = await shops.get_shop(ctx, shop_id=club.shop_id)
    caller = Caller.system(shop=shop, test=ctx.settings.club_legacy_test)
    return await topups.start(
        ctx,
        caller=caller,
        club=club,
        login=login,
        amount=from_decimal(amount, club.currency),
        actor=f"{ACTOR_PREFIX}create_payment",
        return_url=return_url,
    )
