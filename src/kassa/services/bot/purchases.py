"""Starting a purchase: a plan bought by a buyer through one of the shop's providers.

The purchase row is written first, with the id of the payment to come, then the payment is
created through `lifecycle.create_payment` with that id and metadata naming the purchase,
so a payment that succeeds is always found to be a purchase (`activation`). The bot acts as
`Caller.system` narrowed to its shop and to the bot's mode (test until `test=false`): it is
Kassa's own front-end, not a merchant's API key, and its events have source `system`.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import update

from kassa.domain import Conflict, NotFound, Payment, Shop, new_id
from kassa.services.bot import buyers, plans, promos
from kassa.services.bot import settings as bot_settings
from kassa.services.callers import Caller
from kassa.services.context import Context
from kassa.services.payments import lifecycle
from kassa.store.tables import bot_purchases

#: The metadata key naming the purchase a payment pays for.
METADATA_KEY = "bot_purchase"
STARS = "telegram_stars"
PENDING, ACTIVATED, FAILED = "pending", "activated", "failed"


@dataclass(frozen=True, slots=True)
class Purchase:
    id: str
    payment: Payment


def caller_for(shop: Shop, settings: bot_settings.BotSettings) -> Caller:
    """The caller the shop's bot acts as."""
    return Caller.system(shop=shop, test=settings.test)


async def start(
    ctx: Context,
    *,
    shop: Shop,
    buyer_id: str,
    plan_id: str,
    provider: str | None = None,
    method: str | None = None,
    promo: str | None = None,
    return_url: str | None = None,
) -> Purchase:
    """Create the payment for the plan: in rubles, or in Stars if `provider` is Telegram
    Stars; less a promo code's percentage, if one is given (and used here)."""
    settings = await bot_settings.get(ctx, shop_id=shop.id)
    purchase_id, payment_id = new_id("purchase"), new_id("pay")
    now = ctx.clock()
    async with ctx.db.write() as conn:
        await buyers.check_own(conn, shop_id=shop.id, buyer_id=buyer_id)
        plan = await plans.get(conn, shop_id=shop.id, plan_id=plan_id)
        if not plan.active:
            raise NotFound(f"the plan {plan.name!r} is not sold any more")
        stars = provider == STARS
        amount, currency = (plan.stars, "XTR") if stars else (plan.price, "RUB")
        promo_id = None
        if promo:
            used = await promos.take(conn, shop_id=shop.id, buyer_id=buyer_id, code=promo, now=now)
            if used.percent is None:
                raise Conflict(
                    "this code gives extra days: enter it with /promo", code=promos.GIVES_DAYS
                )
            promo_id = used.id
            # Stars are whole; kopecks are rounded to whole rubles, never below one unit.
            unit = 1 if stars else 100
            amount = max(unit, amount * (100 - used.percent) // 100 // unit * unit)
        await conn.execute(
            bot_purchases.insert().values(
                id=purchase_id,
                shop_id=shop.id,
                buyer_id=buyer_id,
                plan_id=plan.id,
                payment_id=payment_id,
                promo_id=promo_id,
                amount=amount,
                currency=currency,
                days=plan.days,
                status=PENDING,
                created_at=now,
            )
        )
    params = lifecycle.NewPayment(
        amount=amount,
        currency=currency,
        provider=provider,
        method=method,
        description=plan.name,
        customer=f"tg:{buyer_id}",
        metadata={METADATA_KEY: purchase_id},
        return_url=return_url,
    )
    try:
        payment = await lifecycle.create_payment(
            ctx, caller=caller_for(shop, settings), params=params, payment_id=payment_id
        )
    except Exception:
        # No payment: the purchase failed, and the buyer gets their use of the code back.
        async with ctx.db.write() as conn:
            await conn.execute(
                update(bot_purchases).where(bot_purchases.c.id == purchase_id).values(status=FAILED)
            )
            if promo_id is not None:
                await promos.give_back(conn, promo_id=promo_id, buyer_id=buyer_id)
        raise
    return Purchase(purchase_id, payment)
