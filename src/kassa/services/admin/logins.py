"""Signing in to the admin UI: throttled password checks and server-side sessions.

A session is a random token in the browser's cookie; the database keeps only its SHA-256, so
a copy of the database signs nobody in. A session ends when its user signs out, after
`admin_session_idle_minutes` without a request, `admin_session_max_hours` after signing in,
or when its user is deactivated or gets a new password.

Failed sign-ins are stored (not kept in memory), so the limits hold across restarts and
across several `kassa serve` processes. They are counted within `admin_login_window_minutes`
and by the client's address as the trusted-proxy logic gives it, an IPv6 address by its /64
network (one subscriber's whole block, which costs an attacker nothing to rotate through):

- **One name from one address** (`admin_login_max_failures`): that pair is paused until its
  oldest counted failure leaves the window. Someone guessing `admin` pauses only themselves:
  the owner signs in from anywhere else.
- **One address, any names** (`admin_login_max_failures_per_client`): that address is paused
  likewise.
- **One name from all addresses**, the brake against guessing from many addresses: after
  `admin_login_brake_after` failures for a name, each further attempt for it waits
  `admin_login_brake_seconds * 2 ** (failures - brake_after)` seconds after the name's latest
  failure, at most `admin_login_brake_max_seconds`. It never locks the name: the first
  attempt once the wait is over has its password checked, so the owner (right password, an
  address of their own) gets in after that capped wait, or the next one if a guess came
  first. Guessing is thereby held to about one try per capped wait, whatever the number of
  addresses.

A refused attempt is refused before the password is checked (it says how long to wait) and
is not counted. Attempts that arrive at once get no more checks than attempts one after
another would: each is recorded as a failure before its password is checked and then counted
with every attempt recorded by then, and refused (its record deleted) if that puts it over a
limit (`_hold_to_limits`); so of a burst at most the limit are checked, and possibly none. Under
the brake, each attempt also first claims the turn in the database (see `_Turn`), and only
one gets it. A successful sign-in clears the failures of its own name and address only, so
it does not lift the pauses of whoever is guessing the name elsewhere.
"""

from __future__ import annotations

import hashlib
import math
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, delete, func, insert, select, update
from sqlalchemy.exc import IntegrityError

from kassa.config import Settings
from kassa.domain import AdminUser, AuthenticationFailed, RateLimited
from kassa.services.admin import audit
from kassa.services.admin import users as admins
from kassa.services.admin.audit import Actor
from kassa.services.client_keys import client_key
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


def throttle_key(client: str) -> str:
    """What failed sign-ins are counted by for `client`: its `client_key` (an IPv6 address's
    /64), or, for something that is no IP address, `client` as it is."""
    return client_key(client) or client


def brake_delay(settings: Settings, failures: int) -> timedelta:
    """How long after a name's latest failure its next attempt waits, with `failures` of
    its failures in the window (no wait below `admin_login_brake_after`)."""
    over = failures - settings.admin_login_brake_after
    if over < 0:
        return timedelta(0)
    seconds = settings.admin_login_brake_seconds * 2 ** min(over, 32)
    return timedelta(seconds=min(seconds, settings.admin_login_brake_max_seconds))


def _refused(wait: timedelta) -> RateLimited:
    seconds = max(1, math.ceil(wait.total_seconds()))
    return RateLimited(
        f"Too many failed sign-ins; try again in {seconds} seconds", retry_after=seconds
    )


@dataclass(frozen=True, slots=True)
class _Turn:
    """Under the brake, one attempt at a time: the one that records a failure claiming to
    come after the name's latest failure (`after`, its seq). The unique index on (name,
    claims_after) lets one such claim in however many attempts arrive at once; the claim is
    the attempt's failure if the password is wrong."""

    after: int
    failures: int


def _counted(
    settings: Settings, *, name: str, key: str
) -> tuple[tuple[tuple[ColumnElement[bool], ...], int], ...]:
    """The failures the pair and the address limits count (conditions), each with its limit."""
    failures = admin_login_failures.c
    return (
        ((failures.name == name, failures.client == key), settings.admin_login_max_failures),
        ((failures.client == key,), settings.admin_login_max_failures_per_client),
    )


