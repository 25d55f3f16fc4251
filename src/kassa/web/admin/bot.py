"""A shop's Telegram bot: its overview (settings masked, the panel, test or live, what is
stuck), its buyers (searched, a page at a time) and each buyer in full, its plans and its
promo codes.

Everyone signed in sees them. Plans are the shop's prices: only owners add and disable
them. Promo codes are everyday marketing: operators and owners add them. Each change is in
the audit log.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime

from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from kassa.domain import KassaError, NotFound, ParameterInvalid, Shop
from kassa.domain.money import from_decimal
from kassa.services.admin.logins import Session
from kassa.services.bot import activation, lookup, plans, promos
from kassa.services.bot import settings as bot_settings
from kassa.services.pagination import PageRequest
from kassa.services.shops import shops
from kassa.web.admin.auth import Acting, Owner, Signed, admin_router
from kassa.web.admin.render import PageError, render
from kassa.web.deps import ContextDep
from kassa.web.errors import status_of

router = admin_router()

PAGE_SIZE = 50
#: How many stuck provisionings the overview lists.
STUCK_SHOWN = 20
#: What the plans and promo codes pages can report after a form (`?done=…`).
RESULTS = frozenset({"added", "disabled"})
PLAN_FIELDS = ("name", "days", "price", "stars", "traffic_gb", "devices", "referral_days")
PROMO_FIELDS = ("code", "kind", "amount", "uses", "until")


async def _bot(ctx: ContextDep, name: str) -> tuple[Shop, bot_settings.BotSettings]:
    """The shop named `name` and its bot's settings; the error page if either is missing."""
    try:
        shop = await shops.get_shop(ctx, name=name)
    except NotFound:
        raise PageError(404, "shop") from None
    found = await bot_settings.find(ctx, shop_id=shop.id)
    if found is None:
        raise PageError(404, "bot")
    return shop, found


@router.get("/shops/{name}/bot")
async def overview_page(
    request: Request, ctx: ContextDep, *, session: Signed, name: str
) -> HTMLResponse:
    """The bot at a glance: its settings (secrets masked), its numbers, what is stuck."""
    shop, found = await _bot(ctx, name)
    return render(
        request,
        "admin/bot.html",
        session=session,
        shop=shop,
        bot=found,
        shown=found.shown(),
        summary=await lookup.summary(ctx, shop_id=shop.id),
        plans=await plans.list_plans(ctx, shop_id=shop.id, active_only=True),
        stuck=await activation.list_provisioning(
            ctx, shop_id=shop.id, status=activation.STUCK, limit=STUCK_SHOWN
        ),
    )


@router.get("/shops/{name}/bot/buyers")
async def buyers_page(
    request: Request,
    ctx: ContextDep,
    *,
    session: Signed,
    name: str,
    q: str = "",
    after: str | None = None,
) -> HTMLResponse:
    """The bot's buyers, newest first, searched by Telegram id, name or referral code."""
    shop, _ = await _bot(ctx, name)
    try:
        page = await lookup.list_buyers(
            ctx,
            shop_id=shop.id,
            search=q,
            page=PageRequest(kind="buyer", limit=PAGE_SIZE, starting_after=after or None),
        )
    except ParameterInvalid:
        raise PageError(404, "page") from None
    return render(
        request,
        "admin/bot_buyers.html",
        session=session,
        shop=shop,
        page=page,
        q=q,
        after=after,
        now=ctx.clock(),
    )


@router.get("/shops/{name}/bot/buyers/{buyer_id}")
async def buyer_page(
    request: Request, ctx: ContextDep, *, session: Signed, name: str, buyer_id: str
) -> HTMLResponse:
    """A buyer: their subscription and panel user, purchases with their payments,
    referrals, promo codes used, provisioning."""
    shop, _ = await _bot(ctx, name)
    try:
        profile = await lookup.profile(ctx, shop_id=shop.id, buyer_id=buyer_id)
    except NotFound:
        raise PageError(404, "buyer") from None
    return render(
        request, "admin/bot_buyer.html", session=session, shop=shop, p=profile, now=ctx.clock()
    )


async def _plans_page(
    request: Request,
    ctx: ContextDep,
    session: Session,
    shop: Shop,
    *,
    status_code: int = 200,
    done: str | None = None,
    error: KassaError | None = None,
    form: Mapping[str, str] | None = None,
) -> HTMLResponse:
    return render(
        request,
        "admin/bot_plans.html",
        session=session,
        status_code=status_code,
        shop=shop,
        plans=await plans.list_plans(ctx, shop_id=shop.id),
        done=done if done in RESULTS else None,
        error=error,
        form={name: "" for name in PLAN_FIELDS} | dict(form or {}),
    )


@router.get("/shops/{name}/bot/plans")
async def plans_page(
    request: Request, ctx: ContextDep, *, session: Signed, name: str, done: str | None = None
) -> HTMLResponse:
    shop, _ = await _bot(ctx, name)
    return await _plans_page(request, ctx, session, shop, done=done)


def _whole(
    form: Mapping[str, str], name: str, *, required: bool = False, zero: bool = False
) -> int | None:
    """A form's whole number above zero, or from zero with `zero` (None if left empty and
    not `required`)."""
    value = form.get(name, "").strip()
    if not value and not required:
        return None
    if not (value.isascii() and value.isdigit()) or int(value) < (0 if zero else 1):
        least = "zero or more" if zero else "above zero"
        raise ParameterInvalid(f"{name} is a whole number {least}", param=name)
    return int(value)


