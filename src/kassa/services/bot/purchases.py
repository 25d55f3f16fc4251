"""Starting a purchase: a plan bought by a buyer through one of the shop's providers, or a
top-up of the buyer's internal balance (`balance`).

The purchase row is written first, with the id of the payment to come, then the payment is
created through `lifecycle.create_payment` with that id and metadata naming the purchase,
so a payment that succeeds is always found to be a purchase (`activation`). The bot acts as
`Caller.system` narrowed to its shop and to the bot's mode (test until `test=false`): it is
Kassa's own front-end, not a merchant's API key, and its events have source `system`.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import update

from kassa.domain import Conflict, NotFound, ParameterInvalid, Payment, Shop, new_id
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
#: What a purchase buys: a plan's days, or money on the buyer's balance.
PLAN, TOPUP = "plan", "topup"
#: The least and the most one top-up may be, in kopecks.
TOPUP_MIN, TOPUP_MAX = 100, 10_000_000


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
                kind=PLAN,
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
    return await _pay(
        ctx,
        shop=shop,
        purchase_id=purchase_id,
        payment_id=payment_id,
        params=params,
        promo_id=promo_id,
        buyer_id=buyer_id,
    )


async def start_topup(
    ctx: Context,
    *,
    shop: Shop,
    buyer_id: str,
    amount: int,
    description: str,
    provider: str | None = None,
    method: str | None = None,
    return_url: str | None = None,
) -> Purchase:
    """Create the payment of a top-up of the buyer's balance by `amount` kopecks (in rubles:
    the balance is in rubles, so never in Stars). Credited once when it succeeds
    (`activation.record`)."""
    if provider == STARS:
        raise ParameterInvalid("a balance is topped up in rubles, not in Stars", param="provider")
    if not TOPUP_MIN <= amount <= TOPUP_MAX:
        raise ParameterInvalid(
            f"a top-up is {TOPUP_MIN // 100}-{TOPUP_MAX // 100} rubles", param="amount"
        )
    settings = await bot_settings.get(ctx, shop_id=shop.id)
    if not settings.balance:
        raise Conflict("this bot keeps no balance (kassa bot configure SHOP balance=true)")
    purchase_id, payment_id = new_id("purchase"), new_id("pay")
    async with ctx.db.write() as conn:
        await buyers.check_own(conn, shop_id=shop.id, buyer_id=buyer_id)
        await conn.execute(
            bot_purchases.insert().values(
                id=purchase_id,
                shop_id=shop.id,
                buyer_id=buyer_id,
                kind=TOPUP,
                payment_id=payment_id,
                amount=amount,
                currency="RUB",
                days=0,
                status=PENDING,
                created_at=ctx.clock(),
            )
        )
    params = lifecycle.NewPayment(
        amount=amount,
        currency="RUB",
        provider=provider,
        method=method,
        description=description,
        customer=f"tg:{buyer_id}",
        metadata={METADATA_KEY: purchase_id},
        return_url=return_url,
    )
    return await _pay(
        ctx,
        shop=shop,
        purchase_id=purchase_id,
        payment_id=payment_id,
        params=params,
        promo_id=None,
        buyer_id=buyer_id,
    )


async def _pay(
    ctx: Context,
    *,
    shop: Shop,
    purchase_id: str,
    payment_id: str,
    params: lifecycle.NewPayment,
    promo_id: str | None,
    buyer_id: str,
) -> Purchase:
    """Create the payment of the purchase just written; if it cannot be, the purchase
    failed and the buyer gets their use of the promo code back."""
    settings = await bot_settings.get(ctx, shop_id=shop.id)
    try:
        payment = await lifecycle.create_payment(
            ctx, caller=caller_for(shop, settings), params=params, payment_id=payment_id
        )
    except Exception:
        async with ctx.db.write() as conn:
            await conn.execute(
                update(bot_purchases).where(bot_purchases.c.id == purchase_id).values(status=FAILED)
            )
            if promo_id is not None:
                await promos.give_back(conn, promo_id=promo_id, buyer_id=buyer_id)
        raise
    return Purchase(purchase_id, payment)
