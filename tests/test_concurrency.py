"""Concurrent duplicates of anything have exactly one effect (on a real server, both databases)."""

from __future__ import annotations

import asyncio
import json
from collections import Counter
from typing import Any

import httpx
from sqlalchemy import func, select

from kassa.providers.sandbox import SIGNATURE_HEADER, sign
from kassa.providers.wire import value_amount
from kassa.store.tables import payments, sandbox_payments
from tests.helpers import ShopSetup, checkout, count_events, create_payment, sandbox_notification
from tests.live import LiveServer


async def fire(requests: list[tuple[str, str, dict[str, Any]]]) -> list[httpx.Response]:
    """Send every request at once (one connection each) and return the answers in order."""
    limits = httpx.Limits(max_connections=len(requests))
    async with httpx.AsyncClient(timeout=60, limits=limits) as client:
        return list(
            await asyncio.gather(
                *(client.request(method, url, **kwargs) for method, url, kwargs in requests)
            )
        )


def notify_together(
    server: LiveServer, shop: ShopSetup, signed: list[tuple[bytes, dict[str, str]]]
) -> list[httpx.Response]:
    """POST every signed notification to the shop's sandbox hook at once."""
    url = f"{server.url}/hooks/sandbox/{shop.name}"
    return asyncio.run(fire([("POST", url, {"content": b, "headers": h}) for b, h in signed]))


def test_fifty_identical_notifications_make_one_transition(
    server: LiveServer, shop: ShopSetup, api: httpx.Client
) -> None:
    payment = create_payment(api)
    answers = notify_together(
        server, shop, [sandbox_notification(shop.secret, payment, "succeeded")] * 50
    )
    assert {a.status_code for a in answers} == {200}
    verdicts = Counter(a.json()["verdict"] for a in answers)
    assert verdicts == {"accepted": 1, "duplicate": 49}
    assert count_events(server, payment["id"], "payment.succeeded") == 1
    assert api.get(f"/v1/payments/{payment['id']}").json()["status"] == "succeeded"


def test_fifty_distinct_notifications_of_one_outcome_make_one_transition(
    server: LiveServer, shop: ShopSetup, api: httpx.Client
) -> None:
    payment = create_payment(api)
    signed = [sandbox_notification(shop.secret, payment, "succeeded") for _ in range(50)]
    answers = notify_together(server, shop, signed)
    assert {a.status_code for a in answers} == {200}
    messages = Counter(a.json()["message"] for a in answers)
    assert messages == {"pending → succeeded": 1, "no change: already succeeded": 49}
    assert count_events(server, payment["id"], "payment.succeeded") == 1


def test_conflicting_outcomes_racing_leave_one_winner(
    server: LiveServer, shop: ShopSetup, api: httpx.Client
) -> None:
    payment = create_payment(api)
    outcomes = ["succeeded", "failed", "canceled", "expired"] * 5
    signed = [sandbox_notification(shop.secret, payment, status) for status in outcomes]
    answers = notify_together(server, shop, signed)
    assert {a.status_code for a in answers} == {200}
    winners = [a.json()["message"] for a in answers if a.json()["message"].startswith("pending →")]
    assert len(winners) == 1
    final = api.get(f"/v1/payments/{payment['id']}").json()["status"]
    assert winners[0] == f"pending → {final}"
    history = [
        e["type"] for e in api.get("/v1/events", params={"payment": payment["id"]}).json()["data"]
    ]
    assert history == [f"payment.{final}", "payment.created"]


def test_twenty_posts_with_one_idempotency_key_make_one_payment(
    server: LiveServer, shop: ShopSetup, api: httpx.Client
) -> None:
    headers = {"Authorization": f"Bearer {shop.key}", "Idempotency-Key": "order-42"}
    body = {"amount": 4200, "currency": "RUB", "description": "order 42"}
    url = f"{server.url}/v1/payments"
    answers = asyncio.run(fire([("POST", url, {"json": body, "headers": headers})] * 20))
    assert {a.status_code for a in answers} == {201}
    assert len({a.json()["id"] for a in answers}) == 1
    assert sum(a.headers.get("Idempotent-Replayed") == "true" for a in answers) == 19
    assert len(api.get("/v1/payments").json()["data"]) == 1

    async def at_the_sandbox() -> int:
        query = select(func.count()).where(sandbox_payments.c.shop_id == shop.shop.id)
        async with server.ctx.db.read() as conn:
            return int((await conn.execute(query)).scalar_one())

    assert server.call(at_the_sandbox()) == 1


