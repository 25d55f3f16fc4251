"""A shop's bot as its people look it up (the admin pages): how many buyers and
subscriptions it has, its buyers searched and a page at a time, and one buyer in full: the
subscription, purchases with their payments, referrals, promo codes used, provisioning."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, func, or_, select
from sqlalchemy.ext.asyncio import AsyncConnection

from kassa.domain import NotFound
from kassa.services.bot import activation, buyers
from kassa.services.bot.buyers import Buyer
from kassa.services.context import Context
from kassa.services.pagination import Page, PageRequest
from kassa.store.tables import (
    bot_buyers,
    bot_plans,
    bot_promo_codes,
    bot_promo_uses,
    bot_provisioning,
    bot_purchases,
    bot_subscriptions,
    payments,
)

#: How many of a buyer's purchases, invitees and promo uses their page shows.
SHOWN = 100
#: A Telegram id is a 64-bit integer: longer digits are searched as text only.


@dataclass(frozen=True, slots=True)
class Summary:
    """The bot's numbers: buyers, subscriptions running now (of which trials), those that
    ended, and provisioning rows stuck for a person."""

    buyers: int
    active: int
    trials: int
    expired: int
    stuck: int


async def summary(ctx: Context, *, shop_id: str) -> Summary:
    now = ctx.clock()
    subs = bot_subscriptions.c
    running = subs.ends_at > now
    query = select(
        select(func.count())
        .select_from(bot_buyers)
        .where(bot_buyers.c.shop_id == shop_id)
        .scalar_subquery(),
        func.count().filter(running),
        func.count().filter(running, subs.status == buyers.TRIAL),
        func.count().filter(~running),
        select(func.count())
        .select_from(bot_provisioning)
        .where(
            bot_provisioning.c.shop_id == shop_id,
            bot_provisioning.c.status == activation.STUCK,
        )
        .scalar_subquery(),
    ).where(subs.shop_id == shop_id)
    async with ctx.db.read() as conn:
        counted = (await conn.execute(query)).one()
    return Summary(*(int(each or 0) for each in counted))


@dataclass(frozen=True, slots=True)
class Subscription:
    ends_at: datetime
    #: trial or paid (ended: `ends_at` in the past).
    status: str
    plan: str | None
    panel_user_id: str | None
    #: The panel user's name as provisioning uses it.
    panel_username: str
    link: str | None
    updated_at: datetime

    def running(self, now: datetime) -> bool:
        return self.ends_at > now


@dataclass(frozen=True, slots=True)
class Listed:
    """A buyer in the list, with their subscription's end and kind if they have one."""

    buyer: Buyer
    ends_at: datetime | None
    status: str | None
    created_at: datetime


def matching(search: str) -> ColumnElement[bool]:
    """Buyers whose Telegram id or referral code is `search` (`ref_…` too), or whose name
    contains it (ignoring case; on SQLite, only for Latin letters)."""
    code = search.removeprefix("ref_")
    conditions = [
        bot_buyers.c.referral_code == code,
        bot_buyers.c.name.icontains(search, autoescape=True),
    ]
    if search.isascii() and search.isdigit() and int(search) <= buyers.MAX_TELEGRAM_ID:
        conditions.append(bot_buyers.c.telegram_id == int(search))
    return or_(*conditions)


async def list_buyers(
    ctx: Context, *, shop_id: str, page: PageRequest, search: str = ""
) -> Page[Listed]:
    """The shop's buyers, newest first, those `search` matches if given."""
    query = (
        select(bot_buyers, bot_subscriptions.c.ends_at, bot_subscriptions.c.status.label("kind"))
        .outerjoin(bot_subscriptions, bot_subscriptions.c.buyer_id == bot_buyers.c.id)
        .where(bot_buyers.c.shop_id == shop_id)
    )
    if search.strip():
        query = query.where(matching(search.strip()))
    if page.starting_after:
        query = query.where(bot_buyers.c.id < page.starting_after)
    query = query.order_by(bot_buyers.c.id.desc()).limit(page.limit + 1)
    async with ctx.db.read() as conn:
        rows = (await conn.execute(query)).all()
    found = [Listed(buyers.as_buyer(row), row.ends_at, row.kind, row.created_at) for row in rows]
    return Page(found[: page.limit], has_more=len(found) > page.limit)


@dataclass(frozen=True, slots=True)
class Purchase:
    id: str
    plan: str
    amount: int
    currency: str
    days: int
    #: pending, activated or failed.
    status: str
    payment_id: str
    #: The payment's status; None if it was never created.
    payment_status: str | None
    ends_at: datetime | None
    created_at: datetime


@dataclass(frozen=True, slots=True)
class PromoUse:
    code: str
    days: int | None
    percent: int | None
    used_at: datetime


