"""`/pay/{payment_id}`: the payer's page of a payment (public: the id is the secret).

For a pending CloudPayments payment it is the checkout: it loads CloudPayments' widget, and is
the only page whose Content-Security-Policy lets in a script and frames from elsewhere (the
widget's origin). For every other payment it says where the payment stands, with a link to
the provider's page while one is waiting for the payer.
"""

from __future__ import annotations

from dataclasses import dataclass

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, JSONResponse

from kassa.domain import NotFound, Payment, PaymentStatus
from kassa.providers.cloudpayments import CloudPaymentsProvider
from kassa.services.context import Context
from kassa.services.payments import lifecycle as payments
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
    payment past its time and `unavailable` for one whose provider account is disabled."""

    payment: Payment
    state: str
    widget: dict[str, str] | None = None
    widget_origin: str | None = None
    redirect_url: str | None = None


def widget_policy(origin: str) -> str:
    """Kassa's page policy, plus what the widget needs from `origin`: its script, its frames
    (the card form), its images, fonts and calls. Its styles are let in inline too: the widget
    draws its overlay into the page, and which way it does that is not documented (NOT FOUND),
    while a style cannot run code."""
    directives: dict[str, str] = {}
    for directive in CONTENT_SECURITY_POLICY.split(";"):
        name, _, value = directive.strip().partition(" ")
        directives[name] = value
    for name, extra in (
        ("script-src", origin),
        ("frame-src", origin),
        ("connect-src", f"'self' {origin}"),
        ("img-src", origin),
        ("font-src", f"'self' {origin}"),
        ("style-src", f"{origin} 'unsafe-inline'"),
    ):
        base = directives.get(name)
        directives[name] = f"{base} {extra}" if base else extra
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
    if isinstance(gateway, CloudPaymentsProvider):
        widget = gateway.widget(payment, language=locale)
        return PayView(payment, status.value, widget=widget, widget_origin=gateway.widget_origin)
    url = (payment.confirmation or {}).get("url")
    own_page = f"{gateway.public_url}/pay/{payment.id}"
    redirect = url if isinstance(url, str) and url != own_page else None
    return PayView(payment, status.value, redirect_url=redirect)


@router.get("/pay/{payment_id}")
async def pay_page(
    request: Request, ctx: ContextDep, payment_id: str, lang: str | None = None
) -> HTMLResponse:
    """The payer's page: the widget while a CloudPayments payment waits, else its status."""
    locale = negotiate(lang, request.headers.get("accept-language"))
    pages: Pages = request.app.state.pages
    try:
        payment = await payments.find_payment(ctx, payment_id=payment_id)
    except NotFound:
        return pages.render("pay/payment.html", locale=locale, status_code=404, view=None)
    view = await _view(ctx, payment, locale)
    response = pages.render("pay/payment.html", locale=locale, view=view)
    response.headers.update(NO_STORE)
    if view.widget_origin is not None:
        response.headers["Content-Security-Policy"] = widget_policy(view.widget_origin)
    return response


@router.get("/pay/{payment_id}/status")
async def pay_status(ctx: ContextDep, payment_id: str) -> JSONResponse:
    """The page's status as JSON, which the page polls after the widget reports success."""
    try:
        payment = await payments.find_payment(ctx, payment_id=payment_id)
    except NotFound:
        return JSONResponse({"status": None}, status_code=404, headers=NO_STORE)
    view = await _view(ctx, payment, "en")
    return JSONResponse({"status": view.state}, headers=NO_STORE)
