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
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, or_, select, update
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
from kassa.domain.club import LedgerKind, OfflinePolicy, usage_plan
from kassa.domain.club_sessions import (
    LEASE_GRACE,
    Charge,
    EndReason,
    SessionState,
    give_back,
    lease_end,
)
from kassa.protocol.club import Action, Lease
from kassa.services import idempotency
from kassa.services.callers import Caller
from kassa.services.club import access, customers, packages
from kassa.services.club.access import Right
from kassa.services.club.clubs import Club
from kassa.services.club.ledger import post
from kassa.services.club.pricing import rates_from, zone_rules
from kassa.services.context import Context
from kassa.services.devices.club_pcs import KIND
from kassa.services.devices.queue import NewOperation, enqueue
from kassa.store.tables import (
    club_customers,
    club_holdings,
    club_pcs,
    club_session_charges,
    club_sessions,
    clubs,
)
from kassa.store.tables import terminals as devices

#: The longest session one request may ask for.
MAX_MINUTES = 24 * 60
#: How long an operation for a PC (unlock, lock, end_session) may wait for it to connect.
TELL_WITHIN = timedelta(minutes=10)


@dataclass(frozen=True, slots=True)
class Session:
    id: str
    club_id: str
    shop_id: str
    pc: str
    customer_id: str
    login: str
    state: str
    open_ended: bool
    started_at: datetime
    paid_until: datetime
    charged_seconds: int
    paused_left: int | None
    lease_expires_at: datetime
    lease_seq: int
    ended_at: datetime | None
    end_reason: str | None
    agent_ended_at: datetime | None

    def left(self, now: datetime) -> int:
        """Seconds of paid time left at `now`."""
        if self.state == SessionState.PAUSED:
            return self.paused_left or 0
        if self.state == SessionState.ENDED:
            return 0
        return max(0, int((self.paid_until - now).total_seconds()))

    def lease(self) -> Lease:
        """What its PC was last told (no session once it is not active)."""
        if self.state != SessionState.ACTIVE:
            return Lease(None, None, None, self.lease_seq)
        return Lease(self.id, self.paid_until, self.lease_expires_at, self.lease_seq)