def test_concurrent_refunds_never_exceed_the_captured_amount(
    server: LiveServer, shop: ShopSetup, api: httpx.Client
) -> None:
    payment = create_payment(api, amount=10000)
    checkout(server, payment, "pay")
    headers = {"Authorization": f"Bearer {shop.key}"}
    body = {"payment": payment["id"], "amount": 3000}
    answers = asyncio.run(
        fire([("POST", f"{server.url}/v1/refunds", {"json": body, "headers": headers})] * 10)
    )
    statuses = Counter(a.status_code for a in answers)
    assert statuses == {201: 3, 422: 7}, [a.text for a in answers]
    after = api.get(f"/v1/payments/{payment['id']}").json()
    assert (after["status"], after["amount_refunded"]) == ("succeeded", 9000)

    async def stored_amounts() -> tuple[int, int]:
        query = select(payments.c.amount_refunded, payments.c.amount_refund_pending).where(
            payments.c.id == payment["id"]
        )
        async with server.ctx.db.read() as conn:
            refunded, reserved = (await conn.execute(query)).one()
            return int(refunded), int(reserved)

    assert server.call(stored_amounts()) == (9000, 0)


def test_concurrent_captures_capture_once(
    server: LiveServer, shop: ShopSetup, api: httpx.Client
) -> None:
    payment = create_payment(api, amount=5000, capture=False)
    checkout(server, payment, "authorize")
    headers = {"Authorization": f"Bearer {shop.key}"}
    url = f"{server.url}/v1/payments/{payment['id']}/capture"
    answers = asyncio.run(
        fire([("POST", url, {"json": {"amount": 3000}, "headers": headers})] * 10)
    )
    assert all(a.status_code in (200, 409) for a in answers), [a.text for a in answers]
    assert any(a.status_code == 200 for a in answers)
    assert count_events(server, payment["id"], "payment.succeeded") == 1
    assert api.get(f"/v1/payments/{payment['id']}").json()["amount_captured"] == 3000


def test_notices_of_one_provider_refund_arriving_together_record_it_once(
    server: LiveServer, shop: ShopSetup, api: httpx.Client
) -> None:
    """A refund made in the provider's dashboard, reported by several notices at once."""
    payment = create_payment(api, amount=10000)
    checkout(server, payment, "pay")
    signed = []
    for i in range(10):
        body = json.dumps(
            {
                "id": f"evt-{i}",
                "type": "refund.succeeded",
                "created_at": "2026-11-22T00:00:00Z",
                "object": {
                    "id": "sbxr_dashboard",
                    "payment_id": payment["provider_payment_id"],
                    "status": "succeeded",
                    "amount": value_amount(1000, "RUB"),
                },
            }
        ).encode()
        headers = {"content-type": "application/json", SIGNATURE_HEADER: sign(shop.secret, body)}
        signed.append((body, headers))
    answers = notify_together(server, shop, signed)
    messages = Counter(a.json()["message"] for a in answers)
    assert messages.pop("recorded a refund made at the provider") == 1
    # The others found it recorded, or lost the race to record it.
    assert set(messages) <= {
        "no change: refund already succeeded",
        "no change: the refund is recorded already",
    }, messages
    (refund,) = api.get("/v1/refunds", params={"payment": payment["id"]}).json()["data"]
    assert (refund["provider_refund_id"], refund["amount"]) == ("sbxr_dashboard", 1000)
    assert api.get(f"/v1/payments/{payment['id']}").json()["amount_refunded"] == 1000
