"""`/v1/payments`: create, read, list, capture, cancel — and every error they give."""

from __future__ import annotations

import httpx
import pytest

from tests.helpers import ShopSetup, checkout, create_payment, make_shop
from tests.live import LiveServer


def test_create_returns_the_payment_object(api: httpx.Client, server: LiveServer) -> None:
    payment = create_payment(
        api,
        amount=150000,
        currency="rub",
        description="Order 42",
        customer="user-7",
        metadata={"order": "42"},
        return_url="https://shop.example/done",
    )
    assert payment["id"].startswith("pay_")
    assert payment["object"] == "payment"
    assert payment["status"] == "pending"
    assert (payment["amount"], payment["currency"]) == (150000, "RUB")
    assert payment["amount_captured"] == payment["amount_refunded"] == 0
    assert payment["provider"] == "sandbox"
    assert payment["provider_payment_id"].startswith("sbx_")
    assert payment["confirmation"] == {
        "type": "redirect",
        "url": f"{server.url}/sandbox/checkout/{payment['provider_payment_id']}",
    }
    assert payment["customer"] == "user-7"
    assert payment["metadata"] == {"order": "42"}
    assert payment["test"] is True
    assert payment["created_at"].endswith("Z")
    assert payment["expires_at"] > payment["created_at"]
    assert api.get(f"/v1/payments/{payment['id']}").json() == payment


def test_pay_on_checkout_page_makes_the_payment_succeed(
    api: httpx.Client, server: LiveServer
) -> None:
    payment = create_payment(api)
    page = checkout(server, payment, "pay")
    assert page.status_code == 200
    assert "Payment succeeded" in page.text
    paid = api.get(f"/v1/payments/{payment['id']}").json()
    assert paid["status"] == "succeeded"
    assert paid["amount_captured"] == 150000
    types = [
        e["type"] for e in api.get("/v1/events", params={"payment": payment["id"]}).json()["data"]
    ]
    assert types == ["payment.succeeded", "payment.created"]


def test_decline_on_checkout_page_fails_the_payment(api: httpx.Client, server: LiveServer) -> None:
    payment = create_payment(api)
    assert "Payment declined" in checkout(server, payment, "decline").text
    failed = api.get(f"/v1/payments/{payment['id']}").json()
    assert failed["status"] == "failed"
    assert failed["failure"]["code"] == "card_declined"


def test_two_stage_partial_capture_once(api: httpx.Client, server: LiveServer) -> None:
    payment = create_payment(api, amount=10000, capture=False)
    checkout(server, payment, "authorize")
    held = api.get(f"/v1/payments/{payment['id']}").json()
    assert held["status"] == "requires_capture"
    captured = api.post(f"/v1/payments/{payment['id']}/capture", json={"amount": 6000})
    assert captured.status_code == 200, captured.text
    assert captured.json()["status"] == "succeeded"
    assert captured.json()["amount_captured"] == 6000
    again = api.post(f"/v1/payments/{payment['id']}/capture", json={"amount": 1000})
    assert again.status_code == 409
    assert again.json()["error"]["code"] == "payment_invalid_state"


def test_capture_of_everything_by_default(api: httpx.Client, server: LiveServer) -> None:
    payment = create_payment(api, amount=777, capture=False)
    checkout(server, payment, "authorize")
    captured = api.post(f"/v1/payments/{payment['id']}/capture").json()
    assert (captured["status"], captured["amount_captured"]) == ("succeeded", 777)


def test_capture_more_than_the_amount_is_refused(api: httpx.Client, server: LiveServer) -> None:
    payment = create_payment(api, amount=500, capture=False)
    checkout(server, payment, "authorize")
    response = api.post(f"/v1/payments/{payment['id']}/capture", json={"amount": 501})
    assert response.status_code == 422
    assert response.json()["error"]["code"] == "amount_invalid"
    assert api.get(f"/v1/payments/{payment['id']}").json()["status"] == "requires_capture"


def test_cancel_a_pending_payment_and_a_hold(api: httpx.Client, server: LiveServer) -> None:
    pending = create_payment(api)
    canceled = api.post(f"/v1/payments/{pending['id']}/cancel")
    assert canceled.status_code == 200
    assert canceled.json()["status"] == "canceled"
    assert "canceled" in checkout(server, pending, "pay").text.lower()

    held = create_payment(api, capture=False)
    checkout(server, held, "authorize")
    assert api.post(f"/v1/payments/{held['id']}/cancel").json()["status"] == "canceled"
    again = api.post(f"/v1/payments/{held['id']}/cancel")
    assert again.status_code == 409
    assert again.json()["error"]["code"] == "payment_invalid_state"


def test_capture_of_a_pending_payment_is_refused(api: httpx.Client) -> None:
    payment = create_payment(api)
    response = api.post(f"/v1/payments/{payment['id']}/capture")
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "payment_invalid_state"


def test_list_is_newest_first_with_cursor_pagination(api: httpx.Client) -> None:
    ids = [create_payment(api, amount=100 + i)["id"] for i in range(5)]
    first = api.get("/v1/payments", params={"limit": 2}).json()
    assert first["object"] == "list"
    assert [p["id"] for p in first["data"]] == ids[::-1][:2]
    assert first["has_more"] is True
    second = api.get(
        "/v1/payments", params={"limit": 2, "starting_after": first["data"][-1]["id"]}
    ).json()
    assert [p["id"] for p in second["data"]] == ids[::-1][2:4]
    last = api.get("/v1/payments", params={"limit": 2, "starting_after": ids[1]}).json()
    assert [p["id"] for p in last["data"]] == [ids[0]]
    assert last["has_more"] is False


