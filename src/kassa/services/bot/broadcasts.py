"""Broadcasts: a message from the shop's owner to an audience of its bot's buyers.

A broadcast is drafted from the owner's message (its id derived from that message, so the
update handled twice drafts it once), confirmed (`start`: draft → sending, its recipients
chosen then, in the same transaction, so a second tap on Confirm finds it started and
chooses nobody again), and sent by the bot process, which marks each recipient as it goes
(`mark`: pending → sent, blocked or failed, conditionally). A bot process that stops in the
middle resumes with the recipients still pending, so nobody gets it twice — except one:
Telegram has no idempotency key, so a process killed after Telegram took a message and
before its mark was written sends that one recipient the message again.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import ColumnElement, Select, func, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from kassa.domain import NotFound, ParameterInvalid
from kassa.services.bot import buyers
from kassa.services.context import Context
from kassa.store.tables import (
    bot_broadcast_recipients,
    bot_broadcasts,
    bot_buyers,
    bot_subscriptions,
)

AUDIENCES = ("all", "active", "expired", "trial")
DRAFT, SENDING, STOPPED, DONE, CANCELLED = "draft", "sending", "stopped", "done", "cancelled"
PENDING, SENT, BLOCKED, FAILED = "pending", "sent", "blocked", "failed"
#: Telegram's longest message.
MAX_TEXT = 4096

recipients_t = bot_broadcast_recipients


@dataclass(frozen=True, slots=True)
class Counts:
    pending: int = 0
    sent: int = 0
    blocked: int = 0
    failed: int = 0

    @property
    def total(self) -> int:
        return self.pending + self.sent + self.blocked + self.failed

    @property
    def done(self) -> int:
        """Recipients dealt with, whichever way."""
        return self.total - self.pending


@dataclass(frozen=True, slots=True)
class Broadcast:
    id: str
    shop_id: str
    audience: str
    text: str
    state: str
    owner_chat_id: int
    progress_message_id: int | None
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    counts: Counts


def draft_id(shop_id: str, chat_id: int, message_id: int) -> str:
    """The id of the broadcast drafted from the owner's message `message_id` in `chat_id`."""
    digest = hashlib.sha256(f"{shop_id}:{chat_id}:{message_id}".encode()).hexdigest()
    return f"bcast_{digest[:26]}"


def _audience(audience: str, now: datetime) -> ColumnElement[bool] | None:
    """The condition on a buyer's subscription for `audience` (None: every buyer)."""
    subs = bot_subscriptions.c
    if audience == "active":
        return subs.ends_at > now
    if audience == "expired":
        return subs.ends_at <= now
    if audience == "trial":
        return (subs.ends_at > now) & (subs.status == buyers.TRIAL)
    return None


def _audience_query(shop_id: str, audience: str, now: datetime) -> Select[tuple[int]]:
    query = select(bot_buyers.c.telegram_id).where(bot_buyers.c.shop_id == shop_id)
    condition = _audience(audience, now)
    if condition is not None:
        query = query.join(bot_subscriptions, bot_subscriptions.c.buyer_id == bot_buyers.c.id)
        query = query.where(condition)
    return query


async def audience_size(ctx: Context, *, shop_id: str, audience: str) -> int:
    """How many buyers `audience` is now."""
    _check_audience(audience)
    query = select(func.count()).select_from(
        _audience_query(shop_id, audience, ctx.clock()).subquery()
    )
    async with ctx.db.read() as conn:
        return int(await conn.scalar(query) or 0)


def _check_audience(audience: str) -> None:
    if audience not in AUDIENCES:
        raise ParameterInvalid(f"audience is one of {', '.join(AUDIENCES)}", param="audience")


async def draft(
    ctx: Context, *, shop_id: str, audience: str, text: str, chat_id: int, message_id: int
) -> Broadcast:
    """The broadcast drafted from the owner's message (made the first time only)."""
    _check_audience(audience)
    if not text.strip() or len(text) > MAX_TEXT:
        raise ParameterInvalid(f"the text is 1-{MAX_TEXT} characters", param="text")
    broadcast_id = draft_id(shop_id, chat_id, message_id)
    async with ctx.db.write() as conn:
        await conn.execute(
            ctx.db.insert_ignoring_conflict(bot_broadcasts, index_elements=["id"]),
            {
                "id": broadcast_id,
                "shop_id": shop_id,
                "audience": audience,
                "text": text,
                "state": DRAFT,
                "owner_chat_id": chat_id,
                "created_at": ctx.clock(),
            },
        )
    return await get(ctx, shop_id=shop_id, broadcast_id=broadcast_id)


async def start(
    ctx: Context, *, shop_id: str, broadcast_id: str, progress_message_id: int
) -> Broadcast:
    """Confirm a draft: choose its recipients now and leave it for the bot process to send.
    A broadcast confirmed before is left as it is."""
    now = ctx.clock()
    async with ctx.db.write() as conn:
        started = (
            await conn.execute(
                update(bot_broadcasts)
                .where(
                    bot_broadcasts.c.id == broadcast_id,
                    bot_broadcasts.c.shop_id == shop_id,
                    bot_broadcasts.c.state == DRAFT,
                )
                .values(state=SENDING, started_at=now, progress_message_id=progress_message_id)
                .returning(bot_broadcasts.c.audience)
            )
        ).first()
        if started is not None:
            chosen = _audience_query(shop_id, started.audience, now)
            ids = sorted({row.telegram_id for row in await conn.execute(chosen)})
            if ids:
                await conn.execute(
                    recipients_t.insert(),
                    [
                        {"broadcast_id": broadcast_id, "telegram_id": i, "status": PENDING}
                        for i in ids
                    ],
                )
            else:
                await _finish(conn, broadcast_id, now)
    return await get(ctx, shop_id=shop_id, broadcast_id=broadcast_id)


