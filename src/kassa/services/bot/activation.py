"""Activation exactly once: the event consumer of `payment.succeeded` that lengthens a paid
purchase's subscription, and the job that provisions the panel and writes the buyer's
message.

The consumer, in the transaction of its receipt, turns the purchase from pending to
activated with a conditional update, and only the transaction that wins it lengthens the
subscription (`buyers.extend`: `max(now, end) + days`), recording that absolute end with the
purchase. However often `payment.succeeded` is read, by however many workers, the days are
added once. It calls out to nothing: it queues a `bot_provisioning` row. A top-up's purchase
is credited to the buyer's balance instead (`balance.credit`, keyed by the purchase), with
the buyer's `topup` message.

The job claims due rows (a lease, `FOR UPDATE SKIP LOCKED` on PostgreSQL), asks the panel
outside any transaction to make the buyer's user end at the subscription's end as it is
then (an absolute time: asking twice changes nothing), and in one transaction records the
link and writes the buyer's `access` message, keyed by the row, so a worker that dies
between the panel's answer and that commit leaves a row that is provisioned again with the
same end and still gives one message. A panel that is down is tried again after
`consumers.RETRY_DELAYS` (the buyer is told once that the activation is on its way); rows
failing for longer than `STUCK_AFTER`, or refused by the panel, are marked `stuck` for a
person (the down ones are still retried).
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import httpx
from sqlalchemy import and_, or_, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from kassa import panels
from kassa.domain import Event, EventType
from kassa.panels import Panel, PanelDown, PanelError, PanelUser
from kassa.services.bot import balance, buyers, panel_settings, plans, purchases
from kassa.services.bot import settings as bot_settings
from kassa.services.context import Context
from kassa.services.events import consumers
from kassa.store.db import insert_ignoring_conflict
from kassa.store.tables import (
    bot_buyers,
    bot_messages,
    bot_plans,
    bot_provisioning,
    bot_purchases,
    bot_subscriptions,
    consumer_receipts,
    events,
)

log = logging.getLogger(__name__)

NAME = "bot-activation"
PENDING, DONE, STUCK = "pending", "done", "stuck"
#: The provisioning `reason` of a paid purchase (the others: `buyers.TRIAL`, promo, referral).
PURCHASE = "purchase"
LEASE = timedelta(minutes=2)
STUCK_AFTER = timedelta(minutes=30)
BATCH = 20
GIB = 1024**3

#: Builds the adapter of a bot's panel from its settings (`panel` and the panel's own, secrets
#: opened) and an HTTP client; None for `panel=none`.
PanelFactory = Callable[[Mapping[str, str], httpx.AsyncClient], Awaitable[Panel | None]]


async def adapters(settings: Mapping[str, str], http: httpx.AsyncClient) -> Panel | None:
    """The default `PanelFactory`: `kassa.panels.build`, or no panel. (Remnawave's major
    version is in `settings` already: `panel_settings.for_adapter`.)"""
    if settings["panel"] == "none":
        return None
    return await panels.build(settings, http=http)


async def record(conn: AsyncConnection, event: Event) -> None:
    """The consumer's handler: activate the purchase `event`'s payment pays for, once."""
    now = event.created_at
    won = await conn.execute(
        update(bot_purchases)
        .where(
            bot_purchases.c.payment_id == event.payment_id,
            bot_purchases.c.shop_id == event.shop_id,
            # A purchase whose payment seemed not to be created is activated all the same if
            # it succeeds after all: the buyer paid.
            bot_purchases.c.status.in_((purchases.PENDING, purchases.FAILED)),
        )
        .values(status=purchases.ACTIVATED, activated_at=now)
        .returning(
            bot_purchases.c.id,
            bot_purchases.c.buyer_id,
            bot_purchases.c.plan_id,
            bot_purchases.c.days,
            bot_purchases.c.kind,
            bot_purchases.c.amount,
        )
    )
    purchase = won.first()
    if purchase is None:  # not a purchase, or activated already
        return
    if purchase.kind == purchases.TOPUP:
        await _top_up(conn, event, purchase)
        return
    ends_at = await buyers.extend(
        conn,
        shop_id=event.shop_id,
        buyer_id=purchase.buyer_id,
        days=purchase.days,
        now=now,
        cause=purchase.id,
        reason=PURCHASE,
        plan_id=purchase.plan_id,
    )
    await conn.execute(
        update(bot_purchases).where(bot_purchases.c.id == purchase.id).values(ends_at=ends_at)
    )
    first = (
        await conn.execute(
            select(bot_purchases.c.id).where(
                bot_purchases.c.buyer_id == purchase.buyer_id,
                bot_purchases.c.status == purchases.ACTIVATED,
                bot_purchases.c.kind == purchases.PLAN,
                bot_purchases.c.id != purchase.id,
            )
        )
    ).first() is None
    if first:
        bonus = (
            await conn.execute(
                select(bot_plans.c.referral_days).where(bot_plans.c.id == purchase.plan_id)
            )
        ).scalar_one()
        await buyers.reward_referral(
            conn, shop_id=event.shop_id, buyer_id=purchase.buyer_id, days=bonus, now=now
        )


async def _top_up(conn: AsyncConnection, event: Event, purchase: Any) -> None:
    """A paid top-up: its credit to the buyer's balance and the buyer's message, once."""
    now = event.created_at
    await balance.credit(
        conn,
        shop_id=event.shop_id,
        buyer_id=purchase.buyer_id,
        purchase_id=purchase.id,
        amount=purchase.amount,
        now=now,
    )
    total = await balance.total(conn, purchase.buyer_id)
    telegram_id = (
        await conn.execute(
            select(bot_buyers.c.telegram_id).where(bot_buyers.c.id == purchase.buyer_id)
        )
    ).scalar_one()
    await conn.execute(
        insert_ignoring_conflict(conn.dialect.name, bot_messages, index_elements=["id"]),
        {
            "id": f"topup:{purchase.id}",
            "shop_id": event.shop_id,
            "telegram_id": telegram_id,
            "kind": "topup",
            "params": {"amount": purchase.amount, "balance": total},
            "created_at": now,
        },
    )


async def audit(conn: AsyncConnection) -> AsyncIterator[str]:
    """For `kassa audit`: no purchase activated without the consumer's receipt of its
    payment's `payment.succeeded`, and none left unactivated with one; each activated top-up
    credited once, and no credit without one (`balance.audit`)."""
    receipt = consumer_receipts.c
    received = (
        select(events.c.payment_id)
        .join(consumer_receipts, receipt.event_id == events.c.id)
        .where(receipt.consumer == NAME, events.c.type == EventType.PAYMENT_SUCCEEDED.value)
    )
    query = (
        select(bot_purchases.c.id, bot_purchases.c.status)
        .where(
            or_(
                and_(
                    bot_purchases.c.status == purchases.ACTIVATED,
                    bot_purchases.c.payment_id.not_in(received),
                ),
                and_(
                    bot_purchases.c.status != purchases.ACTIVATED,
                    bot_purchases.c.payment_id.in_(received),
                ),
            )
        )
        .order_by(bot_purchases.c.id)
    )
    for purchase_id, status in await conn.execute(query):
        if status == purchases.ACTIVATED:
            yield f"{NAME}:{purchase_id}: activated without the receipt of its payment's event"
        else:
            yield f"{NAME}:{purchase_id}: its payment's event was received, it is still {status}"
    async for finding in balance.audit(conn):
        yield f"{NAME}:{finding}"


CONSUMER = consumers.register(
    consumers.Consumer(NAME, (EventType.PAYMENT_SUCCEEDED.value,), record, audit=audit)
)


@dataclass(frozen=True, slots=True)
class Due:
    """A claimed provisioning row and what the panel is to be told."""

    id: str
    shop_id: str
    buyer_id: str
    telegram_id: int
    attempts: int
    created_at: datetime
    ends_at: datetime
    plan_id: str | None
    #: The panel user's name, if not Kassa's own (`panel_username`).
    panel_username: str | None
    #: What lengthened the subscription (a purchase, the trial, a promo code, a bonus): the
    #: buyer's messages say it their way.
    reason: str = PURCHASE


async def provision_due(ctx: Context, *, factory: PanelFactory = adapters) -> int:
    """The background job: provision what is due. Returns how many rows it finished."""
    now = ctx.clock()
    due = select(bot_provisioning.c.id).where(bot_provisioning.c.next_attempt_at <= now)
    async with ctx.db.read() as conn:
        if (await conn.execute(due.limit(1))).first() is None:
            return 0
    done = 0
    async with httpx.AsyncClient(timeout=ctx.settings.provider_timeout) as http:
        for _ in range(BATCH):
            claimed = await _claim(ctx, due, now)
            if claimed is None:
                break
            done += await _provision(ctx, claimed, factory, http)
    return done


async def _claim(ctx: Context, due: Any, now: datetime) -> Due | None:
    row = bot_provisioning.c
    async with ctx.db.write() as conn:
        taken = (
            await conn.execute(
                update(bot_provisioning)
                .where(
                    row.next_attempt_at <= now,
                    row.id.in_(
                        due.order_by(row.next_attempt_at).limit(1).with_for_update(skip_locked=True)
                    ),
                )
                .values(next_attempt_at=now + LEASE)
                .returning(
                    row.id, row.shop_id, row.buyer_id, row.attempts, row.created_at, row.reason
                )
            )
        ).first()
        if taken is None:
            return None
        found = (
            await conn.execute(
                select(
                    bot_buyers.c.telegram_id,
                    bot_subscriptions.c.ends_at,
                    bot_subscriptions.c.plan_id,
                    bot_subscriptions.c.panel_username,
                )
                .join(bot_subscriptions, bot_subscriptions.c.buyer_id == bot_buyers.c.id)
                .where(bot_buyers.c.id == taken.buyer_id)
            )
        ).one()
    return Due(
        id=taken.id,
        shop_id=taken.shop_id,
        buyer_id=taken.buyer_id,
        telegram_id=found.telegram_id,
        attempts=taken.attempts,
        created_at=taken.created_at,
        ends_at=found.ends_at,
        plan_id=found.plan_id,
        panel_username=found.panel_username,
        reason=taken.reason,
    )


async def _provision(ctx: Context, due: Due, factory: PanelFactory, http: httpx.AsyncClient) -> int:
    settings = await bot_settings.get(ctx, shop_id=due.shop_id)
    user = await _panel_user(ctx, due)
    try:
        panel = await factory(await panel_settings.for_adapter(ctx, settings, http), http)
        if panel is None:
            panel_user_id, link = None, settings.link_text or ""
        else:
            access = await panel.provision(user)
            panel_user_id, link = access.panel_user_id, access.link
    except PanelError as exc:
        await _failed(ctx, due, exc)
        return 0
    now = ctx.clock()
    async with ctx.db.write() as conn:
        await conn.execute(
            update(bot_subscriptions)
            .where(bot_subscriptions.c.buyer_id == due.buyer_id)
            .values(panel_user_id=panel_user_id, link=link, updated_at=now)
        )
        await conn.execute(
            update(bot_provisioning)
            .where(bot_provisioning.c.id == due.id)
            .values(
                status=DONE,
                attempts=due.attempts + 1,
                next_attempt_at=None,
                error=None,
                updated_at=now,
            )
        )
        params = {"link": link, "ends_at": due.ends_at.isoformat(), "reason": due.reason}
        await _message(conn, due, "access", params, now)
    return 1


def panel_username(telegram_id: int) -> str:
    """The name of the panel user Kassa makes for a buyer (unless the subscription was
    linked to another one: `bot_subscriptions.panel_username`)."""
    return f"tg_{telegram_id}"


async def _panel_user(ctx: Context, due: Due) -> PanelUser:
    traffic = devices = None
    if due.plan_id is not None:
        async with ctx.db.read() as conn:
            plan = await plans.get(conn, shop_id=due.shop_id, plan_id=due.plan_id)
        traffic = plan.traffic_gb * GIB if plan.traffic_gb else None
        devices = plan.devices
    return PanelUser(
        username=due.panel_username or panel_username(due.telegram_id),
        expires_at=due.ends_at,
        telegram_id=due.telegram_id,
        traffic_limit_bytes=traffic,
        device_limit=devices,
    )


async def _message(
    conn: AsyncConnection, due: Due, kind: str, params: dict[str, str], now: datetime
) -> None:
    """The buyer's message of `kind` about `due`, written once."""
    await conn.execute(
        insert_ignoring_conflict(conn.dialect.name, bot_messages, index_elements=["id"]),
        {
            "id": f"{kind}:{due.id}",
            "shop_id": due.shop_id,
            "telegram_id": due.telegram_id,
            "kind": kind,
            "params": params,
            "created_at": now,
        },
    )


