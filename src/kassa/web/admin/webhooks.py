"""Webhook endpoints and their deliveries: every shop's endpoints, one endpoint's deliveries
with each attempt, and sending a delivery's event again (operators and owners). Signing
secrets are never shown: they were shown once, through the API, when made or rotated."""

from __future__ import annotations

from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from kassa.domain import KassaError, NotFound
from kassa.services.admin import audit
from kassa.services.admin.logins import Session
from kassa.services.pagination import PageRequest
from kassa.services.shops import shops
from kassa.services.webhooks import deliveries
from kassa.services.webhooks import endpoints as webhooks
from kassa.services.webhooks import sending as webhook_sending
from kassa.services.webhooks.deliveries import Delivery
from kassa.services.webhooks.endpoints import Endpoint, Operator
from kassa.web.admin.auth import Acting, Signed, admin_router
from kassa.web.admin.render import PageError, render
from kassa.web.deps import ContextDep
from kassa.web.errors import status_of

router = admin_router()

ENDPOINTS_PAGE = 50
DELIVERIES_PAGE = 20
#: How much of an endpoint's answer a delivery's attempt shows.
EXCERPT = 300
#: Every shop's endpoints, test and live.
EVERYONE = Operator()


@router.get("/webhooks")
async def endpoints_page(
    request: Request,
    ctx: ContextDep,
    session: Signed,
    shop: str = "",
    after: str | None = None,
) -> HTMLResponse:
    """Endpoints of every shop (or one), newest first."""
    all_shops = await shops.list_shops(ctx)
    chosen = next((s for s in all_shops if s.name == shop), None)
    if shop and chosen is None:
        raise PageError(404, "shop")
    scope = Operator(shop_id=chosen.id if chosen else None)
    page = PageRequest(kind="we", limit=ENDPOINTS_PAGE, starting_after=after or None)
    found, more = await webhooks.list_endpoints(ctx, scope=scope, page=page)
    return render(
        request,
        "admin/webhooks.html",
        session=session,
        endpoints=found,
        more=more,
        first_page=not after,
        shop=shop,
        shops=all_shops,
        shops_by_id={s.id: s for s in all_shops},
    )


async def _endpoint(ctx: ContextDep, endpoint_id: str) -> Endpoint:
    try:
        return await webhooks.get_endpoint(ctx, scope=EVERYONE, endpoint_id=endpoint_id)
    except NotFound:
        raise PageError(404, "endpoint") from None


@router.get("/webhooks/{endpoint_id}")
async def endpoint_page(
    request: Request,
    ctx: ContextDep,
    *,
    session: Signed,
    endpoint_id: str,
    after: str | None = None,
    resent: str | None = None,
) -> HTMLResponse:
    """One endpoint: its settings and its deliveries, newest first, each with its attempts."""
    endpoint = await _endpoint(ctx, endpoint_id)
    page = PageRequest(kind="wd", limit=DELIVERIES_PAGE, starting_after=after or None)
    found, more = await deliveries.list_deliveries(
        ctx, scope=EVERYONE, endpoint_id=endpoint.id, page=page
    )
    return render(
        request,
        "admin/webhook.html",
        session=session,
        endpoint=endpoint,
        shop=await shops.get_shop(ctx, shop_id=endpoint.shop_id),
        deliveries=found,
        more=more,
        first_page=not after,
        resent=resent,
        excerpt=EXCERPT,
    )


async def _delivery(ctx: ContextDep, endpoint: Endpoint, delivery_id: str) -> Delivery:
    try:
        return await deliveries.get_delivery(
            ctx, scope=EVERYONE, endpoint_id=endpoint.id, delivery_id=delivery_id
        )
    except NotFound:
        raise PageError(404, "delivery") from None


def _confirm_page(
    request: Request,
    session: Session,
    endpoint: Endpoint,
    delivery: Delivery,
    *,
    status_code: int = 200,
    error: KassaError | None = None,
) -> HTMLResponse:
    return render(
        request,
        "admin/webhook_resend.html",
        session=session,
        status_code=status_code,
        endpoint=endpoint,
        delivery=delivery,
        error=error,
    )


@router.get("/webhooks/{endpoint_id}/deliveries/{delivery_id}/resend")
async def confirm_resend(
    request: Request, ctx: ContextDep, *, session: Acting, endpoint_id: str, delivery_id: str
) -> HTMLResponse:
    """What resending does, and the form that does it."""
    endpoint = await _endpoint(ctx, endpoint_id)
    delivery = await _delivery(ctx, endpoint, delivery_id)
    return _confirm_page(request, session, endpoint, delivery)


@router.post("/webhooks/{endpoint_id}/deliveries/{delivery_id}/resend", response_model=None)
async def resend(
    request: Request, ctx: ContextDep, *, session: Acting, endpoint_id: str, delivery_id: str
) -> Response:
    """Send the delivery's event to the endpoint again, now, as a new delivery; then show the
    endpoint with it on top. Written to the audit log (`delivery.resend`) either way."""
    endpoint = await _endpoint(ctx, endpoint_id)
    delivery = await _delivery(ctx, endpoint, delivery_id)
    facts = {"event": delivery.event_id, "endpoint": endpoint.id}
    try:
        (made,) = await webhook_sending.resend(
            ctx, scope=EVERYONE, event_id=delivery.event_id, endpoint_id=endpoint.id
        )
    except KassaError as exc:
        await audit.record_now(
            ctx,
            actor=session.actor,
            action="delivery.resend",
            object_id=delivery.id,
            shop_id=endpoint.shop_id,
            outcome=f"refused: {exc.message}",
            details=facts,
        )
        return _confirm_page(
            request, session, endpoint, delivery, status_code=status_of(exc), error=exc
        )
    await audit.record_now(
        ctx,
        actor=session.actor,
        action="delivery.resend",
        object_id=delivery.id,
        shop_id=endpoint.shop_id,
        outcome=made.status.value,
        details=facts | {"delivery": made.id},
    )
    return RedirectResponse(f"/admin/webhooks/{endpoint.id}?resent={made.id}", status_code=303)
