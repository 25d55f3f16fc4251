"""YooKassa's fiscal receipts (54-FZ) end to end: a shop's fiscal settings and a payment's
lines → the `receipt` on the create, a partial capture and a refund (checked by the emulator
as YooKassa documents), and `receipt_registration` back on the payment and refund."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import httpx
import pytest

from kassa.domain.receipts import FiscalSettings
from kassa.services.shops import shops
from tests.emulators.yookassa import YooKassaEmulator, running
from tests.helpers import ProviderShop, make_provider_shop
from tests.live import LiveServer

FISCAL = FiscalSettings(tax_system_code=2, vat_code=1, payment_subject="service")
LINES = [
    {"description": "Coffee", "quantity": 2, "price": 2500, "vat_code": 4},
    {"description": "Beans, kg", "quantity": "0.25", "price": 20000, "payment_mode": "advance"},
]


@pytest.fixture(scope="module")
def yookassa() -> Iterator[YooKassaEmulator]:
    with running() as emulator:
        yield emulator


@pytest.fixture(scope="module")
def server(database_url: str) -> Iterator[LiveServer]:
    live = LiveServer(database_url, trusted_proxies=["127.0.0.1"]).start()
    try:
        yield live
    finally:
        live.stop()


def connect(
    server: LiveServer,
    yookassa: YooKassaEmulator,
    *,
    fiscal: FiscalSettings | None = FISCAL,
    receipts_required_there: bool = False,
) -> ProviderShop:
    """A Kassa shop with `fiscal` settings and a YooKassa account on a new emulated shop."""
    shop_id, secret_key = yookassa.add_shop(receipts_required=receipts_required_there)
    settings = {"shop_id": shop_id, "secret_key": secret_key, "api_url": f"{yookassa.base_url}/v3"}
    shop = make_provider_shop(server, "yookassa", settings)
    server.call(shops.set_fiscal(server.ctx, shop=shop.shop, fiscal=fiscal))
    return shop


def sent_to(yookassa: YooKassaEmulator, shop: ProviderShop, path_end: str) -> list[Any]:
    shop_id = shop.account.credentials["shop_id"]
    return [r.body for r in yookassa.received if r.shop_id == shop_id and r.path.endswith(path_end)]


def test_the_receipt_goes_with_the_payment_and_its_refund(
    server: LiveServer, yookassa: YooKassaEmulator
) -> None:
    shop = connect(server, yookassa)
    with shop.api(server) as api:
        created = api.post(
            "/v1/payments",
            json={
                "amount": 10000,
                "currency": "RUB",
                "customer_email": "buyer@example.ru",
                "customer_phone": "+7 900 123-45-67",
                "items": LINES,
            },
        )
        assert created.status_code == 201, created.text
        payment = created.json()
        (body,) = sent_to(yookassa, shop, "/payments")
        assert body["receipt"] == {
            "customer": {"email": "buyer@example.ru", "phone": "79001234567"},
            "items": [
                {
                    "description": "Coffee",
                    "quantity": 2,
                    "amount": {"value": "25.00", "currency": "RUB"},
                    "vat_code": 4,
                    "payment_subject": "service",
                    "payment_mode": "full_payment",
                },
                {
                    "description": "Beans, kg",
                    "quantity": Decimal("0.25"),
                    "amount": {"value": "200.00", "currency": "RUB"},
                    "vat_code": 1,
                    "payment_subject": "service",
                    "payment_mode": "advance",
                },
            ],
            "tax_system_code": 2,
        }
        ref = payment["provider_payment_id"]
        yookassa.pay(ref)
        yookassa.notify(server.url, shop.name, "payment.succeeded", ref)
        paid = api.get(f"/v1/payments/{payment['id']}").json()
        assert (paid["status"], paid["receipt_status"]) == ("succeeded", "succeeded")

        refund = api.post("/v1/refunds", json={"payment": payment["id"], "amount": 3000})
        assert refund.status_code == 201, refund.text
        assert refund.json()["receipt_status"] == "succeeded"
        (refund_body,) = sent_to(yookassa, shop, "/refunds")
        assert refund_body["receipt"]["items"] == [
            {
                "description": "Coffee",
                "quantity": 1,
                "amount": {"value": "30.00", "currency": "RUB"},
                "vat_code": 4,
                "payment_subject": "service",
                "payment_mode": "full_payment",
            }
        ]
        rest = api.post("/v1/refunds", json={"payment": payment["id"]})
        assert rest.status_code == 201, rest.text
        assert sent_to(yookassa, shop, "/refunds")[1]["receipt"]["items"][0]["amount"] == {
            "value": "70.00",
            "currency": "RUB",
        }


def test_without_lines_the_receipt_has_one_of_the_description(
    server: LiveServer, yookassa: YooKassaEmulator
) -> None:
    shop = connect(server, yookassa)
    with shop.api(server) as api:
        created = api.post(
            "/v1/payments",
            json={
                "amount": 15050,
                "currency": "RUB",
                "description": "Plan: 1 month",
                "customer_phone": "79001234567",
                "capture": False,
            },
        )
        assert created.status_code == 201, created.text
        (body,) = sent_to(yookassa, shop, "/payments")
        assert body["receipt"]["customer"] == {"phone": "79001234567"}
        assert body["receipt"]["items"] == [
            {
                "description": "Plan: 1 month",
                "quantity": 1,
                "amount": {"value": "150.50", "currency": "RUB"},
                "vat_code": 1,
                "payment_subject": "service",
                "payment_mode": "full_payment",
            }
        ]
        payment = created.json()
        yookassa.pay(payment["provider_payment_id"])
        yookassa.notify(
            server.url, shop.name, "payment.waiting_for_capture", payment["provider_payment_id"]
        )
        captured = api.post(f"/v1/payments/{payment['id']}/capture", json={"amount": 10000})
        assert captured.status_code == 200, captured.text
        (capture,) = sent_to(yookassa, shop, "/capture")
        assert capture["receipt"]["items"][0]["amount"] == {"value": "100.00", "currency": "RUB"}


def test_a_shop_that_requires_receipts_refuses_a_payment_without_a_contact(
    server: LiveServer, yookassa: YooKassaEmulator
) -> None:
    required = FiscalSettings(tax_system_code=1, vat_code=4, receipts_required=True)
    shop = connect(server, yookassa, fiscal=required)
    with shop.api(server) as api:
        refused = api.post("/v1/payments", json={"amount": 10000, "currency": "RUB"})
        assert refused.status_code == 422
        assert refused.json()["error"]["param"] == "customer_email"
        assert "fiscal receipt" in refused.json()["error"]["message"]
    assert sent_to(yookassa, shop, "/payments") == []


def test_without_a_contact_or_settings_no_receipt_is_sent(
    server: LiveServer, yookassa: YooKassaEmulator
) -> None:
    for fiscal, fields in ((FISCAL, {}), (None, {"customer_email": "a@example.ru"})):
        shop = connect(server, yookassa, fiscal=fiscal)
        with shop.api(server) as api:
            created = api.post("/v1/payments", json={"amount": 100, "currency": "RUB", **fields})
            assert created.status_code == 201, created.text
        (body,) = sent_to(yookassa, shop, "/payments")
        assert "receipt" not in body


def test_yookassa_refuses_a_payment_without_the_receipt_it_requires(
    server: LiveServer, yookassa: YooKassaEmulator
) -> None:
    shop = connect(server, yookassa, fiscal=None, receipts_required_there=True)
    with shop.api(server) as api:
        refused = api.post("/v1/payments", json={"amount": 100, "currency": "RUB"})
    assert refused.status_code == 402
    assert "Receipt is missing" in refused.json()["error"]["message"]


def test_the_emulator_refuses_a_receipt_that_does_not_add_up(yookassa: YooKassaEmulator) -> None:
    shop_id, secret_key = yookassa.add_shop()
    receipt: dict[str, Any] = {
        "customer": {"email": "a@example.ru"},
        "items": [
            {
                "description": "A",
                "quantity": 1,
                "amount": {"value": "1.00", "currency": "RUB"},
                "vat_code": 1,
            }
        ],
    }
    answer = httpx.post(
        f"{yookassa.base_url}/v3/payments",
        auth=(shop_id, secret_key),
        headers={"Idempotence-Key": "k1"},
        json={
            "amount": {"value": "2.00", "currency": "RUB"},
            "capture": True,
            "confirmation": {"type": "redirect", "return_url": "https://x.example/"},
            "receipt": receipt,
        },
    )
    assert answer.status_code == 400
    assert answer.json()["parameter"] == "receipt.items"
