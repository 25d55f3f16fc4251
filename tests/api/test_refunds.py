"""`/v1/refunds`: several partial refunds, never more than captured."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.helpers import checkout, create_payment
from tests.live import LiveServer


@pytest.fixture
def paid(api: httpx.Client, server: LiveServer) -> dict[str, Any]:
    payment = create_payment(api, amount=10000)
    checkout(server, payment, "pay")
    return payment


def refund(api: httpx.Client, payment: dict[str, Any], **fields: Any) -> httpx.Response:
    return api.post("/v1/refunds", json={"payment": payment["id"], **fields})


def test_partial_refunds_then_full(api: httpx.Client, paid: dict[str, Any]) -> None:
    first = refund(api, paid, amount=3000, reason="damaged")
    assert first.status_code == 201, first.text
    body = first.json()
    assert body["id"].startswith("re_")
    assert body["object"] == "refund"
    assert (body["payment"], body["status"], body["amount"]) == (paid["id"], "succeeded", 3000)
    assert body["reason"] == "damaged"
    assert body["provider_refund_id"].startswith("sbxr_")
    payment = api.get(f"/v1/payments/{paid['id']}").json()
    assert (payment["status"], payment["amount_refunded"]) == ("succeeded", 3000)

    rest = refund(api, paid)  # the default amount is everything left
    assert rest.json()["amount"] == 7000
    payment = api.get(f"/v1/payments/{paid['id']}").json()
    assert (payment["status"], payment["amount_refunded"]) == ("refunded", 10000)

    types = [
        e["type"] for e in api.get("/v1/events", params={"payment": paid["id"]}).json()["data"]
    ]
    assert types == [
        "payment.refunded",
        "refund.succeeded",
        "refund.created",
        "refund.succeeded",
        "refund.created",
        "payment.succeeded",
        "payment.created",
    ]


def test_refund_more_than_left_is_refused(api: httpx.Client, paid: dict[str, Any]) -> None:
    refund(api, paid, amount=6000)
    response = refund(api, paid, amount=4001)
    assert response.status_code == 422
    error = response.json()["error"]
    assert (error["code"], error["param"]) == ("amount_invalid", "amount")
    assert "4000" in error["message"]
    assert api.get(f"/v1/payments/{paid['id']}").json()["amount_refunded"] == 6000


def test_refund_of_an_unpaid_payment_is_refused(api: httpx.Client) -> None:
    payment = create_payment(api)
    response = refund(api, payment)
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "payment_invalid_state"
    assert api.get("/v1/refunds", params={"payment": payment["id"]}).json()["data"] == []


def test_refund_of_a_partly_captured_payment_is_limited_to_the_capture(
    api: httpx.Client, server: LiveServer
) -> None:
    payment = create_payment(api, amount=1000, capture=False)
    checkout(server, payment, "authorize")
    api.post(f"/v1/payments/{payment['id']}/capture", json={"amount": 400})
    assert refund(api, payment, amount=401).status_code == 422
    assert refund(api, payment).json()["amount"] == 400
    assert api.get(f"/v1/payments/{payment['id']}").json()["status"] == "refunded"


def test_get_and_list_refunds(api: httpx.Client, paid: dict[str, Any]) -> None:
    ids = [refund(api, paid, amount=1000).json()["id"] for _ in range(3)]
    assert api.get(f"/v1/refunds/{ids[0]}").json()["amount"] == 1000
    listed = api.get("/v1/refunds", params={"payment": paid["id"], "limit": 2}).json()
    assert [r["id"] for r in listed["data"]] == ids[::-1][:2]
    assert listed["has_more"] is True
    assert api.get("/v1/refunds/re_nope").status_code == 404


@pytest.mark.parametrize(
    ("body", "code", "param"),
    [
        ({}, "parameter_missing", "payment"),
        ({"payment": "pay_nope"}, "resource_missing", "payment"),
        ({"payment": "pay_x", "amount": 0}, "parameter_invalid", "amount"),
        ({"payment": "pay_x", "amount": "5"}, "parameter_invalid", "amount"),
    ],
)
def test_bad_refund_requests(
    api: httpx.Client, body: dict[str, Any], code: str, param: str
) -> None:
    response = api.post("/v1/refunds", json=body)
    assert response.status_code in (404, 422)
    error = response.json()["error"]
    assert (error["code"], error["param"]) == (code, param)
