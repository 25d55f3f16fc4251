"""Admin users: created with a role, their passwords kept only as argon2 hashes
(`kassa.services.passwords`)."""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from typing import Any

from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from kassa.domain import AdminUser, Conflict, InvalidState, NotFound, ParameterInvalid, Role, new_id
from kassa.services import passwords
from kassa.services.admin import audit
from kassa.services.admin.audit import Actor
from kassa.services.context import Context
from kassa.store import records
from kassa.store.tables import admin_sessions, admin_users

#: User names: lower-case, URL- and log-safe; sign-in lower-cases what is typed.
USER_NAME = re.compile(r"[a-z0-9][a-z0-9._@-]{0,63}")
MIN_PASSWORD_LENGTH = 10
#: The first owner `kassa serve --demo` creates on an empty database.
FIRST_OWNER = "admin"


def generate_password() -> str:
    """A random password of 20 URL-safe characters (120 bits)."""
    return secrets.token_urlsafe(15)


def _check_password(password: str) -> None:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise ParameterInvalid(
            f"A password has at least {MIN_PASSWORD_LENGTH} characters", param="password"
        )


async def create_user(
    ctx: Context, *, name: str, role: Role, password: str, actor: Actor
) -> AdminUser:
    """A new, active admin user; the creation is written to the audit log with it."""
    if not USER_NAME.fullmatch(name):
        raise ParameterInvalid(
            "A user name is 1-64 lower-case letters, digits, '.', '_', '@' or '-', starting "
            "with a letter or digit",
            param="name",
        )
    _check_password(password)
    now = ctx.clock()
    user = AdminUser(
        id=new_id("usr"), name=name, role=role, active=True, created_at=now, updated_at=now
    )
    password_hash = await passwords.hash_password(password)
    try:
        async with ctx.db.write() as conn:
            await conn.execute(
                insert(admin_users).values(
                    id=user.id,
                    name=user.name,
                    role=user.role.value,
                    password_hash=password_hash,
                    active=True,
                    created_at=now,
                    updated_at=now,
                )
            )
            await audit.record(
                conn,
                actor=actor,
                action="user.create",
                now=now,
                object_id=user.id,
                details={"name": name, "role": role.value},
            )
    except IntegrityError:
        raise Conflict(f"A user named {name!r} already exists", param="name") from None
    return user


async def list_users(ctx: Context) -> list[AdminUser]:
    async with ctx.db.read() as conn:
        rows = (await conn.execute(select(admin_users).order_by(admin_users.c.name))).mappings()
        return [records.admin_user(row) for row in rows]


async def get_user(
    ctx: Context, *, user_id: str | None = None, name: str | None = None
) -> AdminUser:
    """The user with this id (or name); `NotFound` if there is none."""
    condition = admin_users.c.id == user_id if name is None else admin_users.c.name == name
    async with ctx.db.read() as conn:
        row = (await conn.execute(select(admin_users).where(condition))).mappings().first()
    if row is None:
        raise NotFound(f"No admin user {name or user_id!r}", param="user")
    return records.admin_user(row)


@dataclass(frozen=True, slots=True)
class Change:
    """What to change about a user; None leaves it as it is."""

    role: Role | None = None
    active: bool | None = None
    password: str | None = None


async def update_user(ctx: Context, *, user_id: str, change: Change, actor: Actor) -> AdminUser:
    """Change a user's role, whether they may sign in, or their password. A deactivated user
    or one whose password changed is signed out everywhere. The last active owner can be
    neither demoted nor deactivated, so someone can always manage users."""
    values: dict[str, Any] = {}
    details: dict[str, Any] = {}
    if change.role is not None:
        values["role"] = details["role"] = change.role.value
    if change.active is not None:
        values["active"] = details["active"] = change.active
    if change.password is not None:
        _check_password(change.password)
        values["password_hash"] = await passwords.hash_password(change.password)
        details["password_changed"] = True
    if not values:
        return await get_user(ctx, user_id=user_id)
    now = ctx.clock()
    async with ctx.db.write() as conn:
        row = (
            (
                await conn.execute(
                    update(admin_users)
                    .where(admin_users.c.id == user_id)
                    .values(**values, updated_at=now)
                    .returning(*admin_users.c)
                )
            )
            .mappings()
            .first()
        )
        if row is None:
            raise NotFound(f"No admin user {user_id!r}", param="user")
        user = records.admin_user(row)
        if await _active_owners(conn) == 0:
            # Raising rolls the change back.
            raise InvalidState("At least one active owner must remain", param="role")
        if not user.active or change.password is not None:
            await conn.execute(delete(admin_sessions).where(admin_sessions.c.user_id == user.id))
        await audit.record(
            conn,
            actor=actor,
            action="user.update",
            now=now,
            object_id=user.id,
            details={"name": user.name, **details},
        )
    return user


async def _active_owners(conn: AsyncConnection) -> int:
    query = select(func.count()).where(
        admin_users.c.role == Role.OWNER.value, admin_users.c.active.is_(True)
    )
    return int((await conn.execute(query)).scalar_one())


async def verify(ctx: Context, *, name: str, password: str) -> AdminUser | None:
    """The active user `name` if `password` is theirs, else None. An outdated hash (weaker
    parameters than today's) is replaced while the password is at hand."""
    async with ctx.db.read() as conn:
        row = (
            (await conn.execute(select(admin_users).where(admin_users.c.name == name)))
            .mappings()
            .first()
        )
    if row is None:
        await passwords.password_matches(passwords.DECOY_HASH, password)
        return None
    if not await passwords.password_matches(row["password_hash"], password) or not row["active"]:
        return None
    if passwords.needs_rehash(row["password_hash"]):
        new_hash = await passwords.hash_password(password)
        async with ctx.db.write() as conn:
            await conn.execute(
                update(admin_users)
                .where(admin_users.c.id == row["id"])
                .values(password_hash=new_hash)
            )
    return records.admin_user(row)


async def ensure_first_owner(ctx: Context) -> str | None:
    """On a database without admin users, create the owner `admin` with a generated password
    and return the password (it is never shown again); otherwise None."""
    async with ctx.db.read() as conn:
        if (await conn.execute(select(func.count()).select_from(admin_users))).scalar_one():
            return None
    password = generate_password()
    try:
        await create_user(
            ctx, name=FIRST_OWNER, role=Role.OWNER, password=password, actor=audit.SYSTEM
        )
    except Conflict:
        return None  # another process made it first
    return password