def block_seconds(club: Club) -> int:
    """What an open-ended session is charged at a time: the club's lease, in whole minutes."""
    return -(-club.lease_max // 60) * 60


def extend_within(club: Club) -> timedelta:
    """An open-ended session is charged its next block when less than this is left."""
    return timedelta(seconds=block_seconds(club) // 2)


def _query() -> Any:
    return select(club_sessions, club_customers.c.login).join(
        club_customers, club_customers.c.id == club_sessions.c.customer_id
    )


def session_record(row: Any) -> Session:
    return Session(
        id=row.id,
        club_id=row.club_id,
        shop_id=row.shop_id,
        pc=row.device_id,
        customer_id=row.customer_id,
        login=row.login,
        state=row.state,
        open_ended=row.open_ended,
        started_at=row.started_at,
        paid_until=row.paid_until,
        charged_seconds=row.charged_seconds,
        paused_left=row.paused_left,
        lease_expires_at=row.lease_expires_at,
        lease_seq=row.lease_seq,
        ended_at=row.ended_at,
        end_reason=row.end_reason,
        agent_ended_at=row.agent_ended_at,
    )


async def _load(conn: AsyncConnection, session_id: str) -> Session:
    row = (await conn.execute(_query().where(club_sessions.c.id == session_id))).first()
    if row is None:
        raise NotFound(f"No session {session_id!r}", param="session")
    return session_record(row)


async def _live(
    conn: AsyncConnection, *, club: Club, pc: str | None = None, login: str | None = None
) -> Session:
    """The club's session that is not over on `pc`, or of the customer `login`."""
    query = _query().where(
        club_sessions.c.club_id == club.id, club_sessions.c.state != SessionState.ENDED
    )
    if pc is not None:
        query = query.where(club_sessions.c.device_id == pc)
    if login is not None:
        query = query.where(club_customers.c.login == login)
    row = (await conn.execute(query)).first()
    if row is None:
        what = f"PC {pc!r}" if pc is not None else f"customer {login!r}"
        raise NotFound(f"No session is running for {what} in club {club.name}", param="session")
    return session_record(row)


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


async def _charge(
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
    return await _load(conn, session.id)


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
            session = await _charge(
                conn,
                club=club,
                session=await _load(conn, session_id),
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
            session = await _load(conn, session_id)
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
        session = await _live(conn, club=club, pc=pc)
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
            charged = await _charge(
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
    charged = await _charge(
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
    return await _load(conn, session.id)


async def auto_extend(ctx: Context, *, club: Club, session: Session) -> Session | None:
    """Charge an open-ended session its next block when less than half a block of paid time
    is left (its PC's hub does this while the PC is linked); `None` if the customer cannot pay
    or nothing was due."""
    now = ctx.clock()
    if not session.open_ended or session.paid_until - now >= extend_within(club):
        return None
    async with ctx.db.write() as conn:
        current = await _load(conn, session.id)
        if (
            current.state != SessionState.ACTIVE
            or current.charged_seconds != session.charged_seconds
        ):
            return None
        try:
            zone_id = await _zone_of(conn, club=club, pc=current.pc)
            return await _charge(
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


async def _charges(conn: AsyncConnection, session_id: str) -> list[Charge]:
    rows = await conn.execute(
        select(club_session_charges.c.offset, club_session_charges.c.uses).where(
            club_session_charges.c.session_id == session_id
        )
    )
    return [Charge(row.offset, row.uses) for row in rows]


async def _give_back(
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
    charges = await _charges(conn, session.id)
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
    await _give_back(
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
    return await _load(conn, session.id)


async def end(
    ctx: Context, *, club: Club, pc: str, actor: str, caller: Caller | None = None
) -> Session:
    """End the session on `pc` now (staff, or the customer at the desk)."""
    access.require(caller, Right.FLOOR)
    now = ctx.clock()
    async with idempotency.transaction(ctx) as conn:
        return await end_on(conn, club=club, pc=pc, actor=actor, now=now, caller=caller)


async def end_on(
    conn: AsyncConnection,
    *,
    club: Club,
    pc: str,
    actor: str,
    now: datetime,
    caller: Caller | None = None,
) -> Session:
    """`end`, in the caller's transaction (its right checked already)."""
    session = await _live(conn, club=club, pc=pc)
    ended = await finish(
        conn, club=club, session=session, at=now, reason=EndReason.STAFF, actor=actor, now=now
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
        session = await _live(conn, club=club, pc=pc)
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
        paused = await _load(conn, session.id)
        await _witness(conn, caller, club=club, action="pause", session=paused, now=now)
        return paused


async def resume(
    ctx: Context, *, club: Club, pc: str, actor: str, caller: Caller | None = None
) -> Session:
    """Go on with a paused session on its PC, with the paid time it had left."""
    access.require(caller, Right.FLOOR)
    now = ctx.clock()
    async with idempotency.transaction(ctx) as conn:
        session = await _live(conn, club=club, pc=pc)
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
        resumed = await _load(conn, session.id)
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
            session = await _live(conn, club=club, pc=pc)
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
            moved = await _load(conn, session.id)
            await _witness(
                conn, caller, club=club, action="move", session=moved, now=now, moved_from=pc
            )
            return moved
    except IntegrityError:
        raise Conflict(
            f"PC {to!r} has a session already", param="to", code="session_exists"
        ) from None


def _with_club() -> Any:
    return (
        _query()
        .add_columns(*(column.label(f"the_club_{column.name}") for column in clubs.c))
        .join(clubs, clubs.c.id == club_sessions.c.club_id)
    )


async def run_out(ctx: Context, *, now: datetime, lost: bool) -> list[tuple[Session, Club]]:
    """Active sessions whose paid time is over, and, with `lost`, those of clubs whose
    offline policy is `lock` whose lease ran out (their PC locked without the link)."""
    s = club_sessions.c
    over = s.paid_until <= now
    if lost:
        over = or_(
            over,
            and_(
                clubs.c.offline_policy == OfflinePolicy.LOCK,
                s.lease_expires_at < now - LEASE_GRACE,
            ),
        )
    async with ctx.db.read() as conn:
        rows = await conn.execute(_with_club().where(s.state == SessionState.ACTIVE, over))
        return [(session_record(row), club_of(row)) for row in rows]


async def expire(ctx: Context, *, club: Club, session: Session) -> Session | None:
    """End a session that `run_out` found: at its paid end if that has passed, else at its
    lease's end (its PC locked then). Once, whoever calls it."""
    now = ctx.clock()
    async with ctx.db.write() as conn:
        current = await _load(conn, session.id)
        if current.state != SessionState.ACTIVE:
            return None
        if current.paid_until <= now:
            at, reason = current.paid_until, EndReason.TIME_UP
        elif current.lease_expires_at + LEASE_GRACE < now:
            at, reason = current.lease_expires_at, EndReason.LEASE_EXPIRED
        else:
            return None  # renewed meanwhile
        return await finish(
            conn, club=club, session=current, at=at, reason=reason, actor="club", now=now
        )


async def reconcile(
    ctx: Context, *, shop_id: str, pc: str, session_id: str, locked_at: datetime
) -> None:
    """The PC's agent reports it locked `session_id` at `locked_at`: recorded once. The
    session's end is the earlier of the server's view and the agent's report: a session still
    running ends then; one the server ended later gives the difference back (a correction
    entry, keyed `session:<id>:reconciled`)."""
    now = ctx.clock()
    async with ctx.db.write() as conn:
        row = (
            await conn.execute(
                _with_club().where(
                    club_sessions.c.id == session_id,
                    club_sessions.c.shop_id == shop_id,
                    club_sessions.c.device_id == pc,
                )
            )
        ).first()
        if row is None or row.agent_ended_at is not None or row.state == SessionState.PAUSED:
            return
        session, club = session_record(row), club_of(row)
        at = min(max(locked_at, session.started_at), now)
        recorded = await conn.execute(
            update(club_sessions)
            .where(club_sessions.c.id == session.id, club_sessions.c.agent_ended_at.is_(None))
            .values(agent_ended_at=at)
        )
        if recorded.rowcount == 0:
            return
        if session.state == SessionState.ACTIVE:
            await finish(
                conn,
                club=club,
                session=session,
                at=at,
                reason=EndReason.LEASE_EXPIRED,
                actor="club",
                now=now,
            )
        elif session.ended_at is not None and at < session.ended_at:
            given = int((session.paid_until - session.ended_at).total_seconds())
            await _give_back(
                conn,
                club=club,
                session=session,
                unplayed=int((session.paid_until - at).total_seconds()),
                given=max(given, 0),
                why=f"its PC locked at {at.isoformat()}, before the recorded end",
                key=f"session:{session.id}:reconciled",
                actor="club",
                now=now,
            )


async def get(ctx: Context, *, club: Club, pc: str) -> Session:
    """The session on `pc` that is not over."""
    async with ctx.db.read() as conn:
        return await _live(conn, club=club, pc=pc)


async def list_sessions(
    ctx: Context, *, club: Club, include_ended: bool = False, limit: int = 100
) -> list[Session]:
    """The club's sessions that are not over (with `include_ended`, the latest of all too),
    newest first."""
    query = _query().where(club_sessions.c.club_id == club.id)
    if not include_ended:
        query = query.where(club_sessions.c.state != SessionState.ENDED)
    async with ctx.db.read() as conn:
        rows = await conn.execute(query.order_by(club_sessions.c.created_at.desc()).limit(limit))
        return [session_record(row) for row in rows]


async def live_on(
    ctx: Context, keys: Iterable[tuple[str, str]]
) -> dict[tuple[str, str], tuple[Session, Club]]:
    """The sessions not over on the PCs `keys` (shop id, device id), with their clubs."""
    wanted = set(keys)
    if not wanted:
        return {}
    shops = {shop for shop, _ in wanted}
    query = _with_club().where(
        club_sessions.c.state != SessionState.ENDED, club_sessions.c.shop_id.in_(shops)
    )
    found: dict[tuple[str, str], tuple[Session, Club]] = {}
    async with ctx.db.read() as conn:
        for row in await conn.execute(query):
            key = (row.shop_id, row.device_id)
            if key in wanted:
                found[key] = (session_record(row), club_of(row))
    return found


def club_of(row: Any) -> Club:
    """The club of a row that carries its columns as `the_club_<name>`."""
    return Club(**{name: getattr(row, f"the_club_{name}") for name in Club.__dataclass_fields__})
