"""Buyers (Telegram users of a shop's bot), their one subscription, and what lengthens it
besides a purchase: the trial, a promo code's extra days, a referral bonus.

Every lengthening goes through `extend`, in the transaction that decides it: the new end is
`max(now, current end) + days`, written once, with a provisioning row keyed by its cause, so
a cause replayed finds its row and lengthens nothing again.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import exists, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from kassa.domain import Conflict, NotFound, new_id
from kassa.services.bot import settings as bot_settings
from kassa.services.context import Context
from kassa.store.db import insert_ignoring_conflict
from kassa.store.tables import (
    bot_buyers,
    bot_plans,
    bot_provisioning,
    bot_subscriptions,
)

TRIAL, PAID = "trial", "paid"
#: A Telegram id is a 64-bit integer.
MAX_TELEGRAM_ID = 2**63 - 1
#: A subscription's state as the buyer sees it (`Subscription.state`): running as a trial or
#: paid, or ended.
ACTIVE, EXPIRED = "active", "expired"
#: Why a buyer gets no trial, as the `Conflict`'s `code`.
NO_TRIAL = "trial_not_offered"
TRIAL_USED = "trial_used"
SUBSCRIBED_BEFORE = "trial_after_subscription"


@dataclass(frozen=True, slots=True)
class Buyer:
    id: str
    shop_id: str
    telegram_id: int
    name: str
    language: str | None
    referral_code: str
    invited_by: str | None


def as_buyer(row: object) -> Buyer:
    """A `bot_buyers` row (or a row with its columns) as a `Buyer`."""
    return Buyer(
        id=row.id,  # type: ignore[attr-defined]
        shop_id=row.shop_id,  # type: ignore[attr-defined]
        telegram_id=row.telegram_id,  # type: ignore[attr-defined]
        name=row.name,  # type: ignore[attr-defined]
        language=row.language,  # type: ignore[attr-defined]
        referral_code=row.referral_code,  # type: ignore[attr-defined]
        invited_by=row.invited_by,  # type: ignore[attr-defined]
    )


def new_referral_code() -> str:
    """What follows `ref_` in a new buyer's invitation link."""
    return secrets.token_urlsafe(9)


async def register(
    ctx: Context,
    *,
    shop_id: str,
    telegram_id: int,
    name: str = "",
    language: str | None = None,
    referral_code: str | None = None,
) -> Buyer:
    """The shop's buyer with this Telegram id, made on first sight (`/start`). A referral
    code counts only then, and never one's own: a buyer's inviter is set once."""
    query = select(bot_buyers).where(
        bot_buyers.c.shop_id == shop_id, bot_buyers.c.telegram_id == telegram_id
    )
    async with ctx.db.write() as conn:
        found = (await conn.execute(query)).first()
        if found is not None:
            return as_buyer(found)
        inviter = None
        if referral_code:
            inviter = (
                await conn.execute(
                    select(bot_buyers.c.id).where(
                        bot_buyers.c.shop_id == shop_id,
                        bot_buyers.c.referral_code == referral_code,
                        bot_buyers.c.telegram_id != telegram_id,
                    )
                )
            ).scalar()
        await conn.execute(
            ctx.db.insert_ignoring_conflict(bot_buyers, index_elements=["shop_id", "telegram_id"]),
            {
                "id": new_id("buyer"),
                "shop_id": shop_id,
                "telegram_id": telegram_id,
                "name": name[:255],
                "language": language,
                "referral_code": new_referral_code(),
                "invited_by": inviter,
                "created_at": ctx.clock(),
            },
        )
        return as_buyer((await conn.execute(query)).one())


async def check_own(conn: AsyncConnection, *, shop_id: str, buyer_id: str) -> None:
    """`NotFound` unless `buyer_id` is a buyer of `shop_id`."""
    query = select(bot_buyers.c.id).where(
        bot_buyers.c.id == buyer_id, bot_buyers.c.shop_id == shop_id
    )
    if (await conn.execute(query)).first() is None:
        raise NotFound(f"no buyer {buyer_id} in this shop")


@dataclass(frozen=True, slots=True)
class Subscription:
    """A buyer's subscription as the bot shows it to them."""

    ends_at: datetime
    #: trial or paid.
    status: str
    #: The access link (or the bot's `link_text`) once provisioned; None until then.
    link: str | None
    #: The name of the plan last bought; None for a trial or days given alone.
    plan: str | None

    def state(self, now: datetime) -> str:
        """`TRIAL` or `ACTIVE` while it runs, then `EXPIRED`."""
        if self.ends_at <= now:
            return EXPIRED
        return TRIAL if self.status == TRIAL else ACTIVE


async def subscription(ctx: Context, *, buyer_id: str) -> Subscription | None:
    """The buyer's subscription, or None if they never had one."""
    subs = bot_subscriptions.c
    query = (
        select(subs.ends_at, subs.status, subs.link, bot_plans.c.name)
        .select_from(bot_subscriptions.outerjoin(bot_plans, bot_plans.c.id == subs.plan_id))
        .where(subs.buyer_id == buyer_id)
    )
    async with ctx.db.read() as conn:
        row = (await conn.execute(query)).first()
    if row is None:
        return None
    return Subscription(ends_at=row.ends_at, status=row.status, link=row.link, plan=row.name)


