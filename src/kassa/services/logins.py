"""Signing in to the admin UI: rate-limited password checks and server-side sessions.

A session is a random token in the browser's cookie; the database keeps only its SHA-256, so
a copy of the database signs nobody in. A session ends when its user signs out, after
`admin_session_idle_minutes` without a request, `admin_session_max_hours` after signing in,
or when its user is deactivated or gets a new password.

Failed sign-ins are stored (not kept in memory), so the limits hold across restarts and
across several `kassa serve` processes: at most `admin_login_max_failures` per user name and
`admin_login_max_failures_per_client` per client address within `admin_login_window_minutes`.
Over either, sign-in is refused (even with the right password) until the oldest counted
failure leaves the window. A successful sign-in clears its name's failures.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, func, insert, select, update

from kassa.domain import AdminUser, AuthenticationFailed, RateLimited
from kassa.services import admins, audit
from kassa.services.audit import Actor
from kassa.services.context import Context
from kassa.store import records
from kassa.store.tables import admin_login_failures, admin_sessions, admin_users

#: How stale `last_seen_at` may get before a request writes it again (saves a write per page).
TOUCH_EVERY = timedelta(minutes=1)


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class Session:
    """A signed-in user's session, as found from the token in their cookie."""

    user: AdminUser
    token: str
    client: str | None
    created_at: datetime

    @property
    def actor(self) -> Actor:
        return Actor(name=self.user.name, user_id=self.user.id, client=self.client)


async def _refuse_if_limited(ctx: Context, *, name: str, client: str, now: datetime) -> None:
    settings = ctx.settings
    window = timedelta(minutes=settings.admin_login_window_minutes)
    failures = admin_login_failures.c
    async with ctx.db.read() as conn:
        for column, value, limit in (
            (failures.name, name, settings.admin_login_max_failures),
            (failures.client, client, settings.admin_login_max_failures_per_client),
        ):
            counted = select(func.count(), func.min(failures.failed_at)).where(
                column == value, failures.failed_at > now - window
            )
            count, oldest = (await conn.execute(counted)).one()
            if count >= limit:
                wait = oldest + window - now
                minutes = max(1, -(-int(wait.total_seconds()) // 60))
                raise RateLimited(
                    f"Too many failed sign-ins; try again in {minutes} minutes",
                    retry_after=max(1, int(wait.total_seconds())),
                )


async def log_in(ctx: Context, *, name: str, password: str, client: str) -> Session:
    """A new session for `name` if `password` is right and no limit is reached; otherwise
    `RateLimited` or `AuthenticationFailed` (which never says whether the name exists)."""
    name = name.strip().lower()[:64]
    now = ctx.clock()
    await _refuse_if_limited(ctx, name=name, client=client, now=now)
    user = await admins.verify(ctx, name=name, password=password)
    if user is None:
        window = timedelta(minutes=ctx.settings.admin_login_window_minutes)
        async with ctx.db.write() as conn:
            await conn.execute(
                delete(admin_login_failures).where(admin_login_failures.c.failed_at < now - window)
            )
            await conn.execute(
                insert(admin_login_failures).values(name=name, client=client, failed_at=now)
            )
            await audit.record(
                conn,
                actor=Actor(name=name, client=client),
                action="login.failed",
                now=now,
            )
        raise AuthenticationFailed("Wrong user name or password")
    token = secrets.token_urlsafe(32)
    session = Session(user=user, token=token, client=client, created_at=now)
    idle = timedelta(minutes=ctx.settings.admin_session_idle_minutes)
    async with ctx.db.write() as conn:
        await conn.execute(delete(admin_login_failures).where(admin_login_failures.c.name == name))
        # Sessions idle past the limit are dead: clear them out while here.
        await conn.execute(delete(admin_sessions).where(admin_sessions.c.last_seen_at < now - idle))
        await conn.execute(
            insert(admin_sessions).values(
                token_hash=_digest(token),
                user_id=user.id,
                client=client,
                created_at=now,
                last_seen_at=now,
            )
        )
        await audit.record(conn, actor=session.actor, action="login", now=now, object_id=user.id)
    return session


async def resume(ctx: Context, *, token: str, client: str | None) -> Session | None:
    """The live session of `token`, or None (unknown, ended, expired, or its user
    deactivated). An expired session is deleted."""
    now = ctx.clock()
    settings = ctx.settings
    token_hash = _digest(token)
    query = (
        select(
            admin_sessions.c.created_at.label("session_created_at"),
            admin_sessions.c.last_seen_at,
            admin_users,
        )
        .join(admin_users, admin_users.c.id == admin_sessions.c.user_id)
        .where(admin_sessions.c.token_hash == token_hash)
    )
    async with ctx.db.read() as conn:
        row = (await conn.execute(query)).mappings().first()
    if row is None:
        return None
    idle = now - row["last_seen_at"] > timedelta(minutes=settings.admin_session_idle_minutes)
    too_old = now - row["session_created_at"] > timedelta(hours=settings.admin_session_max_hours)
    if idle or too_old or not row["active"]:
        async with ctx.db.write() as conn:
            await conn.execute(
                delete(admin_sessions).where(admin_sessions.c.token_hash == token_hash)
            )
        return None
    if now - row["last_seen_at"] > TOUCH_EVERY:
        async with ctx.db.write() as conn:
            await conn.execute(
                update(admin_sessions)
                .where(admin_sessions.c.token_hash == token_hash)
                .values(last_seen_at=now)
            )
    user = records.admin_user(row)
    return Session(user=user, token=token, client=client, created_at=row["session_created_at"])


async def log_out(ctx: Context, *, session: Session) -> None:
    """End the session, and say so in the audit log."""
    async with ctx.db.write() as conn:
        await conn.execute(
            delete(admin_sessions).where(admin_sessions.c.token_hash == _digest(session.token))
        )
        await audit.record(
            conn, actor=session.actor, action="logout", now=ctx.clock(), object_id=session.user.id
        )
