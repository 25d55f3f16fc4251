"""`/v1/bot`: the plans and promo codes of the key's shop's Telegram bot.

They belong to the shop, not to a mode: a test or a live key reads them; a live bot's are
changed with a live key only (`settings.check_may_change`).
"""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter
from pydantic import BaseModel, Field, StrictInt

from kassa.domain import MAX_AMOUNT
from kassa.services.bot import plans, promos
from kassa.services.bot import settings as bot_settings
from kassa.services.objects import timestamp
from kassa.web.deps import CallerDep, ContextDep
from kassa.web.idempotent import idempotent
from kassa.web.objects import list_object
from kassa.web.schemas import ERRORS, Body, ErrorOut
from kassa.web.timestamps import RANGE, Timestamp

router = APIRouter(prefix="/v1/bot", tags=["bot"])

#: Besides the API's usual errors: a test key changing a live bot's plans or codes.
CHANGE_ERRORS: dict[int | str, dict[str, Any]] = {
    **ERRORS,
    403: {
        "model": ErrorOut,
        "description": "live_key_required: the shop's bot is live, and this is a test key",
    },
}
MAX_DAYS = 3650


class PlanCreate(Body):
    name: str = Field(min_length=1, max_length=64, description="Unique in the shop.")
    days: StrictInt = Field(gt=0, le=MAX_DAYS)
    price: StrictInt = Field(gt=0, le=MAX_AMOUNT, description="In kopecks: 24900 is 249 ₽.")
    stars: StrictInt | None = Field(
        None,
        gt=0,
        le=MAX_AMOUNT,
        description="In whole Telegram Stars; default the ruble price at 1.33 ₽ a Star, "
        "rounded to a multiple of 5.",
    )
    traffic_gb: StrictInt | None = Field(None, gt=0, description="Traffic limit; none: unlimited")
    devices: StrictInt | None = Field(None, gt=0, description="Device limit; none: unlimited")
    referral_days: StrictInt = Field(
        0, ge=0, le=MAX_DAYS, description="Days the inviter gets on an invitee's first purchase."
    )


class PlanOut(BaseModel):
    id: str = Field(examples=["plan_01jd6xq4m8c9e5rgt2w3n7v0ka"])
    object: Literal["bot_plan"]
    name: str
    days: int
    price: int = Field(description="In kopecks.")
    currency: Literal["RUB"]
    stars: int
    traffic_gb: int | None
    devices: int | None
    referral_days: int
    active: bool = Field(description="false: not sold any more.")


class PlanList(BaseModel):
    object: Literal["list"]
    data: list[PlanOut]
    has_more: bool


class PromoCodeCreate(Body):
    code: str = Field(
        min_length=1, max_length=64, description="Case-insensitive (kept upper-case)."
    )
    days: StrictInt | None = Field(None, gt=0, le=MAX_DAYS, description="Extra days; or:")
    percent: StrictInt | None = Field(None, ge=1, le=99, description="Percent off one purchase.")
    max_uses: StrictInt | None = Field(None, gt=0, description="How many buyers may use it.")
    valid_until: Timestamp | None = Field(
        None, description=f"ISO 8601 or Unix seconds (UTC without a zone), {RANGE}."
    )


class PromoCodeOut(BaseModel):
    id: str = Field(examples=["promo_01jd6xq4m8c9e5rgt2w3n7v0ka"])
    object: Literal["bot_promo_code"]
    code: str
    days: int | None
    percent: int | None
    max_uses: int | None
    uses: int
    valid_until: str | None
    active: bool
    created_at: str


class PromoCodeList(BaseModel):
    object: Literal["list"]
    data: list[PromoCodeOut]
    has_more: bool


def plan_object(plan: plans.Plan) -> dict[str, Any]:
    return {
        "id": plan.id,
        "object": "bot_plan",
        "name": plan.name,
        "days": plan.days,
        "price": plan.price,
        "currency": "RUB",
        "stars": plan.stars,
        "traffic_gb": plan.traffic_gb,
        "devices": plan.devices,
        "referral_days": plan.referral_days,
        "active": plan.active,
    }


