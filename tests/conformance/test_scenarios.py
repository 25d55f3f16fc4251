"""The provider conformance suite: one list of scenarios, run against every provider's
emulator (through its driver, `tests/conformance/drivers/`) and Kassa's public API, over real
HTTP on loopback, on each database.

A scenario a provider cannot do is skipped by what the provider declares: its
`capabilities` (the `requires` mark), or what its driver says the class cannot
(`creates_at_provider`). Each checks what the merchant sees: the payment, its events and the
webhooks sent for them, and that the provider was answered as it expects.
"""

from __future__ import annotations

from collections import Counter

import pytest

from tests.conformance.conftest import AMOUNT, Shop

requires = pytest.mark.requires


def test_paid_and_notified_the_payment_succeeds_once(shop: Shop) -> None:
    payment = shop.create()
    assert payment["status"] == "pending"
    assert payment["provider"] == shop.driver.provider.name
    shop.driver.pay(shop.account, payment)
    paid = shop.get(payment)
    assert (paid["status"], paid["amount_captured"]) == ("succeeded", AMOUNT)
    assert paid["provider_payment_id"]
    if shop.driver.provider.sends_notifications():
        assert shop.notifications()[-1]["verdict"] == "accepted"
    assert shop.events(payment) == ["payment.created", "payment.succeeded"]
    assert shop.webhooks(payment) == {"payment.created": 1, "payment.succeeded": 1}


def test_a_notification_sent_again_and_at_once_has_one_effect(shop: Shop) -> None:
    payment = shop.create()
    notice = shop.driver.pay_silently(shop.account, payment)
    before = len(shop.notifications())
    replies = shop.driver.send(shop.account, notice, copies=10)
    replies += shop.driver.send(shop.account, notice)  # and once more, later
    assert all(reply.taken for reply in replies), replies
    assert shop.get(payment)["status"] == "succeeded"
    assert shop.events(payment) == ["payment.created", "payment.succeeded"]
    assert shop.webhooks(payment) == {"payment.created": 1, "payment.succeeded": 1}
    if shop.driver.provider.sends_notifications():
        copies = shop.notifications()[before:]
        assert Counter(row["verdict"] for row in copies) == {"accepted": 1, "duplicate": 10}
        # Each copy is kept as it came.
        assert len({(row["body"], row["query"]) for row in copies}) == 1


@requires("two_stage")
def test_notifications_out_of_order_never_move_a_payment_back(shop: Shop) -> None:
    """The payer's money is held, then taken at the provider; the notification of the
    capture arrives before that of the hold."""
    payment = shop.create(capture=False)
    held = shop.driver.pay_silently(shop.account, payment)
    captured = shop.driver.capture_at_provider(shop.account, payment)
    (first,) = shop.driver.send(shop.account, captured)
    assert first.taken, first
    after = shop.get(payment)
    assert (after["status"], after["amount_captured"]) == ("succeeded", AMOUNT)
    (late,) = shop.driver.send(shop.account, held)
    assert late.taken, late
    after = shop.get(payment)
    assert (after["status"], after["amount_captured"]) == ("succeeded", AMOUNT)
    assert shop.events(payment) == ["payment.created", "payment.succeeded"]
    assert shop.webhooks(payment) == {"payment.created": 1, "payment.succeeded": 1}


def test_a_forged_notification_is_refused_and_changes_nothing(shop: Shop) -> None:
    payment = shop.create()
    notice = shop.driver.pay_silently(shop.account, payment)
    (refused,) = shop.driver.send(shop.account, shop.driver.forge(shop.account, notice))
    assert not refused.taken, refused
    assert shop.get(payment)["status"] == "pending"
    assert shop.events(payment) == ["payment.created"]
    if shop.driver.provider.sends_notifications():
        assert shop.notifications()[-1]["verdict"] == "rejected"
    # The genuine notification is not taken for a copy of the forged one.
    (genuine,) = shop.driver.send(shop.account, notice)
    assert genuine.taken, genuine
    assert shop.get(payment)["status"] == "succeeded"


def test_a_declined_payment_ends_as_the_provider_says(shop: Shop) -> None:
    if not shop.driver.declines:
        pytest.skip(f"a {shop.driver.provider.name} payment cannot be declined")
    payment = shop.create()
    shop.driver.decline(shop.account, payment)
    declined = shop.get(payment)
    status = shop.driver.declined_status
    assert declined["status"] == status
    assert declined["amount_captured"] == 0
    assert declined["failure"]["code"]
    assert shop.events(payment) == ["payment.created", f"payment.{status}"]
    assert shop.webhooks(payment) == {"payment.created": 1, f"payment.{status}": 1}


