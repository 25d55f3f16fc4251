"""Shifts at a club's desk: opened with the cash in the drawer, read while open (the X report),
closed with the cash counted (the Z report, recorded with the shift).

A report sums the club's ledger entries written from the shift's opening up to now (X) or its
close (Z): cash and card taken at the desk, online top-ups credited, session charges, packages
sold, corrections; the cash the drawer should hold is the opening cash plus the cash entries.
At the close the counted cash and its difference from the expected are recorded with the
report, so the shift's figures never change afterwards.

One open shift per club: a partial unique index (`closed_at IS NULL`) refuses a second, so two
openings at the same moment leave one shift and one `409 shift_open`. A close is one
conditional update (`… WHERE closed_at IS NULL`): of two at once one wins, the other finds no
open shift. Entries are counted by their time: one written between two shifts is in neither.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from kassa.domain import MAX_AMOUNT, Conflict, ParameterInvalid, new_id
from kassa.domain.club import LedgerKind
from kassa.services.callers import Caller
from kassa.services.club import access, ledger
from kassa.services.club.access import Right
from kassa.services.club.clubs import Club
from kassa.services.context import Context
from kassa.store.tables import club_ledger, club_shifts


@dataclass(frozen=True, slots=True)
class Report:
    """What a shift took, in minor units of the club's currency (and seconds)."""

    #: The end of the period reported: now (X) or the close (Z).
    until: datetime
    opening_cash: int
    #: Cash taken (top-ups) less cash given back, at the desk.
    cash: int
    card: int
    online: int
    #: Money charged for play, the entries and the seconds of play paid from the balance.
    sessions: int
    session_charges: int
    #: Packages sold, and how many.
    packages: int
    packages_sold: int
    #: Corrections, signed: money and seconds given (or taken), and how many.
    corrections: int
    correction_seconds: int
    corrections_made: int

    @property
    def expected_cash(self) -> int:
        """What the drawer should hold."""
        return self.opening_cash + self.cash

    def as_record(self) -> dict[str, Any]:
        """The report as the shift keeps it (JSON)."""
        fields = {name: getattr(self, name) for name in Report.__dataclass_fields__}
        return fields | {"until": self.until.isoformat(), "expected_cash": self.expected_cash}

    @classmethod
    def from_record(cls, record: dict[str, Any]) -> Report:
        fields = {name: record[name] for name in cls.__dataclass_fields__}
        return cls(**fields | {"until": datetime.fromisoformat(record["until"])})


@dataclass(frozen=True, slots=True)
class Shift:
    id: str
    club_id: str
    opened_at: datetime
    opened_by: str
    opening_cash: int
    closed_at: datetime | None
    closed_by: str | None
    counted_cash: int | None
    expected_cash: int | None
    #: Counted less expected: below zero, cash is missing.
    difference: int | None
    #: The Z report as recorded at the close (`Report.as_record`).
    report: dict[str, Any] | None

    @property
    def open(self) -> bool:
        return self.closed_at is None


def _shift(row: Any) -> Shift:
    return Shift(**{name: getattr(row, name) for name in Shift.__dataclass_fields__})


def _cash(value: int, param: str) -> int:
    if not 0 <= value <= MAX_AMOUNT:
        raise ParameterInvalid("an amount of cash is zero or more", param=param)
    return value


async def open_shift(
    ctx: Context, *, club: Club, cash: int, actor: str, caller: Caller | None = None
) -> Shift:
    """Open the club's shift with `cash` (minor units) in the drawer; `409 shift_open` if
    one is open."""
    access.require(caller, Right.FLOOR)
    shift = Shift(
        id=new_id("shift"),
        club_id=club.id,
        opened_at=ctx.clock(),
        opened_by=actor[:64],
        opening_cash=_cash(cash, "cash"),
        closed_at=None,
        closed_by=None,
        counted_cash=None,
        expected_cash=None,
        difference=None,
        report=None,
    )
    try:
        async with ctx.db.write() as conn:
            await conn.execute(
                club_shifts.insert().values(
                    **{name: getattr(shift, name) for name in Shift.__dataclass_fields__}
                )
            )
            await access.witness(
                conn,
                caller,
                club=club,
                action="club.shift.open",
                object_id=shift.id,
                now=shift.opened_at,
                details={"cash": shift.opening_cash},
            )
    except IntegrityError:
        raise Conflict(
            f"Club {club.name} has a shift open already; close it first", code="shift_open"
        ) from None
    return shift


