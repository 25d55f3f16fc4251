"""`/pay/{payment_id}`: the payer's page of a payment (public: the id is the secret).

For a pending payment whose provider has a widget (CloudPayments), it is the checkout: the
provider says what the page shows (`Provider.payer_page`) and gives the script that opens its
widget (`Provider.payer_script`), and this is the only page whose Content-Security-Policy
lets in what a widget needs from elsewhere. For every other payment it says where the payment
stands, and while one waits for the payer, what the payer must do (the payment's
confirmation: the provider's page, requisites to transfer to, a QR code, a crypto transfer, an
invoice link; `templates/_confirmation.html`), asking Kassa for the status until it changes.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import HTMLResponse, JSONResponse

from kassa.domain import NotFound, Payment, PaymentStatus
from kassa.services.catalog import PayerPage
from kassa.services.context import Context
from kassa.services.payments import lifecycle as payments
from kassa.services.shops import shops
from kassa.web.confirmations import has_lapsed, shown
from kassa.web.deps import ContextDep
from kassa.web.i18n import negotiate
from kassa.web.middleware import CONTENT_SECURITY_POLICY
from kassa.web.templating import Pages

router = APIRouter(include_in_schema=False)

#: The page shows what Kassa knows now; a cached copy would show a stale status.
NO_STORE = {"Cache-Control": "no-store"}


@dataclass(frozen=True, slots=True)
class PayView:
    """What the page shows. `state` is the payment's status, except `expired` for a pending
    payment past its time and `unavailable` for one whose provider account is disabled.
    `confirmation` is what a waiting payer must do, when the page can show it (not a link back
    to this very page), and `lapsed` whether its own time is over (then the page says so
    instead of showing details that may be another payment's by now, and still waits: the
    payer may have paid in time); `timezone` is the shop's, for the times on the page."""

    payment: Payment
    state: str
    page: PayerPage | None = None
    confirmation: Mapping[str, Any] | None = None
    lapsed: bool = False
    timezone: str = "UTC"


#: What the payer page needs itself in the directives Kassa's policy leaves to `default-src
#: 'self'`, which stops applying to one a widget adds its sources to: the page's script asks
#: Kassa for the status, and its styles may load Kassa's fonts. It frames nothing of Kassa's.
PAGE_OWN_SOURCES = {"connect-src": "'self'", "font-src": "'self'"}


def widget_policy(sources: Mapping[str, Sequence[str]]) -> str:
    """Kassa's page policy, plus what a widget needs (`PayerPage.sources`)."""
    directives: dict[str, str] = {}
    for directive in CONTENT_SECURITY_POLICY.split(";"):
        name, _, value = directive.strip().partition(" ")
        directives[name] = value
    for name, extra in sources.items():
        base = directives.get(name) or PAGE_OWN_SOURCES.get(name)
        added = " ".join(extra)
        directives[name] = f"{base} {added}" if base else added
    return "; ".join(f"{name} {value}" for name, value in directives.items())


async def _view(ctx: Context, payment: Payment, locale: str) -> PayView:
    status = payment.status
    if status != PaymentStatus.PENDING:
        return PayView(payment, status.value)
    if payment.expires_at is not None and payment.expires_at <= ctx.clock():
        return PayView(payment, PaymentStatus.EXPIRED.value)
    gateway = await payments.gateway_for(ctx, payment)
    if not gateway.account.enabled:
        return PayView(payment, "unavailable")
    page = gateway.payer_page(payment, language=locale)
    if page is not None:
        return PayView(payment, status.value, page=page)
    confirmation = payment.confirmation if shown(payment.confirmation) else None
    if (
        confirmation is not None
        and confirmation.get("url") == f"{gateway.public_url}/pay/{payment.id}"
    ):
        confirmation = None  # a link to this very page (a provider without a page of its own)
    lapsed = confirmation is not None and has_lapsed(confirmation, ctx.clock())
    return PayView(payment, status.value, confirmation=confirmation, lapsed=lapsed)


@router.get("/pay/{payment_id}")
async def pay_page(
    request: Request, ctx: ContextDep, payment_id: str, lang: str | None = None
) -> HTMLResponse:
    """The payer's page: the provider's widget while a payment waits, else its status."""
    locale = negotiate(lang, request.headers.get("accept-language"))
    pages: Pages = request.app.state.pages
    try:
        payment = await payments.find_payment(ctx, payment_id=payment_id)
    except NotFound:
        return pages.render("pay/payment.html", locale=locale, status_code=404, view=None)
    view = await _view(ctx, payment, locale)
    if view.confirmation is not None:
        shop = await shops.get_shop(ctx, shop_id=payment.shop_id)
        view = replace(view, timezone=shop.timezone)
    response = pages.render("pay/payment.html", locale=locale, view=view)
    response.headers.update(NO_STORE)
    if view.page is not None:
        response.headers["Content-Security-Policy"] = widget_policy(view.page.sources)
    return response


@router.get("/pay/{payment_id}/widget.js")
async def pay_widget_script(ctx: ContextDep, payment_id: str) -> Response:
    """The provider's script that opens its widget on the page (`Provider.payer_script`)."""
    try:
        payment = await payments.find_payment(ctx, payment_id=payment_id)
    except NotFound:
        return Response(status_code=404, headers=NO_STORE)
    script = (await payments.gateway_for(ctx, payment)).payer_script
    if script is None:
        return Response(status_code=404, headers=NO_STORE)
    return Response(script.read_bytes(), media_type="text/javascript", headers=NO_STORE)


@router.get("/pay/{payment_id}/status")
async def pay_status(ctx: ContextDep, payment_id: str) -> JSONResponse:
    """The page's status as JSON, which the page polls after the widget reports success."""
    try:
        payment = await payments.find_payment(ctx, payment_id=payment_id)
    except NotFound:
        return JSONResponse({"status": None}, status_code=404, headers=NO_STORE)
    view = await _view(ctx, payment, "en")
    return JSONResponse({"status": view.state}, headers=NO_STORE)