def test_list_filters(api: httpx.Client, server: LiveServer) -> None:
    paid = create_payment(api, customer="alice")
    checkout(server, paid, "pay")
    other = create_payment(api, customer="bob")

    def ids(**params: str) -> list[str]:
        return [p["id"] for p in api.get("/v1/payments", params=params).json()["data"]]

    assert ids(status="succeeded") == [paid["id"]]
    assert ids(customer="bob") == [other["id"]]
    assert ids(provider="sandbox") == [other["id"], paid["id"]]
    assert ids(provider="yookassa") == []
    assert ids(created_gte=other["created_at"]) == [other["id"]]
    assert ids(created_lt=other["created_at"]) == [paid["id"]]
    assert ids(created_gte="2000-01-01T00:00:00", created_lt="2000-01-02T00:00:00") == []


def test_payments_of_other_shops_are_invisible(api: httpx.Client, server: LiveServer) -> None:
    theirs = create_payment(api)
    other = make_shop(server)
    with httpx.Client(base_url=server.url, headers={"Authorization": f"Bearer {other.key}"}) as c:
        response = c.get(f"/v1/payments/{theirs['id']}")
        assert response.status_code == 404
        assert response.json()["error"] == {
            "code": "resource_missing",
            "message": f"No payment {theirs['id']!r}",
            "param": "id",
        }
        assert c.get("/v1/payments").json()["data"] == []


def test_live_key_cannot_use_the_test_only_sandbox(server: LiveServer) -> None:
    live = make_shop(server, live_key=True)
    with httpx.Client(base_url=server.url, headers={"Authorization": f"Bearer {live.key}"}) as c:
        response = c.post("/v1/payments", json={"amount": 100, "currency": "RUB"})
        assert response.status_code == 422
        assert response.json()["error"]["code"] == "provider_not_configured"
        assert c.get("/v1/providers").json()["data"] == []


@pytest.mark.parametrize(
    ("body", "status", "code", "param"),
    [
        ({"currency": "RUB"}, 422, "parameter_missing", "amount"),
        ({"amount": 100}, 422, "parameter_missing", "currency"),
        ({"amount": 0, "currency": "RUB"}, 422, "parameter_invalid", "amount"),
        ({"amount": -5, "currency": "RUB"}, 422, "parameter_invalid", "amount"),
        ({"amount": 1.5, "currency": "RUB"}, 422, "parameter_invalid", "amount"),
        ({"amount": "100", "currency": "RUB"}, 422, "parameter_invalid", "amount"),
        ({"amount": True, "currency": "RUB"}, 422, "parameter_invalid", "amount"),
        ({"amount": 10**16, "currency": "RUB"}, 422, "parameter_invalid", "amount"),
        ({"amount": 100, "currency": "XYZ"}, 422, "currency_unsupported", "currency"),
        ({"amount": 100, "currency": "RUB", "extra": 1}, 422, "parameter_unknown", "extra"),
        ({"amount": 100, "currency": "RUB", "capture": "no"}, 422, "parameter_invalid", "capture"),
        (
            {"amount": 100, "currency": "RUB", "return_url": "ftp://x"},
            422,
            "parameter_invalid",
            "return_url",
        ),
        (
            {"amount": 100, "currency": "RUB", "expires_in": 5},
            422,
            "parameter_invalid",
            "expires_in",
        ),
        (
            {"amount": 100, "currency": "RUB", "metadata": {"k": 1}},
            422,
            "parameter_invalid",
            "metadata.k",
        ),
        (
            {"amount": 100, "currency": "RUB", "provider": "nope"},
            422,
            "parameter_invalid",
            "provider",
        ),
        (
            {"amount": 100, "currency": "RUB", "provider": "sandbox", "method": "cash"},
            422,
            "method_unsupported",
            "method",
        ),
    ],
)
def test_create_rejects_bad_input_clearly(
    api: httpx.Client, body: dict[str, object], status: int, code: str, param: str
) -> None:
    before = api.get("/v1/payments").json()["data"]
    response = api.post("/v1/payments", json=body)
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert (error["code"], error.get("param")) == (code, param)
    assert error["message"]
    assert api.get("/v1/payments").json()["data"] == before


def test_malformed_json_and_non_object_bodies_are_400(api: httpx.Client) -> None:
    response = api.post(
        "/v1/payments", content=b"{not json", headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid_json"
    response = api.post("/v1/payments", json=[1, 2])
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid_request"


def test_unknown_payment_is_404(api: httpx.Client) -> None:
    for method, path in [
        ("GET", "/v1/payments/pay_nope"),
        ("POST", "/v1/payments/pay_nope/capture"),
        ("POST", "/v1/payments/pay_nope/cancel"),
    ]:
        response = api.request(method, path)
        assert response.status_code == 404, path
        assert response.json()["error"]["code"] == "resource_missing"


@pytest.mark.parametrize(
    "params",
    [{"limit": 0}, {"limit": 101}, {"status": "paid"}, {"created_gte": "yesterday"}],
)
def test_list_rejects_bad_filters(api: httpx.Client, params: dict[str, str | int]) -> None:
    response = api.get("/v1/payments", params=params)
    assert response.status_code == 422
    assert response.json()["error"]["param"] == next(iter(params))


def test_shop_fixture_has_a_test_key(shop: ShopSetup) -> None:
    assert shop.key.startswith("sk_test_")
