"""`POST /v1/payments/{id}/refresh`: ask the provider now, for a notification that never came."""

from __future__ import annotations

import httpx

from tests.helpers import checkout, create_payment, paid_silently_at_the_sandbox
from tests.live import LiveServer
from tests.test_background_jobs import history


def test_a_lost_notification_is_made_good_by_a_refresh(
    server: LiveServer, api: httpx.Client
) -> None:
    payment = create_payment(api, amount=900)
    paid_silently_at_the_sandbox(server, payment)
    assert api.get(f"/v1/payments/{payment['id']}").json()["status"] == "pending"
    refreshed = api.post(f"/v1/payments/{payment['id']}/refresh")
    assert refreshed.status_code == 200, refreshed.text
    assert (refreshed.json()["status"], refreshed.json()["amount_captured"]) == ("succeeded", 900)
    assert history(server, payment["id"])[-1] == ("payment.succeeded", "reconciliation")


def test_refreshing_an_unpaid_payment_changes_nothing(
    server: LiveServer, api: httpx.Client
) -> None:
    payment = create_payment(api)
    refreshed = api.post(f"/v1/payments/{payment['id']}/refresh")
    assert refreshed.status_code == 200
    assert refreshed.json()["status"] == "pending"
    assert history(server, payment["id"]) == [("payment.created", "api")]


def test_a_settled_payment_is_returned_as_it_is(server: LiveServer, api: httpx.Client) -> None:
    payment = create_payment(api)
    checkout(server, payment, "pay")
    refreshed = api.post(f"/v1/payments/{payment['id']}/refresh")
    assert refreshed.json()["status"] == "succeeded"
    assert [kind for kind, _ in history(server, payment["id"])] == [
        "payment.created",
        "payment.succeeded",
    ]


def test_another_shops_payment_is_not_found(server: LiveServer, api: httpx.Client) -> None:
    response = api.post("/v1/payments/pay_00000000000000000000000000/refresh")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "resource_missing"
