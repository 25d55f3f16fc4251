"""The bots' broadcasts (`/broadcast` in a shop's bot): every shop's, newest first, with
their audience, how many were sent, blocked and failed, and their state; and one
broadcast's page with its text. Everyone signed in sees them; they are made in the bot."""

from __future__ import annotations

from fastapi import Request
from fastapi.responses import HTMLResponse

from kassa.domain import NotFound
from kassa.services.bot import broadcasts
from kassa.services.shops import shops
from kassa.web.admin.auth import Signed, admin_router
from kassa.web.admin.filters import common_zone
from kassa.web.admin.render import PageError, render
from kassa.web.deps import ContextDep

router = admin_router()


@router.get("/broadcasts")
async def broadcasts_page(
    request: Request, ctx: ContextDep, session: Signed, shop: str = ""
) -> HTMLResponse:
    all_shops = await shops.list_shops(ctx)
    chosen = next((s for s in all_shops if s.name == shop), None)
    if shop and chosen is None:
        raise PageError(404, "shop")
    found = await broadcasts.list_broadcasts(ctx, shop_id=chosen.id if chosen else None)
    return render(
        request,
        "admin/broadcasts.html",
        session=session,
        broadcasts=found,
        shop=shop,
        shops_by_id={s.id: s for s in all_shops},
        zone=common_zone(all_shops, chosen),
    )


@router.get("/broadcasts/{broadcast_id}")
async def broadcast_page(
    request: Request, ctx: ContextDep, session: Signed, broadcast_id: str
) -> HTMLResponse:
    try:
        found = await broadcasts.get(ctx, broadcast_id=broadcast_id)
    except NotFound:
        raise PageError(404, "broadcast") from None
    return render(
        request,
        "admin/broadcast.html",
        session=session,
        broadcast=found,
        shop=await shops.get_shop(ctx, shop_id=found.shop_id),
    )
