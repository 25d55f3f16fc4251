"""`POST /v1/payments` with the fiscal receipt's fields: items, customer_email, customer_phone."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from kassa.client import Kassa, ReceiptItem
from tests.helpers import ShopSetup, create_payment
from tests.live import LiveServer

LINES = [
    {"description": "Coffee", "quantity": 2, "price": 25000, "vat_code": 4},
    {"description": "Beans, kg", "quantity": "0.5", "price": 200000},
]


def test_the_fields_are_kept_and_shown(api: httpx.Client) -> None:
    payment = create_payment(
        api, customer_email="buyer@example.ru", customer_phone="+7 900 123-45-67", items=LINES
    )
    assert payment["customer_email"] == "buyer@example.ru"
    assert payment["customer_phone"] == "+79001234567"
    assert payment["items"] == [
        {
            "description": "Coffee",
            "quantity": "2",
            "price": 25000,
            "vat_code": 4,
            "payment_subject": None,
            "payment_mode": None,
        },
        {
            "description": "Beans, kg",
            "quantity": "0.5",
            "price": 200000,
            "vat_code": None,
            "payment_subject": None,
            "payment_mode": None,
        },
    ]
    assert payment["receipt_status"] is None
    assert api.get(f"/v1/payments/{payment['id']}").json() == payment


def test_without_them_a_payment_is_as_before(api: httpx.Client) -> None:
    payment = create_payment(api)
    assert (payment["customer_email"], payment["customer_phone"]) == (None, None)
    assert payment["items"] == []


@pytest.mark.parametrize(
    ("fields", "param", "says"),
    [
        ({"items": [{**LINES[0], "price": 70000}]}, "items", "payment's amount 150000"),
        ({"items": [{"description": "Tea", "quantity": "0.333", "price": 100}]}, None, "whole"),
        ({"items": [{"description": "Tea", "quantity": 1.5, "price": 100000}]}, None, None),
        ({"items": []}, "items", None),
        ({"customer_email": "not-an-address"}, "customer_email", "e-mail"),
        ({"customer_phone": "12"}, "customer_phone", "international"),
    ],
)
def test_bad_fields_are_refused_before_the_provider(
    api: httpx.Client, fields: dict[str, Any], param: str | None, says: str | None
) -> None:
    before = api.get("/v1/payments").json()["data"]
    response = api.post("/v1/payments", json={"amount": 150000, "currency": "RUB", **fields})
    assert response.status_code == 422, response.text
    error = response.json()["error"]
    assert error["code"] == "parameter_invalid"
    if param is not None:
        assert error["param"] == param
    if says is not None:
        assert says in error["message"]
    assert api.get("/v1/payments").json()["data"] == before


def test_the_client_sends_and_reads_them(server: LiveServer, shop: ShopSetup) -> None:
    with Kassa(shop.key, base_url=server.url) as kassa:
        payment = kassa.payments.create(
            amount=150000,
            currency="RUB",
            customer_email="buyer@example.ru",
            items=[ReceiptItem("Coffee", 2, 25000), LINES[1]],
        )
    assert payment.customer_email == "buyer@example.ru"
    assert payment.items[0] == ReceiptItem("Coffee", 2, 25000)
    assert str(payment.items[1].quantity) == "0.5"
    assert payment.receipt_status is None
