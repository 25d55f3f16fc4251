"""The sandbox acquirer's own API (the provider side Kassa's sandbox provider talks to)."""

from __future__ import annotations

import json

import httpx
import pytest

from kassa.providers.sandbox import ApiAnswer, ApiRequest, basic_authorization
from kassa.services.payments import sandbox_api
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


def test_in_process_calls_get_the_answers_http_calls_get(
    server: LiveServer, shop: ShopSetup
) -> None:
    """`kassa serve`'s provider reaches the acquirer in-process (`sandbox_api.in_process`), a
    CLI command's over HTTP: both are answered by the one definition of the API, so every
    call, errors and refused credentials included, gets the same answer either way (the
    acquirer is idempotent, so a call repeated on the second path answers as on the
    first)."""
    in_process = sandbox_api.in_process(lambda: server.ctx)

    async def ask(call: ApiRequest) -> ApiAnswer:
        return await in_process(call)

    good, wrong = (shop.shop.id, shop.secret), (shop.shop.id, "wrong")
    created = httpx.post(f"{server.url}/sandbox/api/payments", json=ORDER, auth=good).json()
    paid = httpx.post(
        f"{server.url}/sandbox/api/payments",
        json={**ORDER, "order_id": "order-paid"},
        auth=good,
    ).json()
    httpx.post(paid["checkout_url"], data={"action": "pay"})
    refund = json.dumps({"payment_id": paid["id"], "amount": {"value": "1.00", "currency": "RUB"}})
    calls: list[tuple[str, str, tuple[str, str] | None, str | None, bytes]] = [
        ("POST", "/payments", None, None, b"{}"),
        ("POST", "/payments", wrong, None, b"{}"),
        ("POST", "/payments", ("shop_nope", shop.secret), None, b"{}"),
        ("POST", "/payments", good, None, b"not json"),
        ("POST", "/payments", good, None, json.dumps({**ORDER, "amount": "10"}).encode()),
        ("POST", "/payments", good, None, json.dumps({"amount": ORDER["amount"]}).encode()),
        ("POST", "/payments", good, "k", json.dumps(ORDER).encode()),
        ("GET", f"/payments/{created['id']}", good, None, b""),
        ("GET", "/payments/sbx_nope", good, None, b""),
        ("GET", f"/payments/{created['id']}", wrong, None, b""),
        ("POST", f"/payments/{created['id']}/capture", good, None, b""),
        ("POST", f"/payments/{created['id']}/cancel", good, None, b""),
        ("POST", "/refunds", good, None, refund.encode()),
        ("POST", "/refunds", good, "r", refund.encode()),
        ("GET", "/payments", good, None, b""),
        ("GET", "/nothing/here", good, None, b""),
    ]
    statuses = set()
    for method, path, auth, key, body in calls:
        headers = {"Idempotence-Key": key} if key else {}
        over_http = httpx.request(
            method, f"{server.url}/sandbox/api{path}", auth=auth, headers=headers, content=body
        )
        authorization = basic_authorization(*auth) if auth else None
        answered = server.call(ask(ApiRequest(method, path, authorization, key, body)))
        assert over_http.headers["content-type"] == "application/json"
        assert (answered.status, json.loads(answered.body)) == (
            over_http.status_code,
            over_http.json(),
        ), (method, path)
        statuses.add(over_http.status_code)
    assert statuses == {200, 201, 400, 401, 404, 405, 409}
