"""A buyer's internal balance, for bots with `balance=true`: topped up with any of the shop's
ways to pay, spent on renewals (also of an expired subscription).

The balance is a ledger (`bot_balance_entries`): entries are only added, never changed, and
the balance is their sum, in kopecks. Each entry is keyed by its cause, so a cause applied
twice adds nothing the second time:

- a credit, `topup:<purchase id>`, written by the activation consumer in the transaction
  that turns the top-up's purchase from pending to activated (`credit`);
- a debit, `renew:<buyer id>:<key>`, where `key` names the buyer's request (the bot uses the
  message whose button was tapped, so two taps on one button are one request), written in
  one transaction with the lengthening of the subscription (`renew`).

Two debits of one buyer at once (two different requests) cannot both spend the same money:
each transaction takes the buyer's row first (`SELECT … FOR UPDATE` on PostgreSQL; SQLite's
one writer does the same), then sums and writes; the second sees the first's entry.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import and_, func, or_, select
from sqlalchemy.ext.asyncio import AsyncConnection

from kassa.domain import Conflict, NotFound, Shop
from kassa.services.bot import buyers, plans, purchases
from kassa.services.bot import settings as bot_settings
from kassa.services.context import Context
from kassa.store.db import insert_ignoring_conflict
from kassa.store.tables import bot_balance_entries, bot_buyers, bot_purchases, bot_subscriptions

TOPUP, RENEW = "topup", "renew"
#: What a short balance is refused with.
SHORT = "balance_insufficient"


async def total(conn: AsyncConnection, buyer_id: str) -> int:
    """The buyer's balance in kopecks, read on `conn`."""
    total = await conn.execute(
        select(func.coalesce(func.sum(bot_balance_entries.c.amount), 0)).where(
            bot_balance_entries.c.buyer_id == buyer_id
        )
    )
    return int(total.scalar_one())


async def audit(conn: AsyncConnection) -> AsyncIterator[str]:
    """For `kassa audit` (through the activation consumer's check): every activated top-up has
    its credit, of its amount, and every credit is an activated top-up's."""
    entries, bought = bot_balance_entries.c, bot_purchases.c
    joined = bot_purchases.outerjoin(
        bot_balance_entries,
        and_(entries.purchase_id == bought.id, entries.reason == TOPUP),
    )
    query = (
        select(bought.id, bought.status, bought.amount, entries.amount.label("credited"))
        .select_from(joined)
        .where(
            bought.kind == purchases.TOPUP,
            or_(bought.status == purchases.ACTIVATED, entries.id.is_not(None)),
        )
        .order_by(bought.id)
    )
    for purchase_id, status, amount, credited in await conn.execute(query):
        if status != purchases.ACTIVATED:
            yield f"{purchase_id}: a top-up credited to the balance but {status}"
        elif credited != amount:
            yield f"{purchase_id}: a top-up of {amount} credited {credited or 0}"


async def of(ctx: Context, *, buyer_id: str) -> int:
    """The buyer's balance in kopecks."""
    async with ctx.db.read() as conn:
        return await total(conn, buyer_id)


async def credit(
    conn: AsyncConnection,
    *,
    shop_id: str,
    buyer_id: str,
    purchase_id: str,
    amount: int,
    now: datetime,
) -> bool:
    """In the transaction activating a top-up: credit it once. False if it was before."""
    added = await conn.execute(
        insert_ignoring_conflict(conn.dialect.name, bot_balance_entries, index_elements=["id"]),
        {
            "id": f"{TOPUP}:{purchase_id}",
            "shop_id": shop_id,
            "buyer_id": buyer_id,
            "amount": amount,
            "reason": TOPUP,
            "purchase_id": purchase_id,
            "plan_id": None,
            "created_at": now,
        },
    )
    return added.rowcount == 1


@dataclass(frozen=True, slots=True)
class Renewal:
    """A renewal from the balance: the subscription's new end and what is left."""

    ends_at: datetime
    balance: int
    #: False when the request had been carried out before (a second tap): nothing changed.
    new: bool


async def renew(ctx: Context, *, shop: Shop, buyer_id: str, plan_id: str, key: str) -> Renewal:
    """Pay for `plan_id` from the buyer's balance and lengthen their subscription by its days
    (from `max(now, its end)`, so an expired one starts again now), in one transaction; once
    per `key`. `Conflict` (code `balance_insufficient`) if the balance is short."""
    settings = await bot_settings.get(ctx, shop_id=shop.id)
    if not settings.balance:
        raise Conflict("this bot keeps no balance (kassa bot configure SHOP balance=true)")
    entry = f"{RENEW}:{buyer_id}:{key}"
    now = ctx.clock()
    async with ctx.db.write() as conn:
        # The buyer's row first: concurrent debits of one buyer take turns here.
        locked = await conn.execute(
            select(bot_buyers.c.id)
            .where(bot_buyers.c.id == buyer_id, bot_buyers.c.shop_id == shop.id)
            .with_for_update()
        )
        if locked.first() is None:
            raise NotFound(f"no buyer {buyer_id} in this shop")
        done = await conn.execute(
            select(bot_balance_entries.c.id).where(bot_balance_entries.c.id == entry)
        )
        if done.first() is not None:
            ends_at = (
                await conn.execute(
                    select(bot_subscriptions.c.ends_at).where(
                        bot_subscriptions.c.buyer_id == buyer_id
                    )
                )
            ).scalar_one()  # the renewal made or lengthened it
            return Renewal(ends_at, await total(conn, buyer_id), new=False)
        plan = await plans.get(conn, shop_id=shop.id, plan_id=plan_id)
        if not plan.active:
            raise NotFound(f"the plan {plan.name!r} is not sold any more")
        balance = await total(conn, buyer_id)
        if balance < plan.price:
            raise Conflict("the balance is short of the plan's price", code=SHORT)
        await conn.execute(
            bot_balance_entries.insert().values(
                id=entry,
                shop_id=shop.id,
                buyer_id=buyer_id,
                amount=-plan.price,
                reason=RENEW,
                plan_id=plan.id,
                created_at=now,
            )
        )
        ends_at = await buyers.extend(
            conn,
            shop_id=shop.id,
            buyer_id=buyer_id,
            days=plan.days,
            now=now,
            cause=entry,
            reason="balance",
            plan_id=plan.id,
        )
    assert ends_at is not None  # the entry is new, so is its cause
    return Renewal(ends_at, balance - plan.price, new=True)