async def _form(request: Request, names: tuple[str, ...]) -> dict[str, str]:
    sent = await request.form()
    return {name: str(sent.get(name) or "").strip() for name in names}


@router.post("/shops/{name}/bot/plans", response_model=None)
async def add_plan(request: Request, ctx: ContextDep, *, session: Owner, name: str) -> Response:
    """Sell a new plan; without a Stars price, the ruble price at the seeds' rate."""
    shop, _ = await _bot(ctx, name)
    form = await _form(request, PLAN_FIELDS)
    try:
        price = from_decimal(form["price"] or "0", "RUB", param="price")
        if price <= 0:
            raise ParameterInvalid("the price is above zero", param="price")
        days = _whole(form, "days", required=True)
        assert days is not None
        await plans.add(
            ctx,
            shop_id=shop.id,
            name=form["name"],
            days=days,
            price=price,
            stars=_whole(form, "stars") or plans.stars_for(price),
            traffic_gb=_whole(form, "traffic_gb"),
            devices=_whole(form, "devices"),
            referral_days=_whole(form, "referral_days", zero=True) or 0,
            actor=session.actor,
        )
    except KassaError as exc:
        return await _plans_page(
            request, ctx, session, shop, status_code=status_of(exc), error=exc, form=form
        )
    return RedirectResponse(f"/admin/shops/{shop.name}/bot/plans?done=added", status_code=303)


@router.get("/shops/{name}/bot/plans/{plan_id}/disable")
async def confirm_disable(
    request: Request, ctx: ContextDep, *, session: Owner, name: str, plan_id: str
) -> HTMLResponse:
    """What stopping the sale of a plan does, and the form that does it."""
    shop, _ = await _bot(ctx, name)
    try:
        plan = await plans.find(ctx, shop_id=shop.id, plan_id=plan_id)
    except NotFound:
        raise PageError(404, "plan") from None
    return render(
        request,
        "admin/bot_plan_disable.html",
        session=session,
        status_code=200 if plan.active else 409,
        shop=shop,
        plan=plan,
    )


@router.post("/shops/{name}/bot/plans/{plan_id}/disable", response_model=None)
async def disable_plan(
    ctx: ContextDep, *, session: Owner, name: str, plan_id: str
) -> RedirectResponse:
    """Stop selling the plan; subscriptions bought with it go on."""
    shop, _ = await _bot(ctx, name)
    try:
        await plans.disable(ctx, shop_id=shop.id, plan_id=plan_id, actor=session.actor)
    except NotFound:
        raise PageError(404, "plan") from None
    return RedirectResponse(f"/admin/shops/{shop.name}/bot/plans?done=disabled", status_code=303)


async def _promos_page(
    request: Request,
    ctx: ContextDep,
    session: Session,
    shop: Shop,
    *,
    status_code: int = 200,
    done: str | None = None,
    error: KassaError | None = None,
    form: Mapping[str, str] | None = None,
) -> HTMLResponse:
    return render(
        request,
        "admin/bot_promos.html",
        session=session,
        status_code=status_code,
        shop=shop,
        codes=await promos.list_codes(ctx, shop_id=shop.id),
        now=ctx.clock(),
        done=done if done in RESULTS else None,
        error=error,
        form={name: "" for name in PROMO_FIELDS} | {"kind": "days"} | dict(form or {}),
    )


@router.get("/shops/{name}/bot/promo_codes")
async def promos_page(
    request: Request, ctx: ContextDep, *, session: Signed, name: str, done: str | None = None
) -> HTMLResponse:
    shop, _ = await _bot(ctx, name)
    return await _promos_page(request, ctx, session, shop, done=done)


def _until(value: str) -> datetime | None:
    """The last day a code is valid, YYYY-MM-DD: until that day begins in UTC, as the CLI's
    `--until` is."""
    if not value:
        return None
    try:
        return datetime.strptime(value, "%Y-%m-%d").replace(tzinfo=UTC)
    except ValueError:
        raise ParameterInvalid("enter the date as YYYY-MM-DD", param="until") from None


@router.post("/shops/{name}/bot/promo_codes", response_model=None)
async def add_promo(request: Request, ctx: ContextDep, *, session: Acting, name: str) -> Response:
    """A code giving extra days or a percentage off, each buyer once."""
    shop, _ = await _bot(ctx, name)
    form = await _form(request, PROMO_FIELDS)
    try:
        amount = _whole(form, "amount", required=True)
        days = percent = None
        if form["kind"] == "percent":
            percent = amount
        else:
            days = amount
        await promos.add(
            ctx,
            shop_id=shop.id,
            code=form["code"],
            days=days,
            percent=percent,
            max_uses=_whole(form, "uses"),
            valid_until=_until(form["until"]),
            actor=session.actor,
        )
    except KassaError as exc:
        return await _promos_page(
            request, ctx, session, shop, status_code=status_of(exc), error=exc, form=form
        )
    return RedirectResponse(f"/admin/shops/{shop.name}/bot/promo_codes?done=added", status_code=303)
