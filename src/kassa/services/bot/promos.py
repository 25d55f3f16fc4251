"""Promo codes: extra days now, or a percentage off a purchase; each with an optional use
limit and expiry, and one use per buyer.

A use is taken in one transaction: a conditional `UPDATE … SET uses = uses + 1 WHERE uses <
max_uses AND not expired` (so concurrent uses never pass the limit) and the buyer's row in
`bot_promo_uses` (its key refuses a second use by the same buyer). A percentage is used when
the purchase's payment is created, whether or not it is then paid.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from datetime import datetime
from typing import Any

from sqlalchemy import delete, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from kassa.domain import Conflict, NotFound, ParameterInvalid, new_id
from kassa.services import idempotency
from kassa.services.admin import audit
from kassa.services.admin.audit import Actor
from kassa.services.bot import buyers
from kassa.services.context import Context
from kassa.store.db import insert_ignoring_conflict
from kassa.store.tables import bot_promo_codes, bot_promo_uses

#: Why a code cannot be used, as the error's `code` (the bot words each its own way).
UNKNOWN = "promo_unknown"
EXPIRED = "promo_expired"
USED_UP = "promo_used_up"
USED_BY_BUYER = "promo_already_used"
#: A code entered where the other kind is expected.
GIVES_DISCOUNT = "promo_gives_discount"
GIVES_DAYS = "promo_gives_days"


@dataclass(frozen=True, slots=True)
class Promo:
    id: str
    code: str
    days: int | None
    percent: int | None


@dataclass(frozen=True, slots=True)
class PromoCode:
    """A code as its shop's people see it: what it gives, how often it was used, until when."""

    id: str
    code: str
    days: int | None
    percent: int | None
    max_uses: int | None
    uses: int
    valid_until: datetime | None
    active: bool
    created_at: datetime


def _code(row: Any) -> PromoCode:
    return PromoCode(**{field.name: getattr(row, field.name) for field in fields(PromoCode)})


def document(promo: PromoCode) -> dict[str, Any]:
    """The code as JSON output shows it."""
    shown = asdict(promo)
    for name in ("valid_until", "created_at"):
        shown[name] = shown[name].isoformat() if shown[name] else None
    return shown


async def list_codes(ctx: Context, *, shop_id: str) -> list[PromoCode]:
    """The shop's codes, newest first."""
    query = (
        select(bot_promo_codes)
        .where(bot_promo_codes.c.shop_id == shop_id)
        .order_by(bot_promo_codes.c.created_at.desc(), bot_promo_codes.c.id.desc())
    )
    async with ctx.db.read() as conn:
        return [_code(row) for row in await conn.execute(query)]


async def add(
    ctx: Context,
    *,
    shop_id: str,
    code: str,
    days: int | None = None,
    percent: int | None = None,
    max_uses: int | None = None,
    valid_until: datetime | None = None,
    promo_id: str | None = None,
    actor: Actor | None = None,
) -> PromoCode:
    """A new code: `days` extra, or `percent` (1-99) off; one of the two (`promo_id`: the id
    reserved for it under an Idempotency-Key). With `actor` (a person in the admin UI),
    `bot.promo.add` is audited in the same transaction."""
    if (days is None) == (percent is None):
        raise ParameterInvalid("a promo code gives --days or --percent, one of the two")
    if days is not None and days <= 0:
        raise ParameterInvalid("days are above zero", param="days")
    if percent is not None and not 0 < percent < 100:
        raise ParameterInvalid("percent is 1-99", param="percent")
    if max_uses is not None and max_uses <= 0:
        raise ParameterInvalid("uses are above zero", param="uses")
    if not code or len(code) > 64:
        raise ParameterInvalid("a code is 1-64 characters", param="code")
    promo = PromoCode(
        id=promo_id or new_id("promo"),
        code=code.upper(),
        days=days,
        percent=percent,
        max_uses=max_uses,
        uses=0,
        valid_until=valid_until,
        active=True,
        created_at=ctx.clock(),
    )
    try:
        async with idempotency.transaction(ctx) as conn:
            await conn.execute(bot_promo_codes.insert().values(shop_id=shop_id, **asdict(promo)))
            if actor is not None:
                await audit.record(
                    conn,
                    actor=actor,
                    action="bot.promo.add",
                    now=promo.created_at,
                    object_id=promo.id,
                    shop_id=shop_id,
                    details={"code": promo.code, "days": days, "percent": percent},
                )
    except IntegrityError:
        raise Conflict(f"the shop already has the code {promo.code}") from None
    return promo


async def _find(conn: AsyncConnection, *, shop_id: str, code: str) -> Any:
    row = (
        await conn.execute(
            select(bot_promo_codes).where(
                bot_promo_codes.c.shop_id == shop_id,
                bot_promo_codes.c.code == code.strip().upper(),
                bot_promo_codes.c.active.is_(True),
            )
        )
    ).first()
    if row is None:
        raise NotFound("no such promo code", code=UNKNOWN)
    return row


