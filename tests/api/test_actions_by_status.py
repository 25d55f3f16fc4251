"""What the domain offers for a payment (the admin's buttons) the API accepts, and what it
does not offer the API refuses, in every status."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from sqlalchemy import update

from kassa.domain import Payment, PaymentAction, PaymentStatus, payment_actions
from kassa.services.payments import lifecycle
from kassa.store.tables import payments
from tests.helpers import checkout, create_payment
from tests.live import LiveServer

S = PaymentStatus


def payment_in(server: LiveServer, api: httpx.Client, status: PaymentStatus) -> dict[str, Any]:
    """A new payment in `status`, reached as a shop and a payer reach it."""
    payment = create_payment(api, capture=status != S.REQUIRES_CAPTURE)
    if status == S.REQUIRES_CAPTURE:
        checkout(server, payment, "authorize")
    elif status in {S.SUCCEEDED, S.REFUNDED}:
        checkout(server, payment, "pay")
    elif status == S.FAILED:
        checkout(server, payment, "decline")
    elif status == S.CANCELED:
        assert api.post(f"/v1/payments/{payment['id']}/cancel").status_code == 200
    if status == S.REFUNDED:
        assert api.post("/v1/refunds", json={"payment": payment["id"]}).status_code == 201
    if status == S.EXPIRED:  # the expiry job works on every shop's payments: set it here

        async def expire() -> None:
            async with server.ctx.db.write() as conn:
                await conn.execute(
                    update(payments)
                    .where(payments.c.id == payment["id"])
                    .values(status=S.EXPIRED.value)
                )

        server.call(expire())
    return payment


def stored(server: LiveServer, payment_id: str) -> Payment:
    return server.call(lifecycle.find_payment(server.ctx, payment_id=payment_id))


def ask(api: httpx.Client, payment_id: str, action: PaymentAction) -> httpx.Response:
    if action == PaymentAction.REFUND:
        return api.post("/v1/refunds", json={"payment": payment_id})
    return api.post(f"/v1/payments/{payment_id}/{action}")


@pytest.mark.parametrize("action", list(PaymentAction))
@pytest.mark.parametrize("status", list(S))
def test_the_api_accepts_what_the_domain_offers(
    server: LiveServer, api: httpx.Client, status: PaymentStatus, action: PaymentAction
) -> None:
    payment = payment_in(server, api, status)
    before = stored(server, payment["id"])
    assert before.status == status
    response = ask(api, payment["id"], action)
    if action in payment_actions(before):
        assert response.status_code in {200, 201}, response.text
    elif action == PaymentAction.REFRESH:  # nothing to ask: the payment comes back as it is
        assert response.status_code == 200
        assert stored(server, payment["id"]) == before
    else:
        assert response.status_code == 409, response.text
        assert response.json()["error"]["code"] == "payment_invalid_state"
        assert stored(server, payment["id"]) == before