async def invited_count(ctx: Context, *, buyer_id: str) -> int:
    """How many buyers came through this buyer's referral link."""
    query = select(bot_buyers.c.id).where(bot_buyers.c.invited_by == buyer_id)
    async with ctx.db.read() as conn:
        return len((await conn.execute(query)).all())


async def extend(
    conn: AsyncConnection,
    *,
    shop_id: str,
    buyer_id: str,
    days: int,
    now: datetime,
    cause: str,
    reason: str,
    plan_id: str | None = None,
    status: str = PAID,
) -> datetime | None:
    """Lengthen the buyer's subscription by `days` from `max(now, its end)` and queue its
    provisioning, keyed by `cause`; None (and nothing changed) if `cause` was applied before.
    Runs in the caller's transaction."""
    queued = await conn.execute(
        insert_ignoring_conflict(conn.dialect.name, bot_provisioning, index_elements=["id"]),
        dict(
            id=cause,
            shop_id=shop_id,
            buyer_id=buyer_id,
            reason=reason,
            status="pending",
            next_attempt_at=now,
            created_at=now,
            updated_at=now,
        ),
    )
    if queued.rowcount == 0:
        return None
    current = (
        await conn.execute(
            select(bot_subscriptions.c.ends_at, bot_subscriptions.c.status)
            .where(bot_subscriptions.c.buyer_id == buyer_id)
            .with_for_update()
        )
    ).first()
    if current is None:
        ends_at = now + timedelta(days=days)
        await conn.execute(
            bot_subscriptions.insert().values(
                buyer_id=buyer_id,
                shop_id=shop_id,
                plan_id=plan_id,
                ends_at=ends_at,
                status=status,
                updated_at=now,
            )
        )
        return ends_at
    current_end: datetime = current.ends_at
    ends_at = max(now, current_end) + timedelta(days=days)
    values: dict[str, object] = {"ends_at": ends_at, "updated_at": now}
    if status == PAID:
        values["status"] = PAID
    if plan_id is not None:
        values["plan_id"] = plan_id
    await conn.execute(
        update(bot_subscriptions).where(bot_subscriptions.c.buyer_id == buyer_id).values(**values)
    )
    return ends_at


async def start_trial(ctx: Context, *, shop_id: str, buyer_id: str) -> datetime:
    """Give the buyer the bot's trial: once per Telegram account, and only to one who never
    had a subscription. `Conflict` otherwise, its `code` saying why (`NO_TRIAL`,
    `TRIAL_USED`, `SUBSCRIBED_BEFORE`)."""
    settings = await bot_settings.get(ctx, shop_id=shop_id)
    if settings.trial_days <= 0:
        raise Conflict("this bot offers no trial", code=NO_TRIAL)
    now = ctx.clock()
    async with ctx.db.write() as conn:
        never = ~exists().where(bot_subscriptions.c.buyer_id == buyer_id)
        taken = await conn.execute(
            update(bot_buyers)
            .where(
                bot_buyers.c.id == buyer_id,
                bot_buyers.c.shop_id == shop_id,
                bot_buyers.c.trial_used_at.is_(None),
                never,
            )
            .values(trial_used_at=now)
        )
        if taken.rowcount == 0:
            used = select(bot_buyers.c.trial_used_at).where(bot_buyers.c.id == buyer_id)
            if (await conn.execute(used)).scalar() is not None:
                raise Conflict("this buyer has had the trial already", code=TRIAL_USED)
            raise Conflict(
                "the trial is for a buyer who never had a subscription", code=SUBSCRIBED_BEFORE
            )
        ends_at = await extend(
            conn,
            shop_id=shop_id,
            buyer_id=buyer_id,
            days=settings.trial_days,
            now=now,
            cause=f"trial:{buyer_id}",
            reason=TRIAL,
            status=TRIAL,
        )
    assert ends_at is not None  # the trial's row is new: the update above let one through
    return ends_at


async def reward_referral(
    conn: AsyncConnection, *, shop_id: str, buyer_id: str, days: int, now: datetime
) -> datetime | None:
    """In the transaction activating `buyer_id`'s first paid purchase: give their inviter
    `days`, once (the buyer's `referral_rewarded_at` is set on the way). None if there is no
    inviter, no bonus, or it was given."""
    if days <= 0:
        return None
    inviter = (
        await conn.execute(
            update(bot_buyers)
            .where(
                bot_buyers.c.id == buyer_id,
                bot_buyers.c.invited_by.is_not(None),
                bot_buyers.c.referral_rewarded_at.is_(None),
            )
            .values(referral_rewarded_at=now)
            .returning(bot_buyers.c.invited_by)
        )
    ).scalar()
    if inviter is None:
        return None
    return await extend(
        conn,
        shop_id=shop_id,
        buyer_id=inviter,
        days=days,
        now=now,
        cause=f"referral:{buyer_id}",
        reason="referral",
    )