async def _check_unused(conn: AsyncConnection, *, promo_id: str, buyer_id: str) -> None:
    used = select(bot_promo_uses.c.used_at).where(
        bot_promo_uses.c.promo_id == promo_id, bot_promo_uses.c.buyer_id == buyer_id
    )
    if (await conn.execute(used)).first() is not None:
        raise Conflict("this buyer has used this promo code already", code=USED_BY_BUYER)


def _refusal(row: Any, now: datetime) -> Conflict | None:
    """Why the code of `row` cannot be used by anyone at `now`, if it cannot."""
    if row.valid_until is not None and row.valid_until <= now:
        return Conflict("this promo code has expired", code=EXPIRED)
    if row.max_uses is not None and row.uses >= row.max_uses:
        return Conflict("this promo code is used up", code=USED_UP)
    return None


async def check(
    conn: AsyncConnection, *, shop_id: str, buyer_id: str, code: str, now: datetime
) -> Promo:
    """The code the buyer could use now, without using it; `NotFound` or `Conflict` (with
    the reason's `code`) as `take` would raise them."""
    await buyers.check_own(conn, shop_id=shop_id, buyer_id=buyer_id)
    row = await _find(conn, shop_id=shop_id, code=code)
    await _check_unused(conn, promo_id=row.id, buyer_id=buyer_id)
    refusal = _refusal(row, now)
    if refusal is not None:
        raise refusal
    return Promo(row.id, row.code, row.days, row.percent)


async def take(
    conn: AsyncConnection, *, shop_id: str, buyer_id: str, code: str, now: datetime
) -> Promo:
    """Use `code` for the buyer in the transaction on `conn`; `NotFound` or `Conflict` (with
    the reason's `code`: `UNKNOWN`, `USED_BY_BUYER`, `EXPIRED`, `USED_UP`) if it cannot be."""
    await buyers.check_own(conn, shop_id=shop_id, buyer_id=buyer_id)
    row = await _find(conn, shop_id=shop_id, code=code)
    await _check_unused(conn, promo_id=row.id, buyer_id=buyer_id)
    counted = await conn.execute(
        update(bot_promo_codes)
        .where(
            bot_promo_codes.c.id == row.id,
            or_(
                bot_promo_codes.c.max_uses.is_(None),
                bot_promo_codes.c.uses < bot_promo_codes.c.max_uses,
            ),
            or_(bot_promo_codes.c.valid_until.is_(None), bot_promo_codes.c.valid_until > now),
        )
        .values(uses=bot_promo_codes.c.uses + 1)
    )
    if counted.rowcount == 0:
        # Read before the update: a concurrent use may have taken the last one since.
        raise _refusal(row, now) or Conflict("this promo code is used up", code=USED_UP)
    used = await conn.execute(
        insert_ignoring_conflict(
            conn.dialect.name, bot_promo_uses, index_elements=["promo_id", "buyer_id"]
        ),
        {"promo_id": row.id, "buyer_id": buyer_id, "used_at": now},
    )
    if used.rowcount == 0:  # the same buyer's concurrent use won
        raise Conflict("this buyer has used this promo code already", code=USED_BY_BUYER)
    return Promo(row.id, row.code, row.days, row.percent)


async def give_back(conn: AsyncConnection, *, promo_id: str, buyer_id: str) -> None:
    """Undo the buyer's use of a code (its purchase's payment could not be created)."""
    gone = await conn.execute(
        delete(bot_promo_uses).where(
            bot_promo_uses.c.promo_id == promo_id, bot_promo_uses.c.buyer_id == buyer_id
        )
    )
    if gone.rowcount:
        await conn.execute(
            update(bot_promo_codes)
            .where(bot_promo_codes.c.id == promo_id)
            .values(uses=bot_promo_codes.c.uses - 1)
        )


async def redeem_days(ctx: Context, *, shop_id: str, buyer_id: str, code: str) -> datetime:
    """Use a code of extra days: the buyer's subscription is lengthened now."""
    now = ctx.clock()
    async with ctx.db.write() as conn:
        promo = await take(conn, shop_id=shop_id, buyer_id=buyer_id, code=code, now=now)
        if promo.days is None:
            raise Conflict(
                "this code gives a discount: enter it when buying a plan", code=GIVES_DISCOUNT
            )
        ends_at = await buyers.extend(
            conn,
            shop_id=shop_id,
            buyer_id=buyer_id,
            days=promo.days,
            now=now,
            cause=f"promo:{promo.id}:{buyer_id}",
            reason="promo",
        )
    assert ends_at is not None  # a buyer's use of a code is new: `take` refuses a second
    return ends_at
