"""`/v1/events` and `/v1/providers`."""

from __future__ import annotations

import httpx

from tests.helpers import checkout, create_payment
from tests.live import LiveServer


def test_events_carry_the_object_as_it_was(api: httpx.Client, server: LiveServer) -> None:
    payment = create_payment(api)
    checkout(server, payment, "pay")
    events = api.get("/v1/events", params={"payment": payment["id"]}).json()["data"]
    succeeded, created = events
    assert succeeded["object"] == "event"
    assert succeeded["id"].startswith("evt_")
    assert (succeeded["type"], succeeded["source"]) == ("payment.succeeded", "provider")
    assert (created["type"], created["source"]) == ("payment.created", "api")
    assert created["data"]["object"]["status"] == "pending"
    assert succeeded["data"]["object"]["status"] == "succeeded"
    assert succeeded["data"]["object"]["amount_captured"] == payment["amount"]
    assert succeeded["payment"] == payment["id"]
    assert succeeded["test"] is True


def test_event_filters_and_pagination(api: httpx.Client, server: LiveServer) -> None:
    paid = create_payment(api)
    checkout(server, paid, "pay")
    api.post("/v1/refunds", json={"payment": paid["id"], "amount": 100})
    create_payment(api)

    def types(**params: str | int) -> list[str]:
        return [e["type"] for e in api.get("/v1/events", params=params).json()["data"]]

    assert types(type="payment.created") == ["payment.created", "payment.created"]
    assert types(type="refund.*") == ["refund.succeeded", "refund.created"]
    assert types(type="payment.*", payment=paid["id"]) == ["payment.succeeded", "payment.created"]
    everything = api.get("/v1/events").json()["data"]
    assert len(everything) == 5
    page = api.get("/v1/events", params={"limit": 2, "starting_after": everything[1]["id"]})
    assert [e["id"] for e in page.json()["data"]] == [e["id"] for e in everything[2:4]]
    bad = api.get("/v1/events", params={"type": "pay*ment"})
    assert bad.status_code == 422
    assert bad.json()["error"]["param"] == "type"


def test_providers_lists_the_enabled_ones(api: httpx.Client) -> None:
    listed = api.get("/v1/providers").json()
    assert listed["object"] == "list"
    (sandbox,) = listed["data"]
    assert sandbox["provider"] == "sandbox"
    assert sandbox["test"] is True
    assert sandbox["methods"] == ["card", "sbp"]
    assert "RUB" in sandbox["currencies"]
    assert sandbox["capabilities"] == {
        "two_stage": True,
        "partial_capture": True,
        "cancel": True,
        "refunds": True,
        "partial_refunds": True,
    }


def test_events_list_in_the_order_they_were_written(api: httpx.Client, server: LiveServer) -> None:
    payment = create_payment(api, amount=1000)
    checkout(server, payment, "pay")
    api.post("/v1/refunds", json={"payment": payment["id"]})  # refund.* and payment.refunded
    types = [e["type"] for e in api.get("/v1/events").json()["data"]]
    assert types == [
        "payment.refunded",
        "refund.succeeded",
        "refund.created",
        "payment.succeeded",
        "payment.created",
    ]


def test_a_cursor_of_another_kind_is_refused(api: httpx.Client) -> None:
    for path, cursor in [
        ("/v1/events", "pay_01"),
        ("/v1/payments", "garbage"),
        ("/v1/refunds", "evt_01"),
    ]:
        response = api.get(path, params={"starting_after": cursor})
        assert response.status_code == 422, path
        assert response.json()["error"]["param"] == "starting_after"
