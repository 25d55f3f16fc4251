"""The plans a shop's bot sells: days of access for a price in rubles and one in Stars.

A new bot gets the seeds' plans (1, 3, 6 and 12 months for 100, 249, 449 and 990 ₽). Their
Stars prices are Kassa's choice (`stars_for`): the ruble price at `RUBLES_PER_STAR` (1.33 ₽;
what a bot's owner is paid per Star is near $0.013, ~1.2-1.3 ₽, and buyers pay more for
them), rounded to a multiple of 5: 75, 185, 340 and 745 Stars. A plan added without a Stars
price gets one the same way.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from kassa.domain import Conflict, NotFound, ParameterInvalid, new_id
from kassa.services import idempotency
from kassa.services.admin import audit
from kassa.services.admin.audit import Actor
from kassa.services.context import Context
from kassa.store.tables import bot_plans

RUBLES_PER_STAR = Decimal("1.33")
#: name, days, kopecks; the inviter's bonus days for each.
SEEDS = (
    ("1 month", 30, 10_000),
    ("3 months", 90, 24_900),
    ("6 months", 180, 44_900),
    ("12 months", 365, 99_000),
)
SEED_REFERRAL_DAYS = 7


def stars_for(kopecks: int) -> int:
    """A Stars price for a ruble price: at `RUBLES_PER_STAR`, to a multiple of 5 (at least 1)."""
    fives = (Decimal(kopecks) / 100 / RUBLES_PER_STAR / 5).quantize(Decimal(1), ROUND_HALF_UP)
    return max(1, int(fives) * 5)


@dataclass(frozen=True, slots=True)
class Plan:
    id: str
    shop_id: str
    name: str
    days: int
    #: Kopecks.
    price: int
    #: Whole Stars.
    stars: int
    traffic_gb: int | None
    devices: int | None
    referral_days: int
    active: bool


async def seed(conn: AsyncConnection, *, shop_id: str, now: datetime) -> None:
    """Give a new bot's shop the seeds' plans, in the transaction that creates the bot."""
    for name, days, price in SEEDS:
        await conn.execute(
            bot_plans.insert().values(
                id=new_id("plan"),
                shop_id=shop_id,
                name=name,
                days=days,
                price=price,
                stars=stars_for(price),
                referral_days=SEED_REFERRAL_DAYS,
                created_at=now,
            )
        )


async def add(
    ctx: Context,
    *,
    shop_id: str,
    name: str,
    days: int,
    price: int,
    stars: int,
    traffic_gb: int | None = None,
    devices: int | None = None,
    referral_days: int = 0,
    plan_id: str | None = None,
    actor: Actor | None = None,
) -> Plan:
    """A new plan: `price` in kopecks, `stars` in whole Stars, both above zero (`plan_id`:
    the id reserved for it under an Idempotency-Key). With `actor` (a person in the admin
    UI), `bot.plan.add` is audited in the same transaction."""
    if not name.strip() or len(name) > 64:
        raise ParameterInvalid("a plan's name is 1-64 characters", param="name")
    if days <= 0 or price <= 0 or stars <= 0 or referral_days < 0:
        raise ParameterInvalid("days, the price and the Stars price are above zero")
    if (traffic_gb is not None and traffic_gb <= 0) or (devices is not None and devices <= 0):
        raise ParameterInvalid("a traffic or device limit is above zero (or none)")
    plan = Plan(
        id=plan_id or new_id("plan"),
        shop_id=shop_id,
        name=name.strip(),
        days=days,
        price=price,
        stars=stars,
        traffic_gb=traffic_gb,
        devices=devices,
        referral_days=referral_days,
        active=True,
    )
    now = ctx.clock()
    try:
        async with idempotency.transaction(ctx) as conn:
            await conn.execute(bot_plans.insert().values(created_at=now, **asdict(plan)))
            if actor is not None:
                await audit.record(
                    conn,
                    actor=actor,
                    action="bot.plan.add",
                    now=now,
                    object_id=plan.id,
                    shop_id=shop_id,
                    details={"name": plan.name, "days": days, "price": price, "stars": stars},
                )
    except IntegrityError:
        raise Conflict(f"the shop already has a plan named {plan.name!r}") from None
    return plan


def _plan(row: Any) -> Plan:
    return Plan(**{field.name: getattr(row, field.name) for field in fields(Plan)})


def document(plan: Plan) -> dict[str, Any]:
    """The plan as JSON output shows it."""
    return asdict(plan)


async def list_plans(ctx: Context, *, shop_id: str, active_only: bool = False) -> list[Plan]:
    """The shop's plans, shortest first."""
    query = select(bot_plans).where(bot_plans.c.shop_id == shop_id)
    if active_only:
        query = query.where(bot_plans.c.active.is_(True))
    async with ctx.db.read() as conn:
        rows = await conn.execute(query.order_by(bot_plans.c.days, bot_plans.c.name))
        return [_plan(row) for row in rows]


async def get(conn: AsyncConnection, *, shop_id: str, plan_id: str) -> Plan:
    row = (
        await conn.execute(
            select(bot_plans).where(bot_plans.c.shop_id == shop_id, bot_plans.c.id == plan_id)
        )
    ).first()
    if row is None:
        raise NotFound(f"no plan {plan_id} in this shop")
    return _plan(row)


async def find(ctx: Context, *, shop_id: str, plan_id: str) -> Plan:
    """The shop's plan `plan_id`; `NotFound` if the shop has none."""
    async with ctx.db.read() as conn:
        return await get(conn, shop_id=shop_id, plan_id=plan_id)


async def disable(
    ctx: Context,
    *,
    shop_id: str,
    name: str | None = None,
    plan_id: str | None = None,
    actor: Actor | None = None,
) -> Plan:
    """Stop selling the plan named `name` (or with the id `plan_id`); subscriptions bought
    with it go on. Disabling a disabled plan changes nothing. With `actor`,
    `bot.plan.disable` is audited."""
    chosen = bot_plans.c.id == plan_id if plan_id is not None else bot_plans.c.name == name
    now = ctx.clock()
    async with idempotency.transaction(ctx) as conn:
        row = (
            await conn.execute(
                update(bot_plans)
                .where(bot_plans.c.shop_id == shop_id, chosen)
                .values(active=False)
                .returning(*bot_plans.c)
            )
        ).first()
        if row is None:
            what = f"no plan {plan_id}" if plan_id is not None else f"no plan named {name!r}"
            raise NotFound(f"the shop has {what}")
        if actor is not None:
            await audit.record(
                conn,
                actor=actor,
                action="bot.plan.disable",
                now=now,
                object_id=row.id,
                shop_id=shop_id,
                details={"name": row.name},
            )
    return _plan(row)