@requires("two_stage")
def test_a_hold_is_captured_once(shop: Shop) -> None:
    """In part where the provider declares `partial_capture`."""
    partial = shop.driver.provider.capabilities.partial_capture
    amount = 6000 if partial else AMOUNT
    payment = shop.create(capture=False)
    shop.driver.pay(shop.account, payment)
    assert shop.get(payment)["status"] == "requires_capture"
    body = {"amount": amount} if partial else {}
    captured = shop.api.post(f"/v1/payments/{payment['id']}/capture", json=body)
    assert captured.status_code == 200, captured.text
    assert (captured.json()["status"], captured.json()["amount_captured"]) == ("succeeded", amount)
    assert all(reply.taken for reply in shop.driver.follow_ups(shop.account))
    after = shop.get(payment)
    assert (after["status"], after["amount_captured"]) == ("succeeded", amount)
    again = shop.api.post(f"/v1/payments/{payment['id']}/capture", json={})
    assert again.status_code == 409
    assert again.json()["error"]["code"] == "payment_invalid_state"
    assert shop.events(payment) == [
        "payment.created",
        "payment.requires_capture",
        "payment.succeeded",
    ]


@requires("two_stage", "cancel")
def test_a_hold_is_canceled(shop: Shop) -> None:
    payment = shop.create(capture=False)
    shop.driver.pay(shop.account, payment)
    canceled = shop.api.post(f"/v1/payments/{payment['id']}/cancel")
    assert canceled.status_code == 200, canceled.text
    assert canceled.json()["status"] == "canceled"
    assert all(reply.taken for reply in shop.driver.follow_ups(shop.account))
    after = shop.get(payment)
    assert (after["status"], after["amount_captured"]) == ("canceled", 0)
    assert shop.events(payment) == [
        "payment.created",
        "payment.requires_capture",
        "payment.canceled",
    ]


@requires("refunds", "partial_refunds")
def test_refunds_in_parts_never_above_what_was_paid(shop: Shop) -> None:
    payment = shop.create()
    shop.driver.pay(shop.account, payment)
    first = shop.api.post("/v1/refunds", json={"payment": payment["id"], "amount": 3000})
    assert first.status_code == 201, first.text
    assert (first.json()["status"], first.json()["amount"]) == ("succeeded", 3000)
    assert shop.get(payment)["status"] == "succeeded"

    too_much = shop.api.post("/v1/refunds", json={"payment": payment["id"], "amount": 7001})
    assert too_much.status_code == 422, too_much.text
    assert too_much.json()["error"]["code"] == "amount_invalid"
    rest = shop.api.post("/v1/refunds", json={"payment": payment["id"]})
    assert rest.status_code == 201, rest.text
    assert (rest.json()["status"], rest.json()["amount"]) == ("succeeded", 7000)
    assert all(reply.taken for reply in shop.driver.follow_ups(shop.account))

    after = shop.get(payment)
    assert (after["status"], after["amount_refunded"]) == ("refunded", AMOUNT)
    more = shop.api.post("/v1/refunds", json={"payment": payment["id"], "amount": 1})
    assert more.status_code == 409, more.text
    expected = {
        "payment.created": 1,
        "payment.succeeded": 1,
        "refund.created": 2,
        "refund.succeeded": 2,
        "payment.refunded": 1,
    }
    assert Counter(shop.events(payment)) == expected
    assert shop.webhooks(payment) == expected


@requires("two_stage", "partial_capture", "refunds")
def test_a_refund_never_exceeds_what_was_captured(shop: Shop) -> None:
    payment = shop.create(capture=False)
    shop.driver.pay(shop.account, payment)
    captured = shop.api.post(f"/v1/payments/{payment['id']}/capture", json={"amount": 6000})
    assert captured.status_code == 200, captured.text
    too_much = shop.api.post("/v1/refunds", json={"payment": payment["id"], "amount": 6001})
    assert too_much.status_code == 422, too_much.text
    everything = shop.api.post("/v1/refunds", json={"payment": payment["id"]})
    assert everything.status_code == 201, everything.text
    assert everything.json()["amount"] == 6000
    assert all(reply.taken for reply in shop.driver.follow_ups(shop.account))
    after = shop.get(payment)
    assert (after["status"], after["amount_captured"], after["amount_refunded"]) == (
        "refunded",
        6000,
        6000,
    )


