"""The ledger of a club's customers: every change of a balance (money, minor units) or a time
bank (seconds) is an entry, never edited, with who made it and why.

`post` is the one way to change either: in one transaction it writes the entry and adds its
amount and seconds to the customer's row with a conditional update (`… SET balance = balance
+ :amount WHERE balance + :amount >= 0 …`), so the row is always the sum of the entries and
two debits at once can never overdraw it, on SQLite and PostgreSQL alike (the second waits for
the first's row and then finds the money gone). An entry that must happen once carries an
idempotency key, unique per club (`payment:<id>`, `topup:<Idempotency-Key>`): the entry is
written first, so a repeated key finds the entry already there and changes nothing.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from kassa.domain import MAX_AMOUNT, InsufficientFunds, NotFound, ParameterInvalid, new_id
from kassa.domain.club import LedgerKind
from kassa.services.callers import Caller
from kassa.services.club import access, customers
from kassa.services.club.access import Right
from kassa.services.club.clubs import Club
from kassa.services.context import Context
from kassa.store.db import insert_ignoring_conflict
from kassa.store.tables import club_customers, club_ledger

#: The longest time one entry may give or take: a year.
MAX_SECONDS = 366 * 24 * 3600
#: How a top-up at the desk was paid: in cash, or by card at the club's own card reader.
METHODS = ("cash", "card")
#: The method of a top-up paid online through the shop's providers (`topups`).
ONLINE = "online"


@dataclass(frozen=True, slots=True)
class Entry:
    id: str
    club_id: str
    customer_id: str
    kind: str
    amount: int
    seconds: int
    method: str | None
    actor: str
    reason: str | None
    idempotency_key: str | None
    package_id: str | None
    holding_id: str | None
    created_at: datetime
    #: True: the entry was written before under the same key; nothing changed now.
    replayed: bool = False


def _entry(row: Any) -> Entry:
    return Entry(
        **{name: getattr(row, name) for name in Entry.__dataclass_fields__ if name != "replayed"}
    )


async def post(
    conn: AsyncConnection,
    *,
    club: Club,
    customer_id: str,
    kind: str,
    actor: str,
    now: datetime,
    amount: int = 0,
    seconds: int = 0,
    reason: str | None = None,
    method: str | None = None,
    key: str | None = None,
    package_id: str | None = None,
    holding_id: str | None = None,
) -> Entry:
    """Write an entry and add it to the customer's balance and time bank, in the caller's
    transaction. `InsufficientFunds` if either would go below zero, `NotFound` if the
    customer is gone; with `key` seen before, the earlier entry (`replayed`), nothing done."""
    if kind not in LedgerKind.ALL:
        raise ValueError(f"no ledger entry of kind {kind!r}")
    if abs(amount) > MAX_AMOUNT or abs(seconds) > MAX_SECONDS:
        raise ParameterInvalid("the amount or time is out of range")
    entry = Entry(
        id=new_id("led"),
        club_id=club.id,
        customer_id=customer_id,
        kind=kind,
        amount=amount,
        seconds=seconds,
        method=method,
        actor=actor[:64],
        reason=reason,
        idempotency_key=key,
        package_id=package_id,
        holding_id=holding_id,
        created_at=now,
    )
    values = {
        name: getattr(entry, name) for name in Entry.__dataclass_fields__ if name != "replayed"
    }
    if key is None:
        await conn.execute(club_ledger.insert().values(**values))
    else:
        written = await conn.execute(_insert_ignoring_key(conn), values)
        if written.rowcount == 0:
            return await _by_key(conn, club=club, key=key)
    c = club_customers.c
    added = await conn.execute(
        update(club_customers)
        .where(
            c.id == customer_id,
            c.club_id == club.id,
            c.deleted_at.is_(None),
            c.balance + amount >= 0,
            c.time_bank + seconds >= 0,
        )
        .values(balance=c.balance + amount, time_bank=c.time_bank + seconds)
    )
    if added.rowcount == 0:
        found = (
            await conn.execute(
                select(c.deleted_at).where(c.id == customer_id, c.club_id == club.id)
            )
        ).first()
        if found is None or found.deleted_at is not None:
            raise NotFound("The customer is deleted or does not exist", param="customer")
        what = "balance" if amount < 0 else "time bank"
        raise InsufficientFunds(f"The customer's {what} does not cover it")
    return entry


def _insert_ignoring_key(conn: AsyncConnection) -> Any:
    return insert_ignoring_conflict(
        conn.dialect.name, club_ledger, index_elements=["club_id", "idempotency_key"]
    )


async def _by_key(conn: AsyncConnection, *, club: Club, key: str) -> Entry:
    row = (
        await conn.execute(
            select(club_ledger).where(
                club_ledger.c.club_id == club.id, club_ledger.c.idempotency_key == key
            )
        )
    ).one()
    return replace(_entry(row), replayed=True)


async def _witness(
    conn: AsyncConnection,
    caller: Caller | None,
    *,
    club: Club,
    action: str,
    login: str,
    entry: Entry,
    now: datetime,
) -> None:
    """The audit entry of a person's entry (a repeated key's is recorded as replayed)."""
    facts = {"login": login, "entry": entry.id, "amount": entry.amount, "seconds": entry.seconds}
    await access.witness(
        conn,
        caller,
        club=club,
        action=action,
        object_id=entry.customer_id,
        now=now,
        details=facts | ({"replayed": True} if entry.replayed else {}),
    )


async def topup(
    ctx: Context,
    *,
    club: Club,
    login: str,
    amount: int,
    actor: str,
    method: str = "cash",
    key: str | None = None,
    caller: Caller | None = None,
) -> Entry:
    """Money paid at the desk (in cash, or by card at the club's own reader) onto the
    customer's balance. Online top-ups are `topups.start`'s."""
    access.require(caller, Right.FLOOR)
    if amount <= 0:
        raise ParameterInvalid("a top-up is above zero", param="amount")
    if method not in METHODS:
        raise ParameterInvalid(
            "a top-up at the desk is in cash or by card",
            param="method",
            code="method_unsupported",
        )
    async with ctx.db.write() as conn:
        customer = await customers.find(conn, club=club, login=login)
        entry = await post(
            conn,
            club=club,
            customer_id=customer.id,
            kind=LedgerKind.TOPUP,
            amount=amount,
            method=method,
            actor=actor,
            now=ctx.clock(),
            key=key,
        )
        await _witness(
            conn,
            caller,
            club=club,
            action="club.customer.topup",
            login=login,
            entry=entry,
            now=ctx.clock(),
        )
        return entry


async def correct(
    ctx: Context,
    *,
    club: Club,
    login: str,
    reason: str,
    actor: str,
    amount: int = 0,
    seconds: int = 0,
    key: str | None = None,
    caller: Caller | None = None,
) -> Entry:
    """A correction by staff, with its reason: money (`amount`, signed) and/or time
    (`seconds`, signed; adding time to the time bank is one). Never below zero."""
    access.require(caller, Right.FLOOR)
    if not reason.strip():
        raise ParameterInvalid("a correction says why", param="reason")
    if amount == 0 and seconds == 0:
        raise ParameterInvalid("a correction changes the balance or the time bank")
    async with ctx.db.write() as conn:
        customer = await customers.find(conn, club=club, login=login)
        entry = await post(
            conn,
            club=club,
            customer_id=customer.id,
            kind=LedgerKind.CORRECTION,
            amount=amount,
            seconds=seconds,
            reason=reason.strip(),
            actor=actor,
            now=ctx.clock(),
            key=key,
        )
        await _witness(
            conn,
            caller,
            club=club,
            action="club.customer.correction",
            login=login,
            entry=entry,
            now=ctx.clock(),
        )
        return entry


async def entries(ctx: Context, *, club: Club, login: str, limit: int = 100) -> list[Entry]:
    """The customer's latest entries, newest first."""
    async with ctx.db.read() as conn:
        customer = await customers.find(conn, club=club, login=login)
        rows = await conn.execute(
            select(club_ledger)
            .where(club_ledger.c.customer_id == customer.id)
            .order_by(club_ledger.c.seq.desc())
            .limit(limit)
        )
        return [_entry(row) for row in rows]