async def current(ctx: Context, *, club: Club) -> Shift:
    """The club's open shift, or `409 no_open_shift`."""
    async with ctx.db.read() as conn:
        row = (
            await conn.execute(
                select(club_shifts).where(
                    club_shifts.c.club_id == club.id, club_shifts.c.closed_at.is_(None)
                )
            )
        ).first()
    if row is None:
        raise Conflict(f"Club {club.name} has no open shift", code="no_open_shift")
    return _shift(row)


async def _report(
    conn: AsyncConnection, *, club: Club, since: datetime, until: datetime, opening_cash: int = 0
) -> Report:
    entry = club_ledger.c
    rows = await conn.execute(
        select(
            entry.kind,
            entry.method,
            func.count(),
            func.coalesce(func.sum(entry.amount), 0),
            func.coalesce(func.sum(entry.seconds), 0),
        )
        .where(
            entry.club_id == club.id,
            entry.created_at >= since,
            entry.created_at < until,
        )
        .group_by(entry.kind, entry.method)
    )
    sums: dict[str, int] = {}

    def add(name: str, value: int) -> None:
        sums[name] = sums.get(name, 0) + int(value)

    for kind, method, count, amount, seconds in rows:
        if method in (*ledger.METHODS, ledger.ONLINE):  # the report's fields of those names
            add(method, amount)
        if kind == LedgerKind.SESSION_CHARGE:
            add("sessions", -amount)
            add("session_charges", count)
        elif kind == LedgerKind.PURCHASE:
            add("packages", -amount)
            add("packages_sold", count)
        elif kind == LedgerKind.CORRECTION:
            add("corrections", amount)
            add("correction_seconds", seconds)
            add("corrections_made", count)
    names = [name for name in Report.__dataclass_fields__ if name not in ("until", "opening_cash")]
    return Report(
        until=until, opening_cash=opening_cash, **{name: sums.get(name, 0) for name in names}
    )


async def _shift_report(
    conn: AsyncConnection, *, club: Club, shift: Shift, until: datetime
) -> Report:
    return await _report(
        conn, club=club, since=shift.opened_at, until=until, opening_cash=shift.opening_cash
    )


async def takings(
    ctx: Context, *, club: Club, since: datetime, caller: Caller | None = None
) -> Report:
    """What the club took from `since` until now, by kind, whatever the shifts (the
    dashboard's "today"); its opening cash is 0. Changes nothing."""
    access.require(caller, Right.FLOOR)
    async with ctx.db.read() as conn:
        return await _report(conn, club=club, since=since, until=ctx.clock())


async def x_report(
    ctx: Context, *, club: Club, caller: Caller | None = None
) -> tuple[Shift, Report]:
    """The open shift and what it has taken so far; changes nothing."""
    access.require(caller, Right.FLOOR)
    shift = await current(ctx, club=club)
    async with ctx.db.read() as conn:
        return shift, await _shift_report(conn, club=club, shift=shift, until=ctx.clock())


async def close_shift(
    ctx: Context, *, club: Club, counted: int, actor: str, caller: Caller | None = None
) -> tuple[Shift, Report]:
    """Close the open shift with `counted` cash in the drawer: its Z report, the expected
    cash and the difference are recorded with it."""
    access.require(caller, Right.FLOOR)
    counted = _cash(counted, "counted")
    shift = await current(ctx, club=club)
    now = ctx.clock()
    async with ctx.db.write() as conn:
        report = await _shift_report(conn, club=club, shift=shift, until=now)
        closed = await conn.execute(
            update(club_shifts)
            .where(club_shifts.c.id == shift.id, club_shifts.c.closed_at.is_(None))
            .values(
                closed_at=now,
                closed_by=actor[:64],
                counted_cash=counted,
                expected_cash=report.expected_cash,
                difference=counted - report.expected_cash,
                report=report.as_record(),
            )
            .returning(*club_shifts.c)
        )
        row = closed.first()
        if row is not None:
            await access.witness(
                conn,
                caller,
                club=club,
                action="club.shift.close",
                object_id=shift.id,
                now=now,
                details={"counted": counted, "difference": counted - report.expected_cash},
            )
    if row is None:
        raise Conflict(f"Club {club.name}'s shift was closed already", code="no_open_shift")
    return _shift(row), report


async def list_shifts(ctx: Context, *, club: Club, limit: int = 30) -> list[Shift]:
    """The club's latest shifts, newest first."""
    query = (
        select(club_shifts)
        .where(club_shifts.c.club_id == club.id)
        .order_by(club_shifts.c.opened_at.desc())
        .limit(limit)
    )
    async with ctx.db.read() as conn:
        return [_shift(row) for row in await conn.execute(query)]