def test_a_payment_whose_notification_never_came_is_found(shop: Shop) -> None:
    """By the reconcile job asking the provider; a provider that cannot be asked has its
    driver's own way (the terminal's: the hub asks the agent)."""
    lost_and_found(shop, capture=True, status="succeeded", captured=AMOUNT)


@requires("two_stage")
def test_a_hold_whose_notification_never_came_is_found(shop: Shop) -> None:
    lost_and_found(shop, capture=False, status="requires_capture", captured=0)


def lost_and_found(shop: Shop, *, capture: bool, status: str, captured: int) -> None:
    payment = shop.create(capture=capture)
    notice = shop.driver.pay_silently(shop.account, payment)
    shop.driver.find_lost(shop.account, payment, notice)
    found = shop.get(payment)
    assert (found["status"], found["amount_captured"]) == (status, captured)
    last = shop.event_objects(payment)[-1]
    assert (last["type"], last["source"]) == (f"payment.{status}", shop.driver.found_by)
    # The notification arriving at last changes nothing more.
    (late,) = shop.driver.send(shop.account, notice)
    assert late.taken, late
    assert shop.events(payment) == ["payment.created", f"payment.{status}"]


def test_an_outage_at_create_is_a_clear_error_and_leaves_nothing(shop: Shop) -> None:
    if not shop.driver.creates_at_provider:
        pytest.skip(f"creating a {shop.driver.provider.name} payment calls no API")
    body = {"amount": AMOUNT, "currency": "RUB", **shop.driver.payment_fields(shop.account)}
    key = {"Idempotency-Key": "order-1"}
    with shop.driver.api_down(shop.account):
        failed = shop.api.post("/v1/payments", json=body, headers=key)
        assert failed.status_code == 502, failed.text
        assert failed.json()["error"]["code"] == "provider_unavailable"
        assert failed.json()["error"]["message"]
        assert shop.api.get("/v1/payments").json()["data"] == []
    retried = shop.api.post("/v1/payments", json=body, headers=key)
    assert retried.status_code == 201, retried.text
    assert [p["id"] for p in shop.api.get("/v1/payments").json()["data"]] == [retried.json()["id"]]
    assert shop.events(retried.json()) == ["payment.created"]


@requires("two_stage")
def test_an_outage_at_capture_is_a_clear_error_and_leaves_the_hold(shop: Shop) -> None:
    payment = shop.create(capture=False)
    shop.driver.pay(shop.account, payment)
    key = {"Idempotency-Key": "capture-1"}
    with shop.driver.api_down(shop.account):
        failed = shop.api.post(f"/v1/payments/{payment['id']}/capture", json={}, headers=key)
        assert failed.status_code == 502, failed.text
        assert failed.json()["error"]["code"] == "provider_unavailable"
    held = shop.get(payment)
    assert (held["status"], held["amount_captured"]) == ("requires_capture", 0)
    retried = shop.api.post(f"/v1/payments/{payment['id']}/capture", json={}, headers=key)
    assert retried.status_code == 200, retried.text
    assert (retried.json()["status"], retried.json()["amount_captured"]) == ("succeeded", AMOUNT)
    assert shop.events(payment).count("payment.succeeded") == 1


@requires("refunds")
def test_an_outage_at_refund_is_a_clear_error_and_the_retry_refunds_once(shop: Shop) -> None:
    payment = shop.create()
    shop.driver.pay(shop.account, payment)
    body = {"payment": payment["id"], "amount": AMOUNT}
    key = {"Idempotency-Key": "refund-1"}
    with shop.driver.api_down(shop.account):
        failed = shop.api.post("/v1/refunds", json=body, headers=key)
        assert failed.status_code == 502, failed.text
        assert failed.json()["error"]["code"] == "provider_unavailable"
    after = shop.get(payment)
    assert (after["status"], after["amount_refunded"]) == ("succeeded", 0)
    (pending,) = shop.api.get("/v1/refunds", params={"payment": payment["id"]}).json()["data"]
    assert pending["status"] == "pending"
    retried = shop.api.post("/v1/refunds", json=body, headers=key)
    assert retried.status_code == 201, retried.text
    assert (retried.json()["id"], retried.json()["status"]) == (pending["id"], "succeeded")
    after = shop.get(payment)
    assert (after["status"], after["amount_refunded"]) == ("refunded", AMOUNT)
    assert shop.events(payment).count("refund.succeeded") == 1
