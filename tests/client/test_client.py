"""The Python client against a real Kassa on loopback."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from kassa.client import (
    APIConnectionError,
    AsyncKassa,
    AuthenticationError,
    ConflictError,
    InvalidRequestError,
    Kassa,
    NotFoundError,
)
from tests.helpers import ShopSetup, checkout, paid_silently_at_the_sandbox
from tests.live import LiveApp, LiveServer, free_socket


@pytest.fixture
def kassa(server: LiveServer, shop: ShopSetup) -> Iterator[Kassa]:
    with Kassa(shop.key, server.url) as client:
        yield client


def test_a_payment_from_creation_to_refund(server: LiveServer, kassa: Kassa) -> None:
    payment = kassa.payments.create(amount=150000, currency="RUB", description="Order 7")
    assert (payment.status, payment.amount, payment.test) == ("pending", 150000, True)
    assert payment.confirmation_url
    checkout(server, payment.raw, "pay")
    paid = kassa.payments.get(payment.id)
    assert (paid.status, paid.amount_captured) == ("succeeded", 150000)
    refund = kassa.refunds.create(payment.id, 50000, reason="requested_by_customer")
    assert (refund.status, refund.amount, refund.payment) == ("succeeded", 50000, payment.id)
    assert kassa.refunds.get(refund.id).id == refund.id
    assert [r.id for r in kassa.refunds.list(payment=payment.id).data] == [refund.id]
    assert kassa.payments.get(payment.id).amount_refunded == 50000


def test_two_stage_capture_and_cancel(server: LiveServer, kassa: Kassa) -> None:
    held = kassa.payments.create(amount=1000, currency="RUB", capture=False)
    checkout(server, held.raw, "authorize")
    captured = kassa.payments.capture(held.id, 600)
    assert (captured.status, captured.amount_captured) == ("succeeded", 600)
    other = kassa.payments.create(amount=1000, currency="RUB")
    assert kassa.payments.cancel(other.id).status == "canceled"


def test_refresh_finds_a_payment_whose_notification_was_lost(
    server: LiveServer, kassa: Kassa
) -> None:
    payment = kassa.payments.create(amount=700, currency="RUB")
    paid_silently_at_the_sandbox(server, payment.raw)
    assert kassa.payments.refresh(payment.id).status == "succeeded"


def test_lists_and_every_event(kassa: Kassa) -> None:
    created = [kassa.payments.create(amount=100 + n, currency="RUB") for n in range(5)]
    page = kassa.payments.list(limit=2)
    assert [p.id for p in page.data] == [created[4].id, created[3].id]
    assert page.has_more
    events = list(kassa.events.iterate(limit=2, type="payment.*"))
    assert [event.object["id"] for event in events] == [p.id for p in reversed(created)]
    assert {event.type for event in events} == {"payment.created"}


def test_errors_carry_the_api_code(server: LiveServer, kassa: Kassa) -> None:
    with pytest.raises(NotFoundError) as missing:
        kassa.payments.get("pay_00000000000000000000000000")
    assert missing.value.code == "resource_missing"
    with pytest.raises(InvalidRequestError) as invalid:
        kassa.payments.create(amount=100, currency="XXX")
    assert (invalid.value.status_code, invalid.value.param) == (422, "currency")
    payment = kassa.payments.create(amount=100, currency="RUB")
    with pytest.raises(ConflictError) as conflict:
        kassa.payments.capture(payment.id)
    assert conflict.value.code == "payment_invalid_state"
    with Kassa("sk_test_nope", server.url) as stranger, pytest.raises(AuthenticationError):
        stranger.payments.list()


def test_the_same_idempotency_key_gives_the_same_payment(kassa: Kassa) -> None:
    first = kassa.payments.create(amount=100, currency="RUB", idempotency_key="order-42")
    again = kassa.payments.create(amount=100, currency="RUB", idempotency_key="order-42")
    assert first.id == again.id
    with pytest.raises(ConflictError) as reused:
        kassa.payments.create(amount=999, currency="RUB", idempotency_key="order-42")
    assert reused.value.code == "idempotency_key_reused"


class LosesFirstAnswer:
    """A proxy in front of Kassa that forwards every request but answers the first POST with
    a 502, as a flaky link would after Kassa already did the work."""

    def __init__(self, upstream: str) -> None:
        self.upstream = upstream
        self.keys: list[str | None] = []
        self.app = Starlette(routes=[Route("/{path:path}", self.forward, methods=["GET", "POST"])])

    async def forward(self, request: Request) -> Response:
        async with httpx.AsyncClient(base_url=self.upstream) as http:
            answer = await http.request(
                request.method,
                request.url.path,
                params=request.query_params,
                content=await request.body(),
                headers={k: v for k, v in request.headers.items() if k != "host"},
            )
        if request.method == "POST":
            self.keys.append(request.headers.get("idempotency-key"))
            if len(self.keys) == 1:
                return Response(b"bad gateway", 502)
        return Response(answer.content, answer.status_code, media_type="application/json")


def test_a_lost_answer_is_retried_with_the_same_key_and_one_payment(
    server: LiveServer, shop: ShopSetup
) -> None:
    proxy = LosesFirstAnswer(server.url)
    live = LiveApp(proxy.app).start()
    try:
        with Kassa(shop.key, live.url, max_retries=2) as client:
            payment = client.payments.create(amount=4200, currency="RUB")
            listed = client.payments.list(limit=10).data
    finally:
        live.stop()
    assert len(proxy.keys) == 2
    assert proxy.keys[0] is not None
    assert proxy.keys[0] == proxy.keys[1]
    assert [p.id for p in listed] == [payment.id]


def test_an_unreachable_kassa_is_a_connection_error(shop: ShopSetup) -> None:
    with free_socket() as sock:
        url = f"http://127.0.0.1:{sock.getsockname()[1]}"
        with Kassa(shop.key, url, max_retries=1) as client, pytest.raises(APIConnectionError):
            client.payments.list()


def test_the_async_client(server: LiveServer, shop: ShopSetup) -> None:
    async def scenario() -> tuple[str, list[str]]:
        async with AsyncKassa(shop.key, server.url) as client:
            payment = await client.payments.create(amount=300, currency="RUB", customer="c-1")
            await client.payments.cancel(payment.id)
            types = [event.type async for event in client.events.iterate(payment=payment.id)]
            return (await client.payments.get(payment.id)).status, types

    status, types = asyncio.run(scenario())
    assert status == "canceled"
    assert types == ["payment.canceled", "payment.created"]