async def _finish(conn: AsyncConnection, broadcast_id: str, now: datetime) -> None:
    await conn.execute(
        update(bot_broadcasts)
        .where(bot_broadcasts.c.id == broadcast_id, bot_broadcasts.c.state == SENDING)
        .values(state=DONE, finished_at=now)
    )


async def _set_state(
    ctx: Context, *, shop_id: str, broadcast_id: str, before: str, after: str
) -> bool:
    async with ctx.db.write() as conn:
        changed = await conn.execute(
            update(bot_broadcasts)
            .where(
                bot_broadcasts.c.id == broadcast_id,
                bot_broadcasts.c.shop_id == shop_id,
                bot_broadcasts.c.state == before,
            )
            .values(state=after, finished_at=ctx.clock())
        )
    return changed.rowcount == 1


async def cancel(ctx: Context, *, shop_id: str, broadcast_id: str) -> bool:
    """Drop a draft; False if it is not a draft (any more)."""
    return await _set_state(
        ctx, shop_id=shop_id, broadcast_id=broadcast_id, before=DRAFT, after=CANCELLED
    )


async def stop(ctx: Context, *, shop_id: str, broadcast_id: str) -> bool:
    """Stop a broadcast being sent (those not reached yet stay pending); False if it was
    not being sent."""
    return await _set_state(
        ctx, shop_id=shop_id, broadcast_id=broadcast_id, before=SENDING, after=STOPPED
    )


async def finish(ctx: Context, *, broadcast_id: str) -> None:
    """The bot process reached every recipient: sending → done."""
    async with ctx.db.write() as conn:
        await _finish(conn, broadcast_id, ctx.clock())


async def sending(ctx: Context, *, shop_id: str) -> list[Broadcast]:
    """The shop's broadcasts being sent, oldest first (for the bot process)."""
    query = (
        select(bot_broadcasts.c.id)
        .where(bot_broadcasts.c.shop_id == shop_id, bot_broadcasts.c.state == SENDING)
        .order_by(bot_broadcasts.c.created_at)
    )
    async with ctx.db.read() as conn:
        ids = list((await conn.execute(query)).scalars())
    return [await get(ctx, shop_id=shop_id, broadcast_id=each) for each in ids]


async def pending(ctx: Context, *, broadcast_id: str, limit: int = 100) -> list[int]:
    """Telegram ids the broadcast has still to reach, in a stable order."""
    query = (
        select(recipients_t.c.telegram_id)
        .where(recipients_t.c.broadcast_id == broadcast_id, recipients_t.c.status == PENDING)
        .order_by(recipients_t.c.telegram_id)
        .limit(limit)
    )
    async with ctx.db.read() as conn:
        return list((await conn.execute(query)).scalars())


async def mark(ctx: Context, *, broadcast_id: str, telegram_id: int, status: str) -> bool:
    """Record what became of one recipient; False if it was recorded before."""
    async with ctx.db.write() as conn:
        done = await conn.execute(
            update(recipients_t)
            .where(
                recipients_t.c.broadcast_id == broadcast_id,
                recipients_t.c.telegram_id == telegram_id,
                recipients_t.c.status == PENDING,
            )
            .values(status=status, sent_at=ctx.clock() if status == SENT else None)
        )
    return done.rowcount == 1


async def _counts(conn: AsyncConnection, ids: list[str]) -> dict[str, Counts]:
    query = (
        select(recipients_t.c.broadcast_id, recipients_t.c.status, func.count().label("n"))
        .where(recipients_t.c.broadcast_id.in_(ids))
        .group_by(recipients_t.c.broadcast_id, recipients_t.c.status)
    )
    found: dict[str, dict[str, int]] = {}
    for row in await conn.execute(query):
        found.setdefault(row.broadcast_id, {})[row.status] = int(row.n)
    return {each: Counts(**found.get(each, {})) for each in ids}


def _broadcast(row: object, counts: Counts) -> Broadcast:
    names = [column.name for column in bot_broadcasts.c]
    return Broadcast(**{name: getattr(row, name) for name in names}, counts=counts)


async def get(ctx: Context, *, broadcast_id: str, shop_id: str | None = None) -> Broadcast:
    """A broadcast with its counts (of `shop_id`'s, if given); `NotFound` otherwise."""
    query = select(bot_broadcasts).where(bot_broadcasts.c.id == broadcast_id)
    if shop_id is not None:
        query = query.where(bot_broadcasts.c.shop_id == shop_id)
    async with ctx.db.read() as conn:
        row = (await conn.execute(query)).first()
        if row is None:
            raise NotFound(f"no broadcast {broadcast_id}", param="id")
        counts = await _counts(conn, [broadcast_id])
    return _broadcast(row, counts[broadcast_id])


async def list_broadcasts(
    ctx: Context, *, shop_id: str | None = None, limit: int = 100
) -> list[Broadcast]:
    """Broadcasts (confirmed or not), newest first, of one shop or every shop."""
    query = select(bot_broadcasts).order_by(bot_broadcasts.c.created_at.desc()).limit(limit)
    if shop_id is not None:
        query = query.where(bot_broadcasts.c.shop_id == shop_id)
    async with ctx.db.read() as conn:
        rows = list(await conn.execute(query))
        counts = await _counts(conn, [row.id for row in rows])
    return [_broadcast(row, counts[row.id]) for row in rows]