def promo_code_object(promo: promos.PromoCode) -> dict[str, Any]:
    return {
        "id": promo.id,
        "object": "bot_promo_code",
        "code": promo.code,
        "days": promo.days,
        "percent": promo.percent,
        "max_uses": promo.max_uses,
        "uses": promo.uses,
        "valid_until": timestamp(promo.valid_until),
        "active": promo.active,
        "created_at": timestamp(promo.created_at),
    }


@router.get("/plans", summary="List the bot's plans", response_model=PlanList, responses=ERRORS)
async def list_plans(ctx: ContextDep, caller: CallerDep) -> Any:
    """Every plan of the shop's bot, sold or not, shortest first."""
    shop_id = (await bot_settings.get(ctx, shop_id=caller.own_shop.id)).shop_id
    return list_object(map(plan_object, await plans.list_plans(ctx, shop_id=shop_id)))


@router.post(
    "/plans",
    status_code=201,
    summary="Add a plan to the bot",
    responses={201: {"model": PlanOut}, **CHANGE_ERRORS},
)
@idempotent(status=201, prefix="plan")
async def add_plan(
    body: PlanCreate, ctx: ContextDep, caller: CallerDep, resource_id: str
) -> dict[str, Any]:
    """Sell a new plan from now on. A name the shop has already: `409 conflict`."""
    found = await bot_settings.check_may_change(ctx, caller=caller)
    plan = await plans.add(
        ctx,
        shop_id=found.shop_id,
        name=body.name,
        days=body.days,
        price=body.price,
        stars=body.stars or plans.stars_for(body.price),
        traffic_gb=body.traffic_gb,
        devices=body.devices,
        referral_days=body.referral_days,
        plan_id=resource_id,
    )
    return plan_object(plan)


@router.post(
    "/plans/{plan_id}/disable",
    summary="Stop selling a plan",
    responses={200: {"model": PlanOut}, **CHANGE_ERRORS},
)
@idempotent()
async def disable_plan(plan_id: str, ctx: ContextDep, caller: CallerDep) -> dict[str, Any]:
    """The plan is not sold any more; subscriptions bought with it go on. Disabling a
    disabled plan answers it as it is."""
    found = await bot_settings.check_may_change(ctx, caller=caller)
    return plan_object(await plans.disable(ctx, shop_id=found.shop_id, plan_id=plan_id))


@router.get(
    "/promo_codes",
    summary="List the bot's promo codes",
    response_model=PromoCodeList,
    responses=ERRORS,
)
async def list_promo_codes(ctx: ContextDep, caller: CallerDep) -> Any:
    """Every promo code of the shop's bot, newest first, with how often it was used."""
    shop_id = (await bot_settings.get(ctx, shop_id=caller.own_shop.id)).shop_id
    return list_object(map(promo_code_object, await promos.list_codes(ctx, shop_id=shop_id)))


@router.post(
    "/promo_codes",
    status_code=201,
    summary="Add a promo code",
    responses={201: {"model": PromoCodeOut}, **CHANGE_ERRORS},
)
@idempotent(status=201, prefix="promo")
async def add_promo_code(
    body: PromoCodeCreate, ctx: ContextDep, caller: CallerDep, resource_id: str
) -> dict[str, Any]:
    """A code giving `days` extra or `percent` off (one of the two), each buyer once. A code
    the shop has already: `409 conflict`."""
    found = await bot_settings.check_may_change(ctx, caller=caller)
    promo = await promos.add(
        ctx,
        shop_id=found.shop_id,
        code=body.code,
        days=body.days,
        percent=body.percent,
        max_uses=body.max_uses,
        valid_until=body.valid_until,
        promo_id=resource_id,
    )
    return promo_code_object(promo)
