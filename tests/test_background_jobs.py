"""The background jobs against a real server: expiry, and refunds whose provider never answered."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import httpx
from sqlalchemy import select

from kassa.services.payments import expiry, refunds
from kassa.services.shops import shops
from kassa.store.tables import events, payments
from tests.helpers import (
    ShopSetup,
    checkout,
    create_payment,
    later,
    paid_silently_at_the_sandbox,
)
from tests.live import LiveServer


def history(server: LiveServer, payment_id: str) -> list[tuple[str, str]]:
    async def read() -> list[tuple[str, str]]:
        query = (
            select(events.c.type, events.c.source)
            .where(events.c.payment_id == payment_id)
            .order_by(events.c.seq)
        )
        async with server.ctx.db.read() as conn:
            return [(row.type, row.source) for row in await conn.execute(query)]

    return server.call(read())


def test_an_unpaid_payment_expires_after_one_last_question(
    server: LiveServer, api: httpx.Client
) -> None:
    payment = create_payment(api, expires_in=60)
    assert server.call(expiry.expire_due(server.ctx)) == 0  # not yet
    assert server.call(expiry.expire_due(later(server, timedelta(minutes=2)))) >= 1
    after = api.get(f"/v1/payments/{payment['id']}").json()
    assert after["status"] == "expired"
    assert history(server, payment["id"])[-1] in {
        ("payment.expired", "system"),
        ("payment.expired", "reconciliation"),
    }
    # Canceled at the sandbox first, so a late payer can no longer pay it.
    late = checkout(server, payment, "pay")
    assert "Payment canceled" in late.text
    assert 'value="pay"' not in late.text
    assert api.get(f"/v1/payments/{payment['id']}").json()["status"] == "expired"


def test_a_payment_paid_but_never_notified_is_found_at_expiry(
    server: LiveServer, shop: ShopSetup, api: httpx.Client
) -> None:
    payment = create_payment(api, amount=700, expires_in=60)

    paid_silently_at_the_sandbox(server, payment)
    server.call(expiry.expire_due(later(server, timedelta(minutes=2))))
    after = api.get(f"/v1/payments/{payment['id']}").json()
    assert (after["status"], after["amount_captured"]) == ("succeeded", 700)
    assert history(server, payment["id"])[-1] == ("payment.succeeded", "reconciliation")


def test_expiry_waits_while_the_provider_is_unreachable(
    server: LiveServer, shop: ShopSetup, api: httpx.Client
) -> None:
    payment = create_payment(api, expires_in=60)
    configure(server, shop, api_url="http://127.0.0.1:9/sandbox/api")
    server.call(expiry.expire_due(later(server, timedelta(minutes=2))))
    assert api.get(f"/v1/payments/{payment['id']}").json()["status"] == "pending"
    configure(server, shop, api_url="")


def test_a_provider_refusing_to_answer_never_lets_a_payment_expire(
    server: LiveServer, shop: ShopSetup, api: httpx.Client
) -> None:
    """Bad credentials (the sandbox answers 401): the payer may have paid, so Kassa waits."""
    payment = create_payment(api, expires_in=60)
    configure(server, shop, enabled="false")
    server.call(expiry.expire_due(later(server, timedelta(minutes=2))))
    assert api.get(f"/v1/payments/{payment['id']}").json()["status"] == "pending"
    configure(server, shop, enabled="true")
    server.call(expiry.expire_due(later(server, timedelta(minutes=2))))
    assert api.get(f"/v1/payments/{payment['id']}").json()["status"] == "expired"


def configure(server: LiveServer, shop: ShopSetup, **settings: str) -> None:
    server.call(
        shops.configure_provider(server.ctx, shop=shop.shop, provider="sandbox", settings=settings)
    )


def test_a_refund_left_pending_by_an_outage_is_resumed(
    server: LiveServer, shop: ShopSetup, api: httpx.Client
) -> None:
    payment: dict[str, Any] = create_payment(api, amount=5000)
    checkout(server, payment, "pay")
    configure(server, shop, api_url="http://127.0.0.1:9/sandbox/api")
    outage = api.post("/v1/refunds", json={"payment": payment["id"], "amount": 2000})
    assert outage.status_code == 502
    message = outage.json()["error"]["message"]
    assert "stays pending" in message
    (pending,) = api.get("/v1/refunds", params={"payment": payment["id"]}).json()["data"]
    assert pending["status"] == "pending"
    assert pending["id"] in message
    # The reserved amount cannot be refunded twice meanwhile.
    assert (
        api.post("/v1/refunds", json={"payment": payment["id"], "amount": 3001}).status_code == 422
    )

    configure(server, shop, api_url="")
    assert server.call(refunds.resume_pending(server.ctx)) == 0  # still the request's own
    assert server.call(refunds.resume_pending(later(server, timedelta(minutes=2)))) == 1
    done = api.get(f"/v1/refunds/{pending['id']}").json()
    assert done["status"] == "succeeded"
    assert history(server, payment["id"])[-1] == ("refund.succeeded", "reconciliation")
    after = api.get(f"/v1/payments/{payment['id']}").json()
    assert after["amount_refunded"] == 2000

    async def reserved() -> int:
        query = select(payments.c.amount_refund_pending).where(payments.c.id == payment["id"])
        async with server.ctx.db.read() as conn:
            return int((await conn.execute(query)).scalar_one())

    assert server.call(reserved()) == 0
