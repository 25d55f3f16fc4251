"""A club's sessions on the server's ledger: start, extend, buy a package during one, pause,
resume, move to another PC, end.

The server owns time. Every charge is made ahead, in the fixed order
(`kassa.domain.club.usage_plan`: packages, time bank, balance per minute), and is one ledger
entry of kind `session_charge` keyed `session:<id>:<offset>` with a row of
`club_session_charges` under the same (session, offset): two requests that would charge the
same stretch of a session (a double click, a retry, two hub processes) charge it once. A
session asked for no length (`open_ended`) is charged a block at a time
(`block_seconds`) and extended by its PC's hub while the customer can pay.

A session that ends before its paid time gives the unplayed time back (money by whole
unplayed minutes, time to the time bank and packages to the second) as one ledger entry of
kind `correction`, keyed `session:<id>:end`, that says why; an agent's later report that it
locked earlier than the server recorded gives back the difference in another
(`session:<id>:reconciled`). Nothing edits an entry or a balance.

What a PC is told changes with a session (an `unlock` when one starts or resumes on it, an
`end_session` when one ends or moves away, a `lock` when it is paused) is queued as a device
operation in the transaction that changes the session, so it reaches the PC, acknowledged,
through whichever hub process holds its link.

Staff's changes (start, extend, pause, resume, move, end) take the caller: a person of the admin
UI needs the right to run the floor (`access`), and the change's audit entry is written in its
transaction; API keys and the command line act with the shop's whole authority. They write
through `idempotency.transaction`, so a front-end that runs one under a key (the dashboard's
forms) commits its answer with it: a form sent twice acts once.

Beside this module: the stored sessions and their reads (`session_records`), charging and
giving back on the ledger (`session_charges`), and the ends no person asks for: run out,
expired leases, agents' reports (`session_ends`, for the floor).
"""

from __future__ import annotations

import contextlib
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from kassa.domain import (
    Conflict,
    InsufficientFunds,
    NotFound,
    ParameterInvalid,
    TerminalUnavailable,
    new_id,
)
from kassa.domain.club_sessions import (
    EndReason,
    SessionState,
    lease_end,
)
from kassa.protocol.club import Action
from kassa.services import idempotency
from kassa.services.callers import Caller
from kassa.services.club import access, customers, packages, session_charges, session_records
from kassa.services.club.access import Right
from kassa.services.club.clubs import Club
from kassa.services.club.session_records import (
    Session,
)
from kassa.services.context import Context
from kassa.services.devices.club_pcs import KIND
from kassa.services.devices.queue import NewOperation, enqueue
from kassa.store.tables import (
    club_pcs,
    club_sessions,
)
from kassa.store.tables import terminals as devices

#: The longest session one request may ask for.
MAX_MINUTES = 24 * 60
#: How long an operation for a PC (unlock, lock, end_session) may wait for it to connect.
TELL_WITHIN = timedelta(minutes=10)


