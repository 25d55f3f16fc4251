"""The limited attempts at a club's PC (`club_pc_failures`): the staff PIN (`PIN`) and a
customer's sign-in (`SIGN_IN`), held to so many wrong ones a window per PC and, for sign-ins,
per login across the club's PCs, counted across every hub process.

An attempt is claimed before its secret is checked (`claim`): in one transaction that holds
the club's row (on PostgreSQL; SQLite's single writer serialises it anyway), the failures in
the window are counted and, under every limit, the attempt is recorded as one. So of attempts
that arrive at once exactly as many as the limits leave reach the check, and the others are
refused (`RateLimited`, `too_many_attempts`, Retry-After until the oldest counted failure
leaves the window). A right secret removes its record (`forget`, in the caller's transaction).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, delete, func, select
from sqlalchemy.ext.asyncio import AsyncConnection

from kassa.domain import RateLimited
from kassa.protocol.club_pc import (
    LOGIN_ATTEMPTS,
    PIN_ATTEMPTS,
    PIN_WINDOW,
    SIGN_IN_ATTEMPTS,
    SIGN_IN_WINDOW,
)
from kassa.services.club.pc_view import Seat
from kassa.services.context import Context
from kassa.store.tables import club_pc_failures, clubs

#: What a refused attempt's error says it is.
CODE = "too_many_attempts"


@dataclass(frozen=True, slots=True)
class Rule:
    """A kind of attempt: `per_pc` wrong ones from a PC, and `per_login` at one login from
    any PC (None: not limited by login), in `window` seconds."""

    kind: str
    what: str
    window: int
    per_pc: int
    per_login: int | None = None


PIN = Rule("pin", "wrong PINs", PIN_WINDOW, PIN_ATTEMPTS)
SIGN_IN = Rule("sign_in", "wrong sign-ins", SIGN_IN_WINDOW, SIGN_IN_ATTEMPTS, LOGIN_ATTEMPTS)

f = club_pc_failures.c


async def claim(ctx: Context, rule: Rule, seat: Seat, *, login: str | None = None) -> int:
    """Record an attempt at `seat`'s PC (and `login`) as a failure until `forget`: its
    record's number. `RateLimited` (`too_many_attempts`) when a limit is reached."""
    now = ctx.clock()
    since = now - timedelta(seconds=rule.window)
    club_id = seat.club.id
    kind = (f.club_id == club_id, f.kind == rule.kind)
    counted: list[tuple[str, tuple[ColumnElement[bool], ...], int]] = [
        ("from this PC", (f.device_id == seat.pc,), rule.per_pc)
    ]
    if rule.per_login is not None and login is not None:
        counted.append(("for this login", (f.login == login,), rule.per_login))
    async with ctx.db.write() as conn:
        # Every attempt at the club waits here for the one before it to be recorded.
        await conn.execute(select(clubs.c.id).where(clubs.c.id == club_id).with_for_update())
        await conn.execute(delete(club_pc_failures).where(*kind, f.failed_at <= since))
        for where, scope, limit in counted:
            count, oldest = (
                await conn.execute(select(func.count(), func.min(f.failed_at)).where(*kind, *scope))
            ).one()
            if count >= limit:
                raise _refused(rule, where, oldest + timedelta(seconds=rule.window), now)
        seq: int = (
            await conn.execute(
                club_pc_failures.insert()
                .values(
                    club_id=club_id, device_id=seat.pc, kind=rule.kind, login=login, failed_at=now
                )
                .returning(f.seq)
            )
        ).scalar_one()
    return seq


async def forget(
    conn: AsyncConnection, rule: Rule, seat: Seat, seq: int, *, login: str | None = None
) -> None:
    """The attempt `seq` was right: remove its record and, for a login, the failures counted
    against it (its owner has signed in). The PC's other failures stay counted: a customer's
    own right sign-in does not free a PC to guess other passwords."""
    scope = f.seq == seq
    if login is not None:
        scope = scope | (f.login == login)
    await conn.execute(
        delete(club_pc_failures).where(f.club_id == seat.club.id, f.kind == rule.kind, scope)
    )


async def forget_pc(conn: AsyncConnection, rule: Rule, seat: Seat) -> None:
    """Remove the PC's failures of `rule`'s kind (a right staff PIN)."""
    await conn.execute(
        delete(club_pc_failures).where(
            f.club_id == seat.club.id, f.kind == rule.kind, f.device_id == seat.pc
        )
    )


def _refused(rule: Rule, where: str, free_at: datetime, now: datetime) -> RateLimited:
    wait = max(1, math.ceil((free_at - now).total_seconds()))
    refused = RateLimited(
        f"Too many {rule.what} {where}; try again in {wait} seconds", retry_after=wait
    )
    refused.code = CODE
    return refused
