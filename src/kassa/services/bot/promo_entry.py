"""A promo code a buyer enters in the bot (`/promo CODE`, the menu's button, or a
`t.me/<bot>?start=promo_<CODE>` link): a code of extra days lengthens their subscription at
once (`promos.redeem_days`); a percentage is kept as the buyer's **pending** code for their
next purchase.

The paying side reads it with `pending` and passes its `code` to `purchases.start(promo=…)`,
which uses it. Nothing has to clear it: `pending` gives the code only while the buyer can
still use it, so once a purchase used it (or it expired, was used up or disabled) it is no
longer pending, and if that purchase's payment could not be created (the use is given back)
it is pending again. A buyer has one pending code: a newer percentage replaces it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import exists, or_, select, update

from kassa.domain import NotFound
from kassa.services.bot import promos
from kassa.services.bot.promos import Promo
from kassa.services.context import Context
from kassa.store.db import insert_ignoring_conflict
from kassa.store.tables import bot_pending_promos, bot_promo_codes, bot_promo_uses

#: The longest code `promos.add` takes.
LONGEST = 64


@dataclass(frozen=True, slots=True)
class Entered:
    """What the code gave: extra days (and the subscription's new end), or a percentage now
    pending (`ends_at` None)."""

    promo: Promo
    ends_at: datetime | None = None


async def enter(ctx: Context, *, shop_id: str, buyer_id: str, code: str) -> Entered:
    """Use the code the buyer entered: `NotFound` or `Conflict` with the reason's `code`
    (`promos.UNKNOWN`, `EXPIRED`, `USED_UP`, `USED_BY_BUYER`) if it cannot be used."""
    code = code.strip()
    if not code or len(code) > LONGEST:
        raise NotFound("no such promo code", code=promos.UNKNOWN)
    async with ctx.db.write() as conn:
        promo = await promos.check(
            conn, shop_id=shop_id, buyer_id=buyer_id, code=code, now=ctx.clock()
        )
        if promo.percent is not None:
            # Insert, or point the buyer's row at this code: concurrent entries keep one row.
            row = {"buyer_id": buyer_id, "promo_id": promo.id, "entered_at": ctx.clock()}
            kept = await conn.execute(
                insert_ignoring_conflict(
                    conn.dialect.name, bot_pending_promos, index_elements=["buyer_id"]
                ),
                row,
            )
            if kept.rowcount == 0:
                await conn.execute(
                    update(bot_pending_promos)
                    .where(bot_pending_promos.c.buyer_id == buyer_id)
                    .values(promo_id=promo.id, entered_at=row["entered_at"])
                )
            return Entered(promo)
    ends_at = await promos.redeem_days(ctx, shop_id=shop_id, buyer_id=buyer_id, code=code)
    return Entered(promo, ends_at)


async def pending(ctx: Context, *, shop_id: str, buyer_id: str) -> Promo | None:
    """The buyer's pending percentage code, while they can still use it (for
    `purchases.start(promo=pending.code)`); None if there is none."""
    codes, now = bot_promo_codes.c, ctx.clock()
    used = exists().where(
        bot_promo_uses.c.promo_id == codes.id, bot_promo_uses.c.buyer_id == buyer_id
    )
    query = (
        select(codes.id, codes.code, codes.days, codes.percent)
        .join(bot_pending_promos, bot_pending_promos.c.promo_id == codes.id)
        .where(
            bot_pending_promos.c.buyer_id == buyer_id,
            codes.shop_id == shop_id,
            codes.active.is_(True),
            codes.percent.is_not(None),
            or_(codes.valid_until.is_(None), codes.valid_until > now),
            or_(codes.max_uses.is_(None), codes.uses < codes.max_uses),
            ~used,
        )
    )
    async with ctx.db.read() as conn:
        row = (await conn.execute(query)).first()
    return None if row is None else Promo(row.id, row.code, row.days, row.percent)
