"""The audit log: who did what in the admin UI (or through the CLI's user management), when.

Call `record` on the connection of the transaction that made the change, so an entry exists
exactly when its change does; `record_now` writes one in a transaction of its own, for things
that change nothing else (a sign-in, a refused action). Payment events stay the record of what
happened to a payment; the audit log says which person asked for it.

Actions in use: `login`, `login.failed`, `logout`, `user.create`, `user.update`,
`payment.capture`, `payment.cancel`, `payment.refresh`, `refund.create`, `shop.create`,
`provider.configure`, `key.create`, `key.revoke`, `notification.reprocess`, `delivery.resend`,
`secrets.rotate`, `bot.plan.add`, `bot.plan.disable`, `bot.promo.add`, and the club's
(`kassa.services.club.access.witness`): `club.customer.topup`, `club.customer.correction`,
`club.customer.block`, `club.customer.unblock`, `club.tariff.set`, `club.package.add`,
`club.package.disable`, `club.shift.open`, `club.shift.close`, `club.session.start` (`.extend`,
`.pause`, `.resume`, `.move`, `.end`), `club.pc.<action>` (`lock`, `unlock`, `restart`, `shutdown`,
`message`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncConnection

from kassa.domain import new_id
from kassa.services.context import Context
from kassa.store.tables import audit_log


@dataclass(frozen=True, slots=True)
class Actor:
    """Who acts: an admin user (with the address they came from), or a named system part."""

    name: str
    user_id: str | None = None
    client: str | None = None


#: The command line: whoever can run `kassa` on the server.
CLI = Actor(name="cli")
#: Kassa itself (the first owner `kassa serve --demo` creates).
SYSTEM = Actor(name="system")


@dataclass(frozen=True, slots=True)
class Entry:
    """One line of the audit log."""

    seq: int
    id: str
    at: datetime
    actor: Actor
    action: str
    object_id: str | None
    shop_id: str | None
    outcome: str | None
    details: Mapping[str, Any]


async def record(
    conn: AsyncConnection,
    *,
    actor: Actor,
    action: str,
    now: datetime,
    object_id: str | None = None,
    shop_id: str | None = None,
    outcome: str | None = None,
    details: Mapping[str, Any] | None = None,
) -> str:
    """Write an entry on `conn`, in the caller's transaction; returns its id."""
    entry_id = new_id("aud")
    await conn.execute(
        insert(audit_log),
        {
            "id": entry_id,
            "at": now,
            "actor_id": actor.user_id,
            "actor_name": actor.name[:64],
            "client": actor.client,
            "action": action,
            "object_id": object_id,
            "shop_id": shop_id,
            "outcome": outcome,
            "details": dict(details or {}),
        },
    )
    return entry_id


async def record_now(
    ctx: Context,
    *,
    actor: Actor,
    action: str,
    object_id: str | None = None,
    shop_id: str | None = None,
    outcome: str | None = None,
    details: Mapping[str, Any] | None = None,
) -> str:
    """Write an entry in a transaction of its own."""
    async with ctx.db.write() as conn:
        return await record(
            conn,
            actor=actor,
            action=action,
            now=ctx.clock(),
            object_id=object_id,
            shop_id=shop_id,
            outcome=outcome,
            details=details,
        )


async def list_entries(
    ctx: Context,
    *,
    limit: int = 50,
    before: int | None = None,
    object_id: str | None = None,
    actor_name: str | None = None,
) -> tuple[list[Entry], bool]:
    """Entries newest first, older than `before` (a `seq`), and whether more follow."""
    query = select(audit_log).order_by(audit_log.c.seq.desc()).limit(limit + 1)
    if before is not None:
        query = query.where(audit_log.c.seq < before)
    if object_id is not None:
        query = query.where(audit_log.c.object_id == object_id)
    if actor_name:
        query = query.where(audit_log.c.actor_name == actor_name)
    async with ctx.db.read() as conn:
        rows = list((await conn.execute(query)).mappings())
    entries = [
        Entry(
            seq=row["seq"],
            id=row["id"],
            at=row["at"],
            actor=Actor(name=row["actor_name"], user_id=row["actor_id"], client=row["client"]),
            action=row["action"],
            object_id=row["object_id"],
            shop_id=row["shop_id"],
            outcome=row["outcome"],
            details=row["details"],
        )
        for row in rows[:limit]
    ]
    return entries, len(rows) > limit