async def _failed(ctx: Context, due: Due, exc: PanelError) -> None:
    now = ctx.clock()
    attempts = due.attempts + 1
    down = isinstance(exc, PanelDown)
    delay = consumers.RETRY_DELAYS[min(attempts, len(consumers.RETRY_DELAYS)) - 1]
    stuck = not down or now - due.created_at >= STUCK_AFTER
    async with ctx.db.write() as conn:
        await conn.execute(
            update(bot_provisioning)
            .where(bot_provisioning.c.id == due.id)
            .values(
                status=STUCK if stuck else PENDING,
                attempts=attempts,
                error=str(exc)[: consumers.ERROR_KEPT],
                next_attempt_at=now + delay if down else None,
                updated_at=now,
            )
        )
        await _message(conn, due, "delayed", {"reason": due.reason}, now)
    log.warning("bot activation %s: the panel failed (attempt %d): %s", due.id, attempts, exc)


@dataclass(frozen=True, slots=True)
class Message:
    id: str
    telegram_id: int
    kind: str
    params: dict[str, Any]
    #: The buyer's Telegram language, if the recipient is a buyer who told it.
    language: str | None = None


async def unsent(ctx: Context, *, shop_id: str, limit: int = 50) -> list[Message]:
    """The shop's bot messages not sent yet, oldest first (for the bot process)."""
    recipient = and_(
        bot_buyers.c.shop_id == bot_messages.c.shop_id,
        bot_buyers.c.telegram_id == bot_messages.c.telegram_id,
    )
    query = (
        select(bot_messages, bot_buyers.c.language)
        .select_from(bot_messages.outerjoin(bot_buyers, recipient))
        .where(bot_messages.c.shop_id == shop_id, bot_messages.c.sent_at.is_(None))
        .order_by(bot_messages.c.created_at, bot_messages.c.id)
        .limit(limit)
    )
    async with ctx.db.read() as conn:
        rows = await conn.execute(query)
        return [
            Message(row.id, row.telegram_id, row.kind, dict(row.params), row.language)
            for row in rows
        ]