def block_seconds(club: Club) -> int:
    """What an open-ended session is charged at a time: the club's lease, in whole minutes."""
    return -(-club.lease_max // 60) * 60


def extend_within(club: Club) -> timedelta:
    """An open-ended session is charged its next block when less than this is left."""
    return timedelta(seconds=block_seconds(club) // 2)


async def _zone_of(conn: AsyncConnection, *, club: Club, pc: str) -> str:
    """The zone id of the club's PC `pc`, which must be enabled."""
    row = (
        await conn.execute(
            select(club_pcs.c.zone_id, devices.c.enabled)
            .join(
                devices,
                and_(devices.c.shop_id == club_pcs.c.shop_id, devices.c.id == club_pcs.c.device_id),
            )
            .where(club_pcs.c.club_id == club.id, club_pcs.c.device_id == pc)
        )
    ).first()
    if row is None:
        raise NotFound(f"Club {club.name} has no PC {pc!r}", param="pc")
    if not row.enabled:
        raise Conflict(f"PC {pc!r} is disabled", param="pc", code="pc_disabled")
    return str(row.zone_id)


async def tell(
    conn: AsyncConnection, *, club: Club, pc: str, action: Action, now: datetime, **body: Any
) -> None:
    """Queue `action` for the PC in the caller's transaction; a disabled PC is not told (its
    lease runs out, and it locks by itself)."""
    with contextlib.suppress(TerminalUnavailable):
        await enqueue(
            conn,
            shop_id=club.shop_id,
            new=NewOperation(
                device_id=pc,
                device_kind=KIND,
                kind=action.value,
                body=body,
                deadline=now + TELL_WITHIN,
            ),
            now=now,
        )


async def _witness(
    conn: AsyncConnection,
    caller: Caller | None,
    *,
    club: Club,
    action: str,
    session: Session,
    now: datetime,
    **details: Any,
) -> None:
    """The audit entry of staff's change `action` of `session` (`club.session.<action>`)."""
    await access.witness(
        conn,
        caller,
        club=club,
        action=f"club.session.{action}",
        object_id=session.id,
        now=now,
        details={"pc": session.pc, "customer": session.login, **details},
    )


def _seconds(minutes: int | None) -> int | None:
    if minutes is None:
        return None
    if not 0 < minutes <= MAX_MINUTES:
        raise ParameterInvalid(f"a session is 1 to {MAX_MINUTES} minutes", param="minutes")
    return minutes * 60


async def start(
    ctx: Context,
    *,
    club: Club,
    pc: str,
    login: str,
    actor: str,
    minutes: int | None = None,
    package: str | None = None,
    caller: Caller | None = None,
) -> Session:
    """Start the customer's session on `pc`: with `package`, buy it and play its time; with
    `minutes`, that long; with neither, open-ended (a block at a time while they can pay).
    Time is charged in the fixed order. `InsufficientFunds` if nothing can be paid,
    `Conflict` if the PC or the customer has a session already. The PC is told to unlock."""
    access.require(caller, Right.FLOOR)
    wanted = _seconds(minutes)
    now = ctx.clock()
    session_id = new_id("sess")
    try:
        async with idempotency.transaction(ctx) as conn:
            customer = await customers.find(conn, club=club, login=login)
            customers.check_active(customer)
            zone_id = await _zone_of(conn, club=club, pc=pc)
            if package is not None:
                bought = await packages.find(conn, club=club, name=package)
                await packages.purchase(
                    conn, club=club, customer_id=customer.id, package=bought, actor=actor, now=now
                )
                wanted = wanted or bought.seconds
            await conn.execute(
                club_sessions.insert().values(
                    id=session_id,
                    club_id=club.id,
                    shop_id=club.shop_id,
                    device_id=pc,
                    customer_id=customer.id,
                    state=SessionState.ACTIVE,
                    open_ended=wanted is None,
                    started_at=now,
                    paid_until=now,
                    charged_seconds=0,
                    lease_expires_at=now,
                    lease_seq=0,
                    actor=actor[:64],
                    created_at=now,
                )
            )
            session = await session_charges.charge(
                conn,
                club=club,
                session=await session_records.load(conn, session_id),
                zone_id=zone_id,
                seconds=wanted or block_seconds(club),
                actor=actor,
                now=now,
            )
            if session is None:
                raise InsufficientFunds(f"Customer {login!r} has no time or money to play")
            # The first lease; later ones are renewed by the PC's heartbeats only.
            await conn.execute(
                update(club_sessions)
                .where(club_sessions.c.id == session_id)
                .values(lease_expires_at=lease_end(session.paid_until, now, club.lease_max))
            )
            session = await session_records.load(conn, session_id)
            await tell(conn, club=club, pc=pc, action=Action.UNLOCK, now=now, session=session.id)
            await _witness(
                conn,
                caller,
                club=club,
                action="start",
                session=session,
                now=now,
                minutes=minutes,
                package=package,
            )
            return session
    except IntegrityError:
        raise Conflict(
            f"PC {pc!r} or customer {login!r} has a session already",
            param="pc",
            code="session_exists",
        ) from None


async def extend(
    ctx: Context,
    *,
    club: Club,
    pc: str,
    actor: str,
    minutes: int | None = None,
    package: str | None = None,
    caller: Caller | None = None,
) -> Session:
    """Charge more time to the session on `pc`: `minutes`, or a package bought now (its
    time), in the fixed order. A paused session's extra time waits with it."""
    if (minutes is None) == (package is None):
        raise ParameterInvalid("extend by minutes or by a package", param="minutes")
    access.require(caller, Right.FLOOR)
    wanted = _seconds(minutes)
    now = ctx.clock()
    async with idempotency.transaction(ctx) as conn:
        session = await session_records.live(conn, club=club, pc=pc)
        zone_id = await _zone_of(conn, club=club, pc=pc)
        if package is not None:
            bought = await packages.find(conn, club=club, name=package)
            await packages.purchase(
                conn,
                club=club,
                customer_id=session.customer_id,
                package=bought,
                actor=actor,
                now=now,
            )
            wanted = bought.seconds
        assert wanted is not None
        if session.state == SessionState.PAUSED:
            extended = await _extend_paused(
                conn,
                club=club,
                session=session,
                zone_id=zone_id,
                seconds=wanted,
                actor=actor,
                now=now,
            )
        else:
            charged = await session_charges.charge(
                conn,
                club=club,
                session=session,
                zone_id=zone_id,
                seconds=wanted,
                actor=actor,
                now=now,
            )
            if charged is None:
                raise InsufficientFunds(f"Customer {session.login!r} has no time or money left")
            extended = charged
        await _witness(
            conn,
            caller,
            club=club,
            action="extend",
            session=extended,
            now=now,
            minutes=minutes,
            package=package,
            seconds=extended.charged_seconds - session.charged_seconds,
        )
        return extended


async def _extend_paused(
    conn: AsyncConnection,
    *,
    club: Club,
    session: Session,
    zone_id: str,
    seconds: int,
    actor: str,
    now: datetime,
) -> Session:
    charged = await session_charges.charge(
        conn, club=club, session=session, zone_id=zone_id, seconds=seconds, actor=actor, now=now
    )
    if charged is None:
        raise InsufficientFunds(f"Customer {session.login!r} has no time or money left")
    added = charged.charged_seconds - session.charged_seconds
    await conn.execute(
        update(club_sessions)
        .where(club_sessions.c.id == session.id)
        .values(
            paused_left=club_sessions.c.paused_left + added,
            paid_until=session.paid_until,
            lease_expires_at=session.lease_expires_at,
        )
    )
    return await session_records.load(conn, session.id)


async def auto_extend(ctx: Context, *, club: Club, session: Session) -> Session | None:
    """Charge an open-ended session its next block when less than half a block of paid time
    is left (its PC's hub does this while the PC is linked); `None` if the customer cannot pay
    or nothing was due."""
    now = ctx.clock()
    if not session.open_ended or session.paid_until - now >= extend_within(club):
        return None
    async with ctx.db.write() as conn:
        current = await session_records.load(conn, session.id)
        if (
            current.state != SessionState.ACTIVE
            or current.charged_seconds != session.charged_seconds
        ):
            return None
        try:
            zone_id = await _zone_of(conn, club=club, pc=current.pc)
            return await session_charges.charge(
                conn,
                club=club,
                session=current,
                zone_id=zone_id,
                seconds=block_seconds(club),
                actor="club",
                now=now,
            )
        except (Conflict, NotFound, InsufficientFunds):
            return None


async def finish(
    conn: AsyncConnection,
    *,
    club: Club,
    session: Session,
    at: datetime,
    reason: str,
    actor: str,
    now: datetime,
) -> Session | None:
    """End `session` at `at` (never after its paid time) in the caller's transaction: once
    (`None` if it had ended meanwhile); what was paid beyond `at` is given back and its PC is
    told."""
    ended_at = min(at, session.paid_until) if session.state == SessionState.ACTIVE else at
    done = await conn.execute(
        update(club_sessions)
        .where(club_sessions.c.id == session.id, club_sessions.c.state == session.state)
        .values(
            state=SessionState.ENDED,
            ended_at=ended_at,
            end_reason=reason,
            paused_left=None,
            lease_expires_at=ended_at,
            lease_seq=club_sessions.c.lease_seq + 1,
        )
    )
    if done.rowcount == 0:
        return None
    if session.state == SessionState.PAUSED:
        unplayed = session.paused_left or 0
    else:
        unplayed = int((session.paid_until - ended_at).total_seconds())
    await session_charges.give_back_unplayed(
        conn,
        club=club,
        session=session,
        unplayed=unplayed,
        why=f"ended ({reason}) at {ended_at.isoformat()}",
        key=f"session:{session.id}:end",
        actor=actor,
        now=now,
    )
    await tell(
        conn, club=club, pc=session.pc, action=Action.END_SESSION, now=now, session=session.id
    )
    return await session_records.load(conn, session.id)


async def end(
    ctx: Context,
    *,
    club: Club,
    pc: str,
    actor: str,
    caller: Caller | None = None,
    reason: str = EndReason.STAFF,
) -> Session:
    """End the session on `pc` now (staff, or the customer at the desk; `EndReason.CUSTOMER`:
    the customer on the PC)."""
    access.require(caller, Right.FLOOR)
    now = ctx.clock()
    async with idempotency.transaction(ctx) as conn:
        return await end_on(
            conn, club=club, pc=pc, actor=actor, now=now, caller=caller, reason=reason
        )


async def end_on(
    conn: AsyncConnection,
    *,
    club: Club,
    pc: str,
    actor: str,
    now: datetime,
    caller: Caller | None = None,
    reason: str = EndReason.STAFF,
) -> Session:
    """`end`, in the caller's transaction (its right checked already)."""
    session = await session_records.live(conn, club=club, pc=pc)
    ended = await finish(
        conn, club=club, session=session, at=now, reason=reason, actor=actor, now=now
    )
    if ended is None:
        raise Conflict("The session ended meanwhile", code="session_ended")
    await _witness(conn, caller, club=club, action="end", session=ended, now=now)
    return ended


async def pause(
    ctx: Context, *, club: Club, pc: str, actor: str, caller: Caller | None = None
) -> Session:
    """Hold the session on `pc`: its paid time left waits, its PC locks."""
    access.require(caller, Right.FLOOR)
    now = ctx.clock()
    async with idempotency.transaction(ctx) as conn:
        session = await session_records.live(conn, club=club, pc=pc)
        if session.state != SessionState.ACTIVE:
            raise Conflict("The session is paused already", code="session_paused")
        left = max(0, int((session.paid_until - now).total_seconds()))
        done = await conn.execute(
            update(club_sessions)
            .where(club_sessions.c.id == session.id, club_sessions.c.state == SessionState.ACTIVE)
            .values(
                state=SessionState.PAUSED,
                paused_left=left,
                paid_until=now,
                lease_expires_at=now,
                lease_seq=club_sessions.c.lease_seq + 1,
            )
        )
        if done.rowcount == 0:
            raise Conflict("The session changed meanwhile; try again", code="session_changed")
        await tell(conn, club=club, pc=pc, action=Action.LOCK, now=now, session=session.id)
        paused = await session_records.load(conn, session.id)
        await _witness(conn, caller, club=club, action="pause", session=paused, now=now)
        return paused


async def resume(
    ctx: Context, *, club: Club, pc: str, actor: str, caller: Caller | None = None
) -> Session:
    """Go on with a paused session on its PC, with the paid time it had left."""
    access.require(caller, Right.FLOOR)
    now = ctx.clock()
    async with idempotency.transaction(ctx) as conn:
        session = await session_records.live(conn, club=club, pc=pc)
        if session.state != SessionState.PAUSED:
            raise Conflict("The session is not paused", code="session_not_paused")
        paid_until = now + timedelta(seconds=session.paused_left or 0)
        done = await conn.execute(
            update(club_sessions)
            .where(club_sessions.c.id == session.id, club_sessions.c.state == SessionState.PAUSED)
            .values(
                state=SessionState.ACTIVE,
                paused_left=None,
                paid_until=paid_until,
                lease_expires_at=lease_end(paid_until, now, club.lease_max),
                lease_seq=club_sessions.c.lease_seq + 1,
            )
        )
        if done.rowcount == 0:
            raise Conflict("The session changed meanwhile; try again", code="session_changed")
        await tell(conn, club=club, pc=pc, action=Action.UNLOCK, now=now, session=session.id)
        resumed = await session_records.load(conn, session.id)
        await _witness(conn, caller, club=club, action="resume", session=resumed, now=now)
        return resumed


async def move(
    ctx: Context, *, club: Club, pc: str, to: str, actor: str, caller: Caller | None = None
) -> Session:
    """Move the customer's session from `pc` to `to` (a free PC of the club), with the paid
    time it has; what is charged afterwards is at `to`'s zone's rates."""
    access.require(caller, Right.FLOOR)
    if pc == to:
        raise ParameterInvalid("the session is on that PC already", param="to")
    now = ctx.clock()
    try:
        async with idempotency.transaction(ctx) as conn:
            session = await session_records.live(conn, club=club, pc=pc)
            await _zone_of(conn, club=club, pc=to)
            done = await conn.execute(
                update(club_sessions)
                .where(club_sessions.c.id == session.id, club_sessions.c.device_id == pc)
                .values(device_id=to, lease_seq=club_sessions.c.lease_seq + 1)
            )
            if done.rowcount == 0:
                raise Conflict("The session changed meanwhile; try again", code="session_changed")
            await tell(
                conn, club=club, pc=pc, action=Action.END_SESSION, now=now, session=session.id
            )
            if session.state == SessionState.ACTIVE:
                await tell(
                    conn, club=club, pc=to, action=Action.UNLOCK, now=now, session=session.id
                )
            moved = await session_records.load(conn, session.id)
            await _witness(
                conn, caller, club=club, action="move", session=moved, now=now, moved_from=pc
            )
            return moved
    except IntegrityError:
        raise Conflict(
            f"PC {to!r} has a session already", param="to", code="session_exists"
        ) from None
