"""The sandbox acquirer's own API (the provider side Kassa's sandbox provider talks to)."""

from __future__ import annotations

import httpx
import pytest

from tests.helpers import ShopSetup, make_shop
from tests.live import LiveServer


@pytest.fixture
def acquirer(server: LiveServer, shop: ShopSetup) -> httpx.Client:
    return httpx.Client(
        base_url=f"{server.url}/sandbox/api", auth=(shop.shop.id, shop.secret), timeout=30
    )


ORDER = {"order_id": "order-1", "amount": {"value": "10.00", "currency": "RUB"}, "capture": True}


def test_credentials_are_required(server: LiveServer, shop: ShopSetup) -> None:
    for auth in (None, (shop.shop.id, "wrong"), ("shop_nope", shop.secret)):
        response = httpx.post(f"{server.url}/sandbox/api/payments", json=ORDER, auth=auth)
        assert response.status_code == 401
        assert response.json()["error"]["code"] == "unauthorized"


def test_create_is_idempotent_by_order(acquirer: httpx.Client) -> None:
    first = acquirer.post("/payments", json=ORDER)
    assert first.status_code == 201
    again = acquirer.post(
        "/payments", json={**ORDER, "amount": {"value": "99.00", "currency": "RUB"}}
    )
    assert again.json()["id"] == first.json()["id"]
    assert again.json()["amount"] == {"value": "10.00", "currency": "RUB"}
    assert acquirer.get(f"/payments/{first.json()['id']}").json()["status"] == "pending"


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({**ORDER, "expires_at": "tomorrow"}, "invalid_request"),
        ({**ORDER, "expires_at": "2030-01-01T00:00:00"}, "invalid_request"),
        ({**ORDER, "amount": {"value": "1.001", "currency": "RUB"}}, "invalid_amount"),
        ({**ORDER, "amount": {"value": 10, "currency": "RUB"}}, "invalid_amount"),
        ({"amount": ORDER["amount"]}, "invalid_request"),
    ],
)
def test_bad_creates_are_400(acquirer: httpx.Client, body: dict[str, object], code: str) -> None:
    response = acquirer.post("/payments", json=body)
    assert response.status_code == 400
    assert response.json()["error"]["code"] == code


def test_refunds_need_a_key_and_are_idempotent_by_it(
    acquirer: httpx.Client, server: LiveServer
) -> None:
    created = acquirer.post("/payments", json=ORDER).json()
    httpx.post(created["checkout_url"], data={"action": "pay"})
    body = {"payment_id": created["id"], "amount": {"value": "4.00", "currency": "RUB"}}
    assert acquirer.post("/refunds", json=body).status_code == 400
    first = acquirer.post("/refunds", json=body, headers={"Idempotence-Key": "r1"})
    second = acquirer.post("/refunds", json=body, headers={"Idempotence-Key": "r1"})
    assert first.status_code == second.status_code == 201
    assert first.json()["id"] == second.json()["id"]
    too_much = {**body, "amount": {"value": "6.01", "currency": "RUB"}}
    refused = acquirer.post("/refunds", json=too_much, headers={"Idempotence-Key": "r2"})
    assert refused.json()["error"]["code"] == "amount_too_large"
    assert acquirer.get(f"/payments/{created['id']}").json()["amount_refunded"]["value"] == "4.00"


def test_other_shops_payments_are_not_found(acquirer: httpx.Client, server: LiveServer) -> None:

    other = make_shop(server)
    theirs = httpx.post(
        f"{server.url}/sandbox/api/payments", json=ORDER, auth=(other.shop.id, other.secret)
    ).json()
    assert acquirer.get(f"/payments/{theirs['id']}").status_code == 404
