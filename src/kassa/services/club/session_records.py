"""A club's sessions as they are stored: `Session` (a row with its customer's login, its
time left and its PC's lease) and the reads of them (`get`, `list_sessions`, `live_on`, and
those the sessions' changes use in their transactions)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection

from kassa.domain import (
    NotFound,
)
from kassa.domain.club_sessions import (
    SessionState,
)
from kassa.protocol.club import Lease
from kassa.services.club.clubs import Club
from kassa.services.context import Context
from kassa.store.tables import (
    club_customers,
    club_sessions,
    clubs,
)


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


def sessions_query() -> Any:
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


async def load(conn: AsyncConnection, session_id: str) -> Session:
    row = (await conn.execute(sessions_query().where(club_sessions.c.id == session_id))).first()
    if row is None:
        raise NotFound(f"No session {session_id!r}", param="session")
    return session_record(row)


async def live(
    conn: AsyncConnection, *, club: Club, pc: str | None = None, login: str | None = None
) -> Session:
    """The club's session that is not over on `pc`, or of the customer `login`."""
    query = sessions_query().where(
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


def with_club() -> Any:
    return (
        sessions_query()
        .add_columns(*(column.label(f"the_club_{column.name}") for column in clubs.c))
        .join(clubs, clubs.c.id == club_sessions.c.club_id)
    )


async def get(ctx: Context, *, club: Club, pc: str) -> Session:
    """The session on `pc` that is not over."""
    async with ctx.db.read() as conn:
        return await live(conn, club=club, pc=pc)


async def list_sessions(
    ctx: Context, *, club: Club, include_ended: bool = False, limit: int = 100
) -> list[Session]:
    """The club's sessions that are not over (with `include_ended`, the latest of all too),
    newest first."""
    query = sessions_query().where(club_sessions.c.club_id == club.id)
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
    query = with_club().where(
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
