"""How sessions end without a person: run out (the paid time used up, or the lease lost
while the PC is silent, by the club's offline policy), and reconciled with what the PC's
agent reports it did while its link was down (a correction entry, once)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import and_, or_, update

from kassa.domain.club import OfflinePolicy
from kassa.domain.club_sessions import (
    LEASE_GRACE,
    EndReason,
    SessionState,
)
from kassa.services.club import (
    session_charges,
    session_records,
    sessions,
)
from kassa.services.club.clubs import Club
from kassa.services.club.session_records import Session
from kassa.services.context import Context
from kassa.store.tables import (
    club_sessions,
    clubs,
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
        rows = await conn.execute(
            session_records.with_club().where(s.state == SessionState.ACTIVE, over)
        )
        return [(session_records.session_record(row), session_records.club_of(row)) for row in rows]


async def expire(ctx: Context, *, club: Club, session: Session) -> Session | None:
    """End a session that `run_out` found: at its paid end if that has passed, else at its
    lease's end (its PC locked then). Once, whoever calls it."""
    now = ctx.clock()
    async with ctx.db.write() as conn:
        current = await session_records.load(conn, session.id)
        if current.state != SessionState.ACTIVE:
            return None
        if current.paid_until <= now:
            at, reason = current.paid_until, EndReason.TIME_UP
        elif current.lease_expires_at + LEASE_GRACE < now:
            at, reason = current.lease_expires_at, EndReason.LEASE_EXPIRED
        else:
            return None  # renewed meanwhile
        return await sessions.finish(
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
                session_records.with_club().where(
                    club_sessions.c.id == session_id,
                    club_sessions.c.shop_id == shop_id,
                    club_sessions.c.device_id == pc,
                )
            )
        ).first()
        if row is None or row.agent_ended_at is not None or row.state == SessionState.PAUSED:
            return
        session, club = session_records.session_record(row), session_records.club_of(row)
        at = min(max(locked_at, session.started_at), now)
        recorded = await conn.execute(
            update(club_sessions)
            .where(club_sessions.c.id == session.id, club_sessions.c.agent_ended_at.is_(None))
            .values(agent_ended_at=at)
        )
        if recorded.rowcount == 0:
            return
        if session.state == SessionState.ACTIVE:
            await sessions.finish(
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
            await session_charges.give_back_unplayed(
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