async def _check_limits(ctx: Context, *, name: str, key: str, now: datetime) -> _Turn | None:
    """Raise `RateLimited` if the pair, the address or the name's brake says wait; under the
    brake, the turn this attempt must claim before its password is checked."""
    settings = ctx.settings
    window = timedelta(minutes=settings.admin_login_window_minutes)
    failures = admin_login_failures.c
    recent = failures.failed_at > now - window
    async with ctx.db.read() as conn:
        for conditions, limit in _counted(settings, name=name, key=key):
            counted = select(func.count(), func.min(failures.failed_at)).where(recent, *conditions)
            count, oldest = (await conn.execute(counted)).one()
            if count >= limit:
                raise _refused(oldest + window - now)
        count = await conn.scalar(select(func.count()).where(recent, failures.name == name))
        if not count or count < settings.admin_login_brake_after:
            return None
        latest = (
            await conn.execute(
                select(failures.seq, failures.failed_at)
                .where(failures.name == name)
                .order_by(failures.seq.desc())
                .limit(1)
            )
        ).one()
    opens = latest.failed_at + brake_delay(settings, count)
    if opens > now:
        raise _refused(opens - now)
    return _Turn(after=latest.seq, failures=count)


async def _record(ctx: Context, turn: _Turn | None, *, name: str, key: str, now: datetime) -> int:
    """Record the attempt as a failure before its password is checked (cleared if it turns
    out right); under the brake this takes the turn, or raises `RateLimited` if another
    attempt took it first. Returns the record's `seq`."""
    try:
        async with ctx.db.write() as conn:
            inserted = await conn.execute(
                insert(admin_login_failures)
                .values(
                    name=name,
                    client=key,
                    failed_at=now,
                    claims_after=None if turn is None else turn.after,
                )
                .returning(admin_login_failures.c.seq)
            )
            seq: int = inserted.scalar_one()
    except IntegrityError:
        assert turn is not None  # only a turn is unique
        raise _refused(brake_delay(ctx.settings, turn.failures + 1)) from None
    return seq


async def _hold_to_limits(
    ctx: Context, seq: int, *, braked: bool, name: str, key: str, now: datetime
) -> None:
    """Refuse the attempt recorded as `seq` if, counted with every attempt recorded by now,
    it is over the pair's or the address's limit or, outside the brake (`braked`: it took a
    turn), the number of failures after which the brake begins; its record is then deleted.

    Why this holds for attempts that arrive at once: each counts after its own record is
    committed, so of two attempts the one recorded later counts the other's record (a
    refused attempt's record, deleted again, may make others refused too, never checked)."""
    settings = ctx.settings
    failures = admin_login_failures.c
    recent = failures.failed_at > now - timedelta(minutes=settings.admin_login_window_minutes)
    limits = list(_counted(settings, name=name, key=key))
    if not braked:
        limits.append(((failures.name == name,), settings.admin_login_brake_after))
    async with ctx.db.read() as conn:
        for conditions, limit in limits:
            counted = select(func.count()).where(recent, *conditions)
            if (await conn.execute(counted)).scalar_one() > limit:
                break
        else:
            return
    async with ctx.db.write() as conn:
        await conn.execute(delete(admin_login_failures).where(failures.seq == seq))
    await _check_limits(ctx, name=name, key=key, now=now)  # raises, saying how long to wait
    raise _refused(timedelta(seconds=1))  # the others' records went meanwhile: try again


async def log_in(ctx: Context, *, name: str, password: str, client: str) -> Session:
    """A new session for `name` if `password` is right and no limit is reached; otherwise
    `RateLimited` or `AuthenticationFailed` (which never says whether the name exists)."""
    name = name.strip().lower()[:64]
    key = throttle_key(client)
    now = ctx.clock()
    turn = await _check_limits(ctx, name=name, key=key, now=now)
    seq = await _record(ctx, turn, name=name, key=key, now=now)
    await _hold_to_limits(ctx, seq, braked=turn is not None, name=name, key=key, now=now)
    user = await admins.verify(ctx, name=name, password=password)
    if user is None:
        window = timedelta(minutes=ctx.settings.admin_login_window_minutes)
        async with ctx.db.write() as conn:
            await conn.execute(
                delete(admin_login_failures).where(admin_login_failures.c.failed_at < now - window)
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
        # This attempt's record too.
        await conn.execute(
            delete(admin_login_failures).where(
                admin_login_failures.c.name == name, admin_login_failures.c.client == key
            )
        )
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
