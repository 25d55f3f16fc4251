"""Charging a session on the ledger, and giving back what was charged and not played: each
charge one `session_charge` entry in the fixed order (packages, time bank, balance) with its
row in `club_session_charges`, keyed so a repeat charges once; the give-back one correction
entry, keyed so it is made once."""

from __future__ import annotations

from dataclasses import asdict
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from kassa.domain import (
    Conflict,
    InsufficientFunds,
)
from kassa.domain.club import LedgerKind, usage_plan
from kassa.domain.club_sessions import (
    Charge,
    give_back,
)
from kassa.services.club import customers, packages, session_records
from kassa.services.club.clubs import Club
from kassa.services.club.ledger import post
from kassa.services.club.pricing import rates_from, zone_rules
from kassa.services.club.session_records import Session
from kassa.store.tables import (
    club_holdings,
    club_session_charges,
    club_sessions,
)


async def charge(
    conn: AsyncConnection,
    *,
    club: Club,
    session: Session,
    zone_id: str,
    seconds: int,
    actor: str,
    now: datetime,
) -> Session | None:
    """Charge `seconds` more of the session from its paid end (or from now, if that has
    passed), as far as the customer can pay; the session as it then stands (its lease is not
    renewed: only its PC's heartbeats do that). `None`, with nothing written, if nothing could
    be paid or the same stretch was charged meanwhile."""
    customer = await customers.find_by_id(conn, customer_id=session.customer_id)
    customers.check_active(customer)
    since = max(session.paid_until, now)
    held = await packages.usable(conn, customer_id=customer.id, zone_id=zone_id, now=since)
    rules = await zone_rules(conn, zone_id=zone_id)
    plan = usage_plan(
        held=held,
        time_bank=customer.time_bank,
        balance=customer.balance,
        rate=rates_from(club, rules, since, discount_percent=customer.discount_percent),
        seconds=seconds,
    )
    if plan.seconds <= 0:
        return None
    offset = session.charged_seconds
    time_bank = sum(use.seconds for use in plan.uses if use.kind == "time_bank")
    entry = await post(
        conn,
        club=club,
        customer_id=customer.id,
        kind=LedgerKind.SESSION_CHARGE,
        amount=-plan.amount,
        seconds=-time_bank,
        reason=f"session {session.id} on {session.pc}: {plan.seconds} s",
        actor=actor,
        now=now,
        key=f"session:{session.id}:{offset}",
        holding_id=next((use.holding_id for use in plan.uses if use.kind == "package"), None),
    )
    if entry.replayed:
        return None  # this stretch was charged by a concurrent request
    for use in plan.uses:
        if use.kind == "package":
            taken = await conn.execute(
                update(club_holdings)
                .where(
                    club_holdings.c.id == use.holding_id,
                    club_holdings.c.seconds_left >= use.seconds,
                )
                .values(seconds_left=club_holdings.c.seconds_left - use.seconds)
            )
            if taken.rowcount == 0:
                raise InsufficientFunds("The package's time was used meanwhile; try again")
    await conn.execute(
        club_session_charges.insert().values(
            session_id=session.id,
            offset=offset,
            seconds=plan.seconds,
            entry_id=entry.id,
            uses=[asdict(use) for use in plan.uses],
            created_at=now,
        )
    )
    paid_until = since + timedelta(seconds=plan.seconds)
    moved = await conn.execute(
        update(club_sessions)
        .where(club_sessions.c.id == session.id, club_sessions.c.charged_seconds == offset)
        .values(
            charged_seconds=offset + plan.seconds,
            paid_until=paid_until,
            lease_seq=club_sessions.c.lease_seq + 1,
        )
    )
    if moved.rowcount == 0:
        raise Conflict("The session changed meanwhile; try again", code="session_changed")
    return await session_records.load(conn, session.id)


async def charges_of(conn: AsyncConnection, session_id: str) -> list[Charge]:
    rows = await conn.execute(
        select(club_session_charges.c.offset, club_session_charges.c.uses).where(
            club_session_charges.c.session_id == session_id
        )
    )
    return [Charge(row.offset, row.uses) for row in rows]


async def give_back_unplayed(
    conn: AsyncConnection,
    *,
    club: Club,
    session: Session,
    unplayed: int,
    why: str,
    key: str,
    actor: str,
    now: datetime,
    given: int = 0,
) -> None:
    """Give the customer back what `unplayed` seconds at the end of the session's charges
    cost, less what the `given` seconds before them were given back already, as one
    correction entry keyed `key` (once)."""
    charges = await charges_of(conn, session.id)
    back, before = give_back(charges, unplayed), give_back(charges, given)
    amount, time_bank = back.amount - before.amount, back.time_bank - before.time_bank
    holdings = {
        holding: seconds - before.holdings.get(holding, 0)
        for holding, seconds in back.holdings.items()
        if seconds > before.holdings.get(holding, 0)
    }
    if not (amount or time_bank or holdings):
        return
    entry = await post(
        conn,
        club=club,
        customer_id=session.customer_id,
        kind=LedgerKind.CORRECTION,
        amount=amount,
        seconds=time_bank,
        reason=f"session {session.id} on {session.pc}: {why}; "
        f"{unplayed - given} s unplayed given back"
        + (f" ({sum(holdings.values())} s to packages)" if holdings else ""),
        actor=actor,
        now=now,
        key=key,
        holding_id=next(iter(holdings), None),
    )
    if entry.replayed:
        return
    for holding_id, seconds in holdings.items():
        await conn.execute(
            update(club_holdings)
            .where(club_holdings.c.id == holding_id)
            .values(seconds_left=club_holdings.c.seconds_left + seconds)
        )