@dataclass(frozen=True, slots=True)
class Profile:
    """A buyer in full, for their page."""

    buyer: Buyer
    created_at: datetime
    trial_used_at: datetime | None
    subscription: Subscription | None
    inviter: Buyer | None
    invited: list[Buyer]
    invited_count: int
    purchases: list[Purchase]
    promo_uses: list[PromoUse]
    provisioning: list[activation.Provisioning]


async def profile(ctx: Context, *, shop_id: str, buyer_id: str) -> Profile:
    """The shop's buyer `buyer_id` in full; `NotFound` if the shop has no such buyer."""
    async with ctx.db.read() as conn:
        row = (
            await conn.execute(
                select(bot_buyers).where(
                    bot_buyers.c.id == buyer_id, bot_buyers.c.shop_id == shop_id
                )
            )
        ).first()
        if row is None:
            raise NotFound(f"no buyer {buyer_id} in this shop")
        buyer = buyers.as_buyer(row)
        inviter = None
        if buyer.invited_by is not None:
            inviter = await _buyer(conn, bot_buyers.c.id == buyer.invited_by)
        invited = [
            buyers.as_buyer(each)
            for each in await conn.execute(
                select(bot_buyers)
                .where(bot_buyers.c.invited_by == buyer.id)
                .order_by(bot_buyers.c.id.desc())
                .limit(SHOWN)
            )
        ]
        invited_count = (
            await conn.execute(
                select(func.count())
                .select_from(bot_buyers)
                .where(bot_buyers.c.invited_by == buyer.id)
            )
        ).scalar_one()
        subscription = await _subscription(conn, buyer)
        bought = await _purchases(conn, buyer.id)
        used = await _promo_uses(conn, buyer.id)
    provisioning = await activation.list_provisioning(
        ctx, shop_id=shop_id, buyer_id=buyer.id, limit=SHOWN
    )
    return Profile(
        buyer=buyer,
        created_at=row.created_at,
        trial_used_at=row.trial_used_at,
        subscription=subscription,
        inviter=inviter,
        invited=invited,
        invited_count=invited_count,
        purchases=bought,
        promo_uses=used,
        provisioning=provisioning,
    )


async def _buyer(conn: AsyncConnection, condition: ColumnElement[bool]) -> Buyer | None:
    found = (await conn.execute(select(bot_buyers).where(condition))).first()
    return None if found is None else buyers.as_buyer(found)


async def _subscription(conn: AsyncConnection, buyer: Buyer) -> Subscription | None:
    row: Any = (
        await conn.execute(
            select(bot_subscriptions, bot_plans.c.name.label("plan"))
            .outerjoin(bot_plans, bot_plans.c.id == bot_subscriptions.c.plan_id)
            .where(bot_subscriptions.c.buyer_id == buyer.id)
        )
    ).first()
    if row is None:
        return None
    return Subscription(
        ends_at=row.ends_at,
        status=row.status,
        plan=row.plan,
        panel_user_id=row.panel_user_id,
        panel_username=row.panel_username or activation.panel_username(buyer.telegram_id),
        link=row.link,
        updated_at=row.updated_at,
    )


async def _purchases(conn: AsyncConnection, buyer_id: str) -> list[Purchase]:
    query = (
        select(
            bot_purchases,
            bot_plans.c.name.label("plan"),
            payments.c.status.label("payment_status"),
        )
        .join(bot_plans, bot_plans.c.id == bot_purchases.c.plan_id)
        .outerjoin(payments, payments.c.id == bot_purchases.c.payment_id)
        .where(bot_purchases.c.buyer_id == buyer_id)
        .order_by(bot_purchases.c.created_at.desc(), bot_purchases.c.id.desc())
        .limit(SHOWN)
    )
    return [
        Purchase(
            id=row.id,
            plan=row.plan,
            amount=row.amount,
            currency=row.currency,
            days=row.days,
            status=row.status,
            payment_id=row.payment_id,
            payment_status=row.payment_status,
            ends_at=row.ends_at,
            created_at=row.created_at,
        )
        for row in await conn.execute(query)
    ]


async def _promo_uses(conn: AsyncConnection, buyer_id: str) -> list[PromoUse]:
    query = (
        select(
            bot_promo_codes.c.code,
            bot_promo_codes.c.days,
            bot_promo_codes.c.percent,
            bot_promo_uses.c.used_at,
        )
        .join(bot_promo_codes, bot_promo_codes.c.id == bot_promo_uses.c.promo_id)
        .where(bot_promo_uses.c.buyer_id == buyer_id)
        .order_by(bot_promo_uses.c.used_at.desc())
        .limit(SHOWN)
    )
    return [
        PromoUse(row.code, row.days, row.percent, row.used_at) for row in await conn.execute(query)
    ]
