"""Acting on a payment: capture, cancel, refund, re-check with the provider.

Each action has a confirmation page (`GET /admin/payments/{id}/{action}`) whose form does it
(`POST` to the same address), then the payment page says what came of it. Only operators and
owners get either. The work is done by the same services the API uses, as `Staff`, so the
audit entry is written in the transaction of the change; an action that changed nothing in
the database (refused, or a re-check of a settled payment) is written to the audit log here.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from kassa.domain import OPEN_STATUSES, KassaError, NotFound, Payment, PaymentStatus
from kassa.domain.money import from_decimal
from kassa.services.admin import audit
from kassa.services.admin.logins import Session
from kassa.services.payments import lifecycle as payments
from kassa.services.payments import refunds
from kassa.services.scopes import Staff
from kassa.web.admin.auth import Acting, admin_router
from kassa.web.admin.filters import parse_amount
from kassa.web.admin.render import PageError, render
from kassa.web.deps import ContextDep
from kassa.web.errors import status_of

router = admin_router()

#: Each action and the audit log's name for it.
ACTIONS = {
    "capture": "payment.capture",
    "cancel": "payment.cancel",
    "refund": "refund.create",
    "refresh": "payment.refresh",
}


def available_actions(payment: Payment) -> list[str]:
    """The actions that make sense for the payment as it stands."""
    found = []
    if payment.status == PaymentStatus.REQUIRES_CAPTURE:
        found.append("capture")
    if payment.status == PaymentStatus.SUCCEEDED and payment.refundable > 0:
        found.append("refund")
    if payment.status in OPEN_STATUSES:
        found += ["cancel", "refresh"]
    return found


async def _payment(ctx: ContextDep, payment_id: str, action: str) -> Payment:
    if action not in ACTIONS:
        raise PageError(404, "page")
    try:
        return await payments.find_payment(ctx, payment_id=payment_id)
    except NotFound:
        raise PageError(404, "payment") from None


def _confirm_page(
    request: Request,
    session: Session,
    payment: Payment,
    action: str,
    *,
    status_code: int = 200,
    error: KassaError | None = None,
    amount: str = "",
    reason: str = "",
) -> HTMLResponse:
    possible = action in available_actions(payment)
    return render(
        request,
        "admin/confirm.html",
        session=session,
        status_code=status_code if possible else 409,
        payment=payment,
        action=action,
        possible=possible,
        error=error,
        amount=amount,
        reason=reason,
    )


@router.get("/payments/{payment_id}/{action}")
async def confirm(
    request: Request, ctx: ContextDep, session: Acting, payment_id: str, action: str
) -> HTMLResponse:
    """What the action will do, and the form that does it."""
    payment = await _payment(ctx, payment_id, action)
    return _confirm_page(request, session, payment, action)


@router.post("/payments/{payment_id}/{action}", response_model=None)
async def act(
    request: Request,
    ctx: ContextDep,
    *,
    session: Acting,
    payment_id: str,
    action: str,
    amount: Annotated[str, Form()] = "",
    reason: Annotated[str, Form()] = "",
) -> Response:
    """Do the action, then show the payment with its result (or this page with the error)."""
    payment = await _payment(ctx, payment_id, action)
    if action not in available_actions(payment):
        await audit.record_now(
            ctx,
            actor=session.actor,
            action=ACTIONS[action],
            object_id=payment.id,
            shop_id=payment.shop_id,
            outcome="refused: not possible now",
            details={"status": payment.status.value},
        )
        return _confirm_page(request, session, payment, action)
    staff = Staff(actor=session.actor)
    query = f"done={action}"
    try:
        minor = from_decimal(parse_amount(amount), payment.currency) if amount.strip() else None
        if action == "capture":
            await payments.capture_payment(ctx, caller=staff, payment_id=payment.id, amount=minor)
        elif action == "cancel":
            await payments.cancel_payment(ctx, caller=staff, payment_id=payment.id)
        elif action == "refresh":
            await payments.refresh_payment(ctx, caller=staff, payment_id=payment.id)
        else:
            made = await refunds.create_refund(
                ctx,
                caller=staff,
                payment_id=payment.id,
                amount=minor,
                reason=reason.strip() or None,
            )
            query += f"&refund={made.id}"
    except KassaError as exc:
        if not staff.witnessed:
            await audit.record_now(
                ctx,
                actor=session.actor,
                action=ACTIONS[action],
                object_id=payment.id,
                shop_id=payment.shop_id,
                outcome=f"refused: {exc.message}",
                details={"code": exc.code},
            )
        current = await payments.find_payment(ctx, payment_id=payment.id)
        return _confirm_page(
            request,
            session,
            current,
            action,
            status_code=status_of(exc),
            error=exc,
            amount=amount,
            reason=reason,
        )
    if not staff.witnessed:  # it settled meanwhile, and the service had nothing to do
        await audit.record_now(
            ctx,
            actor=session.actor,
            action=ACTIONS[action],
            object_id=payment.id,
            shop_id=payment.shop_id,
            outcome="no change",
        )
    return RedirectResponse(f"/admin/payments/{payment.id}?{query}", status_code=303)
