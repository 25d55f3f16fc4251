"""The payments pages: the filtered list, its CSV export, and one payment in full."""

from __future__ import annotations

from fastapi import Request
from fastapi.responses import HTMLResponse, StreamingResponse

from kassa.domain import NotFound, PaymentStatus
from kassa.services import providers as provider_state
from kassa.services.admin import audit
from kassa.services.catalog import PROVIDERS
from kassa.services.emails import receipts as receipt_emails
from kassa.services.events import outbox as events
from kassa.services.notifications import inbox as stored_notifications
from kassa.services.objects import event_object
from kassa.services.payments import lifecycle as payments
from kassa.services.payments import refunds
from kassa.services.payments import search as payment_search
from kassa.services.shops import shops
from kassa.web.admin.actions import available_actions
from kassa.web.admin.auth import Signed, admin_router
from kassa.web.admin.export import csv_export
from kassa.web.admin.filters import read_filters
from kassa.web.admin.render import NO_STORE, PageError, render
from kassa.web.deps import ContextDep

router = admin_router()

PAGE_SIZE = 50


@router.get("/payments")
async def payments_page(
    request: Request,
    ctx: ContextDep,
    session: Signed,
    after: str | None = None,
    before: str | None = None,
) -> HTMLResponse:
    """Payments of every shop, newest first, filtered and searched, a page at a time."""
    all_shops = await shops.list_shops(ctx)
    form = read_filters(request, all_shops)
    page = await payment_search.search(
        ctx, form.filter, limit=PAGE_SIZE, after=after, before=before
    )
    return render(
        request,
        "admin/payments.html",
        session=session,
        status_code=422 if form.errors else 200,
        form=form,
        page=page,
        shops=all_shops,
        shops_by_id={shop.id: shop for shop in all_shops},
        statuses=list(PaymentStatus),
        providers=sorted(PROVIDERS),
    )


@router.get("/payments.csv")
async def payments_csv(request: Request, ctx: ContextDep, session: Signed) -> StreamingResponse:
    """Every payment the filters match, as CSV, streamed."""
    all_shops = await shops.list_shops(ctx)
    form = read_filters(request, all_shops)
    if form.errors:
        raise PageError(422, "filters")
    stamp = ctx.clock().strftime("%Y%m%d-%H%M%S")
    return StreamingResponse(
        await csv_export(ctx, form.filter, {shop.id: shop for shop in all_shops}),
        media_type="text/csv; charset=utf-8",
        headers={
            "Content-Disposition": f'attachment; filename="kassa-payments-{stamp}.csv"',
            **NO_STORE,
        },
    )


#: The results the payment page can report after an action (`?done=…`).
RESULTS = frozenset({"capture", "cancel", "refund", "refresh"})


@router.get("/payments/{payment_id}")
async def payment_page(
    request: Request,
    ctx: ContextDep,
    *,
    session: Signed,
    payment_id: str,
    done: str | None = None,
    refund: str | None = None,
) -> HTMLResponse:
    """One payment: its fields, confirmation, refunds, timeline, raw notifications, the
    admin actions taken on it, and what the visitor's role may do with it."""
    try:
        payment = await payments.find_payment(ctx, payment_id=payment_id)
    except NotFound:
        raise PageError(404, "payment") from None
    shop = await shops.get_shop(ctx, shop_id=payment.shop_id)
    made = await refunds.payment_refunds(ctx, payment_id=payment.id)
    entries, _ = await audit.list_entries(ctx, object_id=payment.id, limit=100)
    return render(
        request,
        "admin/payment.html",
        session=session,
        payment=payment,
        shop=shop,
        refunds=made,
        timeline=[
            event_object(event)
            for event in await events.payment_timeline(ctx, payment_id=payment.id)
        ],
        notifications=await stored_notifications.for_payment(ctx, payment_id=payment.id),
        provider_panels=[
            *await provider_state.panels(ctx, payment),
            *await receipt_emails.panels(ctx, payment),
        ],
        audit_entries=entries,
        done=done if done in RESULTS else None,
        done_refund=next((r for r in made if r.id == refund), None),
        actions=available_actions(payment),
    )
