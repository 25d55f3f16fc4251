"""What the shop's owner asks their bot (`/stats`, `/find`): the subscriptions' figures, and
a buyer or a payment found by what the owner knows of it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal

from sqlalchemy import and_, exists, func, select

from kassa.domain import NotFound, Payment
from kassa.services.bot import buyers, lookup, purchases
from kassa.services.bot.buyers import Buyer
from kassa.services.callers import Caller
from kassa.services.context import Context
from kassa.services.payments import lifecycle
from kassa.store.tables import bot_buyers, bot_plans, bot_purchases, bot_subscriptions

#: How many of a buyer's purchases `/find` shows, newest first.
RECENT_PURCHASES = 5
#: How many buyers a name may match before `/find` asks for more of it.
MAX_MATCHES = 5


@dataclass(frozen=True, slots=True)
class SubscriptionFigures:
    """The bot's subscriptions now: running ones (of which trials), and how many buyers who
    took the trial went on to pay."""

    active: int
    trials: int
    trial_buyers: int
    trial_then_paid: int

    @property
    def trial_conversion(self) -> Decimal | None:
        """Trial → paid as a fraction rounded to 4 places (None before any trial)."""
        if not self.trial_buyers:
            return None
        return (Decimal(self.trial_then_paid) / Decimal(self.trial_buyers)).quantize(
            Decimal("0.0001"), rounding=ROUND_HALF_UP
        )


async def subscription_figures(ctx: Context, *, shop_id: str) -> SubscriptionFigures:
    now = ctx.clock()
    subs = bot_subscriptions.c
    running = and_(subs.shop_id == shop_id, subs.ends_at > now)
    paid = exists().where(
        bot_purchases.c.buyer_id == bot_buyers.c.id,
        bot_purchases.c.status == purchases.ACTIVATED,
    )
    tried = and_(bot_buyers.c.shop_id == shop_id, bot_buyers.c.trial_used_at.is_not(None))
    query = select(
        select(func.count()).select_from(bot_subscriptions).where(running).scalar_subquery(),
        select(func.count())
        .select_from(bot_subscriptions)
        .where(running, subs.status == buyers.TRIAL)
        .scalar_subquery(),
        select(func.count()).select_from(bot_buyers).where(tried).scalar_subquery(),
        select(func.count()).select_from(bot_buyers).where(tried, paid).scalar_subquery(),
    )
    async with ctx.db.read() as conn:
        counted = (await conn.execute(query)).one()
    return SubscriptionFigures(*(int(each or 0) for each in counted))


@dataclass(frozen=True, slots=True)
class Bought:
    """One of a buyer's purchases, as `/find` shows it."""

    plan: str
    amount: int
    currency: str
    status: str
    payment_id: str
    created_at: datetime


@dataclass(frozen=True, slots=True)
class FoundBuyer:
    buyer: Buyer
    ends_at: datetime | None
    #: trial or paid; None without a subscription.
    status: str | None
    purchases: list[Bought]


@dataclass(frozen=True, slots=True)
class FoundPayment:
    payment: Payment
    #: The buyer it was a purchase of, if it was one.
    buyer: Buyer | None


async def find(ctx: Context, *, caller: Caller, query: str) -> list[FoundBuyer | FoundPayment]:
    """What `query` names in the caller's shop: a payment by its id, or buyers by Telegram id,
    referral code or name (at most `MAX_MATCHES`); `NotFound` when nothing is."""
    shop_id = caller.own_shop.id
    query = query.strip()
    if query.startswith("pay_"):
        payment = await lifecycle.get_payment(ctx, caller=caller, payment_id=query)
        return [FoundPayment(payment, await _payer(ctx, payment.id))]
    if not query or query == "@":
        raise NotFound("nothing to look for")
    select_buyers = (
        select(bot_buyers, bot_subscriptions.c.ends_at, bot_subscriptions.c.status.label("kind"))
        .outerjoin(bot_subscriptions, bot_subscriptions.c.buyer_id == bot_buyers.c.id)
        .where(bot_buyers.c.shop_id == shop_id, lookup.matching(query.removeprefix("@")))
        .order_by(bot_buyers.c.created_at.desc())
        .limit(MAX_MATCHES)
    )
    async with ctx.db.read() as conn:
        rows = list(await conn.execute(select_buyers))
        found: list[FoundBuyer | FoundPayment] = []
        for row in rows:
            bought = await conn.execute(
                select(bot_purchases, bot_plans.c.name.label("plan"))
                .join(bot_plans, bot_plans.c.id == bot_purchases.c.plan_id)
                .where(bot_purchases.c.buyer_id == row.id)
                .order_by(bot_purchases.c.created_at.desc())
                .limit(RECENT_PURCHASES)
            )
            found.append(
                FoundBuyer(
                    buyers.as_buyer(row),
                    row.ends_at,
                    row.kind,
                    [
                        Bought(p.plan, p.amount, p.currency, p.status, p.payment_id, p.created_at)
                        for p in bought
                    ],
                )
            )
    if not found:
        raise NotFound(f"no buyer or payment {query!r}")
    return found


async def _payer(ctx: Context, payment_id: str) -> Buyer | None:
    query = (
        select(bot_buyers)
        .join(bot_purchases, bot_purchases.c.buyer_id == bot_buyers.c.id)
        .where(bot_purchases.c.payment_id == payment_id)
    )
    async with ctx.db.read() as conn:
        row = (await conn.execute(query)).first()
    return buyers.as_buyer(row) if row else None