async def mark_sent(ctx: Context, *, message_id: str) -> bool:
    """Record that the bot sent the message; False if it was marked before."""
    async with ctx.db.write() as conn:
        done = await conn.execute(
            update(bot_messages)
            .where(bot_messages.c.id == message_id, bot_messages.c.sent_at.is_(None))
            .values(sent_at=ctx.clock())
        )
    return done.rowcount == 1


@dataclass(frozen=True, slots=True)
class Provisioning:
    """A provisioning row as people see it (`kassa bot activations`)."""

    id: str
    buyer_id: str
    reason: str
    status: str
    attempts: int
    error: str | None
    created_at: datetime
    updated_at: datetime


async def list_provisioning(
    ctx: Context,
    *,
    shop_id: str,
    status: str | None = None,
    buyer_id: str | None = None,
    limit: int = 50,
) -> list[Provisioning]:
    """The shop's newest provisioning rows, of one status (`stuck`, say) and one buyer if
    given."""
    query = select(bot_provisioning).where(bot_provisioning.c.shop_id == shop_id)
    if status is not None:
        query = query.where(bot_provisioning.c.status == status)
    if buyer_id is not None:
        query = query.where(bot_provisioning.c.buyer_id == buyer_id)
    query = query.order_by(bot_provisioning.c.created_at.desc()).limit(limit)
    async with ctx.db.read() as conn:
        rows = await conn.execute(query)
        return [
            Provisioning(
                row.id,
                row.buyer_id,
                row.reason,
                row.status,
                row.attempts,
                row.error,
                row.created_at,
                row.updated_at,
            )
            for row in rows
        ]
