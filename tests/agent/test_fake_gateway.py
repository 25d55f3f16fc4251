"""The fake gateway keeps the field gateway's contract and counts charges."""

from __future__ import annotations

import re
from collections.abc import Callable

import httpx
import pytest

from kassa.devtools.fake_gateway import FISCAL_PATH, KDS_PATH
from tests.agent.helpers import Gateway

PAYMENT = {"kiosk_id": "KIOSK_001", "order_id": 42, "sum": 15000}


def test_approves_with_every_field(gateway: Gateway) -> None:
    answer = httpx.post(gateway.payment_url, json=PAYMENT)
    assert answer.status_code == 200
    body = answer.json()
    assert body["status"] == "SUCCESS"
    assert body["response_code"] == "00"
    assert body["amount"] == 15000
    assert body["currency_code"] == "643"
    assert body["order_id"] == 42
    assert re.fullmatch(r"42-\d{8}T\d{6}Z", body["session_id"])
    for name in (
        "payment_id",
        "auth_code",
        "rrn",
        "transaction_id",
        "terminal_id",
        "merchant_id",
        "response_message",
        "payment_date",
        "completed_at",
        "receipt_available",
        "customer_receipt",
        "merchant_receipt",
    ):
        assert name in body
    assert gateway.calls()[0]["path"] == "/api/v1/dcpayment/payment"
    assert gateway.calls()[0]["body"] == PAYMENT


def test_refuses_a_repeated_order_and_counts_it(gateway: Gateway) -> None:
    httpx.post(gateway.payment_url, json=PAYMENT)
    again = httpx.post(gateway.payment_url, json=PAYMENT)
    assert again.status_code == 500
    assert again.json() == {"detail": "Stage 1 failed: Payment already exists: order_id=42"}
    assert gateway.charges() == {"42": 2}


@pytest.mark.parametrize("kiosk_id", ["KIOSK 1", "kiosk/1", "", 7])
def test_validates_the_kiosk_id(gateway: Gateway, kiosk_id: object) -> None:
    answer = httpx.post(gateway.payment_url, json={**PAYMENT, "kiosk_id": kiosk_id})
    assert answer.status_code == 422
    assert answer.json()["detail"][0]["loc"] == ["body", "kiosk_id"]
    assert gateway.charges() == {}


def test_declines(gateway_factory: Callable[..., Gateway]) -> None:
    gateway = gateway_factory("decline")
    body = httpx.post(gateway.payment_url, json=PAYMENT).json()
    assert (body["status"], body["response_code"]) == ("DECLINED", "05")
    fiscal = httpx.post(gateway.url + FISCAL_PATH, json={"order_id": 42}).json()
    assert fiscal["status"] == "NOT_OK"


def test_flaky_cycles_and_charges_every_time(gateway_factory: Callable[..., Gateway]) -> None:
    gateway = gateway_factory("flaky")
    with pytest.raises(httpx.RemoteProtocolError):
        httpx.post(gateway.payment_url, json={**PAYMENT, "order_id": 1})
    assert httpx.post(gateway.payment_url, json={**PAYMENT, "order_id": 2}).status_code == 503
    garbage = httpx.post(gateway.payment_url, json={**PAYMENT, "order_id": 3})
    assert garbage.status_code == 200
    assert garbage.text.startswith("<html>")
    approved = httpx.post(gateway.payment_url, json={**PAYMENT, "order_id": 4})
    assert approved.json()["status"] == "SUCCESS"
    assert gateway.charges() == {"1": 1, "2": 1, "3": 1, "4": 1}


def test_fiscal_and_kds(gateway: Gateway) -> None:
    request = {
        "order_id": 42,
        "kiosk_id": "KIOSK_001",
        "items": [
            {
                "item_id": "1",
                "item_description": "Tea",
                "item_price_net": 100,
                "item_price_gross": 120,
                "item_vat_value": 20,
                "quantity": 1,
            }
        ],
        "total_net": 100,
        "total_vat": 20,
        "total_gross": 120,
        "payment_method": "card",
    }
    fiscal = httpx.post(gateway.url + FISCAL_PATH, json=request).json()
    assert fiscal["status"] == "OK"
    assert fiscal["fiscal_receipt"]["total_gross"] == 120
    kds = httpx.post(gateway.url + KDS_PATH, json={"order_id": 42, "items": []}).json()
    assert kds["status"] == "OK"
    assert [call["path"] for call in gateway.calls()] == [FISCAL_PATH, KDS_PATH]


def test_status_lookup(gateway_factory: Callable[..., Gateway]) -> None:
    gateway = gateway_factory("flaky")
    url = gateway.status_url.format(order_id=42)
    assert httpx.get(url).status_code == 404
    assert httpx.get(url).json() == {"detail": "Payment not found"}
    with pytest.raises(httpx.RemoteProtocolError):
        httpx.post(gateway.payment_url, json=PAYMENT)  # charged, the answer lost
    found = httpx.get(url)
    assert found.status_code == 200
    assert (found.json()["order_id"], found.json()["status"]) == (42, "SUCCESS")
    assert httpx.get(url).json() == found.json()
    assert gateway.charges() == {"42": 1}
    assert len(gateway.calls()) == 1  # lookups are neither calls nor charges


def test_status_lookup_of_a_payment_in_progress(gateway_factory: Callable[..., Gateway]) -> None:
    gateway = gateway_factory("slow", 5)
    with pytest.raises(httpx.ReadTimeout):
        httpx.post(gateway.payment_url, json=PAYMENT, timeout=0.2)
    lookup = httpx.get(gateway.status_url.format(order_id=42))
    assert (lookup.status_code, lookup.json()["status"]) == (202, "IN_PROGRESS")
