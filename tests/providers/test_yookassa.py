"""YooKassa end to end over real HTTP on loopback: merchant → Kassa → the YooKassa emulator,
and the emulator's notifications → Kassa's hook (through a trusted proxy on 127.0.0.1), on
both databases."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import httpx
import pytest

from kassa.domain import NotSupported
from kassa.services.notifications import inbound as notifications
from kassa.services.payments import lifecycle as payments
from tests.emulators.yookassa import YOOKASSA_ADDRESS, YooKassaEmulator, running
from tests.helpers import (
    ProviderShop,
    event_types,
    later,
    make_provider_shop,
    stored_notifications,
)
from tests.live import LiveServer

#: Kassa's provider timeout here: short, so outage tests are quick.
PROVIDER_TIMEOUT = 2.0


@pytest.fixture(scope="module")
def yookassa() -> Iterator[YooKassaEmulator]:
    with running(hang_seconds=PROVIDER_TIMEOUT + 1) as emulator:
        yield emulator


@pytest.fixture(scope="module")
def server(database_url: str) -> Iterator[LiveServer]:
    live = LiveServer(
        database_url, trusted_proxies=["127.0.0.1"], provider_timeout=PROVIDER_TIMEOUT
    ).start()
    try:
        yield live
    finally:
        live.stop()


def connect(server: LiveServer, yookassa: YooKassaEmulator, **credentials: str) -> ProviderShop:
    """A new Kassa shop with a YooKassa test account on a new emulated YooKassa shop."""
    shop_id, secret_key = yookassa.add_shop()
    settings = {"shop_id": shop_id, "secret_key": secret_key, "api_url": f"{yookassa.base_url}/v3"}
    return make_provider_shop(server, "yookassa", settings | credentials)


@pytest.fixture
def shop(server: LiveServer, yookassa: YooKassaEmulator) -> ProviderShop:
    return connect(server, yookassa)


@pytest.fixture
def api(server: LiveServer, shop: ProviderShop) -> Iterator[httpx.Client]:
    with shop.api(server) as client:
        yield client


def yookassa_shop(shop: ProviderShop) -> str:
    return shop.account.credentials["shop_id"]


def create(api: httpx.Client, **fields: Any) -> dict[str, Any]:
    response = api.post("/v1/payments", json={"amount": 10000, "currency": "RUB", **fields})
    assert response.status_code == 201, response.text
    document: dict[str, Any] = response.json()
    return document


def current(api: httpx.Client, payment: dict[str, Any]) -> dict[str, Any]:
    document: dict[str, Any] = api.get(f"/v1/payments/{payment['id']}").json()
    return document


def notify(
    server: LiveServer,
    yookassa: YooKassaEmulator,
    shop: ProviderShop,
    event: str,
    object_id: str,
    **options: Any,
) -> httpx.Response:
    return yookassa.notify(server.url, shop.name, event, object_id, **options)


def test_pay_notify_and_refund_in_two_parts(
    server: LiveServer, yookassa: YooKassaEmulator, shop: ProviderShop, api: httpx.Client
) -> None:
    payment = create(api, description="Order 1")
    ref = payment["provider_payment_id"]
    assert payment["status"] == "pending"
    assert payment["confirmation"] == {
        "type": "redirect",
        "url": f"{yookassa.base_url}/checkout/{ref}",
    }
    (sent,) = [r for r in yookassa.received if r.shop_id == yookassa_shop(shop)]
    assert (sent.method, sent.path, sent.key) == ("POST", "/v3/payments", payment["id"])
    assert sent.body == {
        "amount": {"value": "100.00", "currency": "RUB"},
        "capture": True,
        "confirmation": {"type": "redirect", "return_url": f"{server.url}/pay/{payment['id']}"},
        "metadata": {"kassa_payment_id": payment["id"]},
        "description": "Order 1",
    }

    yookassa.pay(ref)
    answer = notify(server, yookassa, shop, "payment.succeeded", ref)
    assert answer.status_code == 200
    assert answer.json() == {"verdict": "accepted", "message": "pending → succeeded"}
    paid = current(api, payment)
    assert (paid["status"], paid["amount_captured"]) == ("succeeded", 10000)

    first = api.post("/v1/refunds", json={"payment": payment["id"], "amount": 3000})
    assert first.status_code == 201, first.text
    assert first.json()["status"] == "succeeded"
    assert current(api, payment)["status"] == "succeeded"
    rest = api.post("/v1/refunds", json={"payment": payment["id"]})
    assert rest.status_code == 201, rest.text
    assert (rest.json()["status"], rest.json()["amount"]) == ("succeeded", 7000)

    done = current(api, payment)
    assert (done["status"], done["amount_refunded"]) == ("refunded", 10000)
    assert yookassa.payments[ref]["refunded_amount"] == {"value": "100.00", "currency": "RUB"}
    assert yookassa.keys_of(yookassa_shop(shop)) == [
        payment["id"],
        first.json()["id"],
        rest.json()["id"],
    ]
    refunded = [yookassa.refunds[r.json()["provider_refund_id"]] for r in (first, rest)]
    assert [r["amount"]["value"] for r in refunded] == ["30.00", "70.00"]

    # YooKassa's own notice of a refund Kassa made changes nothing more.
    again = notify(server, yookassa, shop, "refund.succeeded", refunded[0]["id"])
    assert again.json() == {"verdict": "accepted", "message": "no change: refund already succeeded"}
    assert event_types(server, payment["id"]) == [
        "payment.created",
        "payment.succeeded",
        "refund.created",
        "refund.succeeded",
        "refund.created",
        "refund.succeeded",
        "payment.refunded",
    ]


def test_description_is_cut_to_128_characters_and_the_method_and_return_url_are_sent(
    yookassa: YooKassaEmulator, shop: ProviderShop, api: httpx.Client
) -> None:
    payment = create(
        api, description="x" * 300, method="sbp", return_url="https://shop.example/thanks"
    )
    (sent,) = [r for r in yookassa.received if r.shop_id == yookassa_shop(shop)]
    assert sent.body["description"] == "x" * 127 + "…"
    assert sent.body["payment_method_data"] == {"type": "sbp"}
    assert sent.body["confirmation"]["return_url"] == "https://shop.example/thanks"
    assert yookassa.payments[payment["provider_payment_id"]]["description"] == "x" * 127 + "…"


def test_hold_partial_capture_and_refund(
    server: LiveServer, yookassa: YooKassaEmulator, shop: ProviderShop, api: httpx.Client
) -> None:
    payment = create(api, capture=False)
    ref = payment["provider_payment_id"]
    (sent,) = [r for r in yookassa.received if r.shop_id == yookassa_shop(shop)]
    assert sent.body["capture"] is False

    yookassa.pay(ref)
    held = notify(server, yookassa, shop, "payment.waiting_for_capture", ref)
    assert held.json()["message"] == "pending → requires_capture"
    assert current(api, payment)["status"] == "requires_capture"

    captured = api.post(f"/v1/payments/{payment['id']}/capture", json={"amount": 6000})
    assert captured.status_code == 200, captured.text
    assert (captured.json()["status"], captured.json()["amount_captured"]) == ("succeeded", 6000)
    capture_call = yookassa.received[-1]
    assert (capture_call.path, capture_call.key) == (
        f"/v3/payments/{ref}/capture",
        f"{payment['id']}:capture",
    )
    assert capture_call.body == {"amount": {"value": "60.00", "currency": "RUB"}}
    # After a partial capture YooKassa's payment shows the captured sum, and its notice of
    # success is no reason to refuse anything.
    assert yookassa.payments[ref]["amount"] == {"value": "60.00", "currency": "RUB"}
    late = notify(server, yookassa, shop, "payment.succeeded", ref)
    assert late.json() == {"verdict": "accepted", "message": "no change: already succeeded"}

    refund = api.post("/v1/refunds", json={"payment": payment["id"]})
    assert (refund.status_code, refund.json()["amount"]) == (201, 6000)
    done = current(api, payment)
    assert (done["status"], done["amount_captured"], done["amount_refunded"]) == (
        "refunded",
        6000,
        6000,
    )


def test_hold_then_cancel(
    server: LiveServer, yookassa: YooKassaEmulator, shop: ProviderShop, api: httpx.Client
) -> None:
    payment = create(api, capture=False)
    ref = payment["provider_payment_id"]
    yookassa.pay(ref)
    notify(server, yookassa, shop, "payment.waiting_for_capture", ref)

    canceled = api.post(f"/v1/payments/{payment['id']}/cancel")
    assert canceled.status_code == 200, canceled.text
    assert canceled.json()["status"] == "canceled"
    assert yookassa.received[-1].key == f"{payment['id']}:cancel"
    assert yookassa.payments[ref]["cancellation_details"] == {
        "party": "merchant",
        "reason": "canceled_by_merchant",
    }
    notice = notify(server, yookassa, shop, "payment.canceled", ref)
    assert notice.json()["message"] == "no change: already canceled"
    assert event_types(server, payment["id"]) == [
        "payment.created",
        "payment.requires_capture",
        "payment.canceled",
    ]


def test_an_unpaid_payment_cannot_be_canceled_at_yookassa(
    yookassa: YooKassaEmulator, api: httpx.Client
) -> None:
    payment = create(api)
    answer = api.post(f"/v1/payments/{payment['id']}/cancel")
    assert answer.status_code == 402
    assert answer.json()["error"]["code"] == "provider_declined"
    assert "only a hold can be canceled" in answer.json()["error"]["message"]
    assert current(api, payment)["status"] == "pending"


#: How YooKassa cancels an unpaid payment (reason, party), and what Kassa makes of it
#: (status, failure code).
CANCELLATIONS = {
    "declined": (("insufficient_funds", "payment_network"), ("failed", "insufficient_funds")),
    "3-D Secure": (("3d_secure_failed", "payment_network"), ("failed", "3d_secure_failed")),
    "not paid in time": (("expired_on_confirmation", "yoo_kassa"), ("expired", None)),
    "by the merchant": (("canceled_by_merchant", "merchant"), ("canceled", None)),
}


@pytest.mark.parametrize("case", CANCELLATIONS)
def test_a_canceled_payment_is_read_by_its_reason(
    server: LiveServer,
    yookassa: YooKassaEmulator,
    shop: ProviderShop,
    api: httpx.Client,
    case: str,
) -> None:
    (reason, party), (status, failure) = CANCELLATIONS[case]
    payment = create(api)
    yookassa.decline(payment["provider_payment_id"], reason=reason, party=party)
    answer = notify(server, yookassa, shop, "payment.canceled", payment["provider_payment_id"])
    assert answer.json()["message"] == f"pending → {status}"
    after = current(api, payment)
    assert after["status"] == status
    assert (after["failure"] or {}).get("code") == failure


def test_a_body_claiming_success_is_not_believed(
    server: LiveServer, yookassa: YooKassaEmulator, shop: ProviderShop, api: httpx.Client
) -> None:
    payment = create(api)
    ref = payment["provider_payment_id"]
    forged = yookassa.notification("payment.succeeded", ref, status="succeeded", paid=True)
    answer = notify(server, yookassa, shop, "payment.succeeded", ref, body=forged)
    assert answer.status_code == 200
    assert answer.json() == {"verdict": "accepted", "message": "no change: already pending"}
    assert current(api, payment)["status"] == "pending"
    assert event_types(server, payment["id"]) == ["payment.created"]
    (row,) = stored_notifications(server, shop.name)
    assert row["event_key"] == f"payment.succeeded:{ref}:unconfirmed:pending"

    # The real notification, once the payer has paid, is not taken for a copy of that one.
    yookassa.pay(ref)
    real = notify(server, yookassa, shop, "payment.succeeded", ref)
    assert real.json() == {"verdict": "accepted", "message": "pending → succeeded"}
    assert event_types(server, payment["id"]) == ["payment.created", "payment.succeeded"]


@pytest.mark.parametrize("address", ["185.71.77.1", "77.75.156.11", "2a02:5180:0:2655::1"])
def test_each_kind_of_published_address_is_accepted(
    server: LiveServer,
    yookassa: YooKassaEmulator,
    shop: ProviderShop,
    api: httpx.Client,
    address: str,
) -> None:
    payment = create(api)
    yookassa.pay(payment["provider_payment_id"])
    answer = notify(
        server,
        yookassa,
        shop,
        "payment.succeeded",
        payment["provider_payment_id"],
        forwarded_for=address,
    )
    assert answer.json()["verdict"] == "accepted"
    (row,) = stored_notifications(server, shop.name)
    assert row["source_ip"] == address


@pytest.mark.parametrize("address", ["203.0.113.7", "185.71.76.32", None])
def test_a_notification_from_elsewhere_is_rejected_and_kept(
    server: LiveServer,
    yookassa: YooKassaEmulator,
    shop: ProviderShop,
    api: httpx.Client,
    address: str | None,
) -> None:
    """Even about a payment YooKassa has really taken: the sender is not YooKassa. (None:
    no X-Forwarded-For, so the sender is the proxy itself, 127.0.0.1.)"""
    payment = create(api)
    ref = payment["provider_payment_id"]
    yookassa.pay(ref)
    body = yookassa.notification("payment.succeeded", ref)
    answer = notify(server, yookassa, shop, "payment.succeeded", ref, forwarded_for=address)
    assert answer.status_code == 403
    assert answer.json()["verdict"] == "rejected"
    sender = address or "127.0.0.1"
    (row,) = stored_notifications(server, shop.name)
    assert (row["verdict"], row["body"], row["source_ip"]) == ("rejected", body, sender)
    assert row["reason"] == f"YooKassa does not send notifications from {sender}"
    assert current(api, payment)["status"] == "pending"
    assert event_types(server, payment["id"]) == ["payment.created"]


def test_forwarded_for_is_not_believed_without_a_trusted_proxy(
    database_url: str, yookassa: YooKassaEmulator, shop: ProviderShop, api: httpx.Client
) -> None:
    direct = LiveServer(database_url, provider_timeout=PROVIDER_TIMEOUT).start()
    try:
        payment = create(api)
        ref = payment["provider_payment_id"]
        yookassa.pay(ref)
        answer = yookassa.notify(direct.url, shop.name, "payment.succeeded", ref)
        assert answer.status_code == 403
        (row,) = stored_notifications(direct, shop.name)
        assert (row["verdict"], row["source_ip"]) == ("rejected", "127.0.0.1")
        assert row["headers"]["x-forwarded-for"] == YOOKASSA_ADDRESS
    finally:
        direct.stop()
    assert current(api, payment)["status"] == "pending"


@pytest.mark.parametrize(
    "body",
    [
        b'{"type": "notification", "event": "payment.succeeded", "object": {"id": "2f3b',
        b"event=payment.succeeded&object=2f3b588d",
        b'{"type": "webhook", "event": "payment.succeeded", "object": {"id": "2f3b588d"}}',
        b'{"type": "notification", "event": "payment.succeeded", "object": {}}',
        b'{"type": "notification", "event": "payment.succeeded", "object": {"id": 42}}',
        b'{"type": "notification", "event": "payment.succeeded", "object": {"id": "../me"}}',
        b'["notification"]',
    ],
)
def test_an_unreadable_body_is_rejected_and_kept(
    server: LiveServer, yookassa: YooKassaEmulator, shop: ProviderShop, body: bytes
) -> None:
    answer = notify(server, yookassa, shop, "payment.succeeded", "-", body=body)
    assert answer.status_code == 403
    (row,) = stored_notifications(server, shop.name)
    assert (row["verdict"], row["body"]) == ("rejected", body)
    assert row["reason"].startswith("Unreadable YooKassa notification")


def test_an_object_the_api_does_not_know_is_rejected(
    server: LiveServer, yookassa: YooKassaEmulator, shop: ProviderShop, api: httpx.Client
) -> None:
    other = connect(server, yookassa)
    with other.api(server) as theirs:
        their_payment = create(theirs)
    # Another YooKassa shop's payment: this shop's credentials cannot read it.
    body = yookassa.notification("payment.succeeded", their_payment["provider_payment_id"])
    answer = notify(server, yookassa, shop, "payment.succeeded", "-", body=body)
    assert answer.status_code == 403
    (row,) = stored_notifications(server, shop.name)
    assert row["verdict"] == "rejected"
    assert "does not confirm payment.succeeded" in row["reason"]
    assert "doesn't exist or access denied" in row["reason"]


def test_an_event_kassa_does_not_keep_is_acknowledged(
    server: LiveServer, yookassa: YooKassaEmulator, shop: ProviderShop
) -> None:
    body = b'{"type": "notification", "event": "payout.succeeded", "object": {"id": "po-1"}}'
    answer = notify(server, yookassa, shop, "payout.succeeded", "po-1", body=body)
    assert answer.json() == {"verdict": "accepted", "message": "nothing to apply"}


@pytest.mark.parametrize("fault", ["error", "hang"])
def test_an_outage_on_create_is_a_clear_error_and_a_retry_makes_no_second_payment(
    yookassa: YooKassaEmulator, shop: ProviderShop, api: httpx.Client, fault: str
) -> None:
    """YooKassa takes the payment but its answer is lost (500, or later than Kassa waits)."""
    request = {"amount": 4200, "currency": "RUB", "description": "order 42"}
    headers = {"Idempotency-Key": "order-42"}
    yookassa.fail_next("error" if fault == "error" else "hang")
    failed = api.post("/v1/payments", json=request, headers=headers)
    assert failed.status_code == 502
    assert failed.json()["error"]["code"] == "provider_unavailable"
    assert api.get("/v1/payments").json()["data"] == []
    (made,) = yookassa.payments_of(yookassa_shop(shop))

    retried = api.post("/v1/payments", json=request, headers=headers)
    assert retried.status_code == 201, retried.text
    assert retried.json()["provider_payment_id"] == made["id"]
    assert [p["id"] for p in yookassa.payments_of(yookassa_shop(shop))] == [made["id"]]
    assert yookassa.keys_of(yookassa_shop(shop)) == [retried.json()["id"]] * 2
    assert len(api.get("/v1/payments").json()["data"]) == 1


def test_processing_202_is_repeated_with_the_same_key(
    yookassa: YooKassaEmulator, shop: ProviderShop, api: httpx.Client
) -> None:
    yookassa.processing_rounds = 1
    try:
        payment = create(api)
    finally:
        yookassa.processing_rounds = 0
    assert yookassa.keys_of(yookassa_shop(shop)) == [payment["id"], payment["id"]]
    assert len(yookassa.payments_of(yookassa_shop(shop))) == 1


def test_processing_without_end_gives_up_after_three_attempts(
    yookassa: YooKassaEmulator, shop: ProviderShop, api: httpx.Client
) -> None:
    headers = {"Idempotency-Key": "slow-order"}
    yookassa.processing_rounds = 10
    try:
        slow = api.post("/v1/payments", json={"amount": 500, "currency": "RUB"}, headers=headers)
    finally:
        yookassa.processing_rounds = 0
    assert slow.status_code == 502
    assert "still processing the request after 3 attempts" in slow.json()["error"]["message"]
    keys = yookassa.keys_of(yookassa_shop(shop))
    assert len(keys) == 3
    assert len(set(keys)) == 1
    done = api.post("/v1/payments", json={"amount": 500, "currency": "RUB"}, headers=headers)
    assert done.status_code == 201
    assert yookassa.keys_of(yookassa_shop(shop)) == [done.json()["id"]] * 4


@pytest.mark.parametrize("fault", ["error", "hang"])
def test_a_notification_the_api_cannot_confirm_now_is_kept_and_applied_later(
    server: LiveServer,
    yookassa: YooKassaEmulator,
    shop: ProviderShop,
    api: httpx.Client,
    fault: str,
) -> None:
    payment = create(api)
    ref = payment["provider_payment_id"]
    yookassa.pay(ref)
    yookassa.fail_next("error" if fault == "error" else "hang")
    answer = notify(server, yookassa, shop, "payment.succeeded", ref)
    assert answer.status_code == 200  # stored: YooKassa need not resend it
    assert answer.elapsed < timedelta(seconds=PROVIDER_TIMEOUT + 1)
    assert answer.json()["verdict"] == "pending"
    (row,) = stored_notifications(server, shop.name)
    assert (row["verdict"], row["processed_at"]) == ("pending", None)
    assert current(api, payment)["status"] == "pending"

    assert server.call(notifications.reprocess_pending(later(server, timedelta(minutes=1)))) >= 1
    (row,) = stored_notifications(server, shop.name)
    assert (row["verdict"], row["outcome"]) == ("accepted", "pending → succeeded")
    assert row["event_key"] == f"payment.succeeded:{ref}"
    assert current(api, payment)["status"] == "succeeded"


def test_a_refund_made_in_the_cabinet_is_recorded_from_its_notification(
    server: LiveServer, yookassa: YooKassaEmulator, shop: ProviderShop, api: httpx.Client
) -> None:
    payment = create(api)
    ref = payment["provider_payment_id"]
    yookassa.pay(ref)
    notify(server, yookassa, shop, "payment.succeeded", ref)
    refund = yookassa.refund_in_cabinet(ref, "25.00")
    answer = notify(server, yookassa, shop, "refund.succeeded", refund["id"])
    assert answer.json()["message"] == "recorded a refund made at the provider"
    (recorded,) = api.get("/v1/refunds", params={"payment": payment["id"]}).json()["data"]
    assert (recorded["provider_refund_id"], recorded["amount"]) == (refund["id"], 2500)
    assert (current(api, payment)["status"], current(api, payment)["amount_refunded"]) == (
        "succeeded",
        2500,
    )


def test_a_refund_yookassa_answers_as_pending_is_settled_by_its_notification(
    server: LiveServer, yookassa: YooKassaEmulator, shop: ProviderShop, api: httpx.Client
) -> None:
    payment = create(api)
    ref = payment["provider_payment_id"]
    yookassa.pay(ref)
    notify(server, yookassa, shop, "payment.succeeded", ref)
    yookassa.refunds_settle = False
    try:
        asked = api.post("/v1/refunds", json={"payment": payment["id"], "amount": 4000})
    finally:
        yookassa.refunds_settle = True
    assert asked.status_code == 201, asked.text
    assert asked.json()["status"] == "pending"
    (made,) = [r for r in yookassa.refunds.values() if r["payment_id"] == ref]
    yookassa.settle_refund(made["id"])
    answer = notify(server, yookassa, shop, "refund.succeeded", made["id"])
    assert answer.json()["message"] == "refund pending → succeeded"
    (refund,) = api.get("/v1/refunds", params={"payment": payment["id"]}).json()["data"]
    assert (refund["id"], refund["status"]) == (asked.json()["id"], "succeeded")
    assert current(api, payment)["amount_refunded"] == 4000


def test_wrong_credentials_are_a_refusal(server: LiveServer, yookassa: YooKassaEmulator) -> None:
    shop = connect(server, yookassa, secret_key="test_not-the-key")
    with shop.api(server) as api:
        answer = api.post("/v1/payments", json={"amount": 100, "currency": "RUB"})
        assert answer.status_code == 402
        assert "Login or password is incorrect" in answer.json()["error"]["message"]
        assert api.get("/v1/payments").json()["data"] == []


def test_a_simulated_notification_is_accepted(
    server: LiveServer, yookassa: YooKassaEmulator, shop: ProviderShop, api: httpx.Client
) -> None:
    created = create(api, amount=12345, description="Simulated")
    ref = created["provider_payment_id"]
    yookassa.pay(ref)
    payment = server.call(payments.find_payment(server.ctx, payment_id=created["id"]))
    gateway = server.ctx.gateways.for_account(shop.account)
    url = f"{server.url}/hooks/yookassa/{shop.name}"

    simulated = gateway.simulate(payment, "payment.succeeded")
    document = json.loads(simulated.body)
    assert (document["type"], document["event"]) == ("notification", "payment.succeeded")
    assert document["object"]["id"] == ref
    assert document["object"]["amount"] == {"value": "123.45", "currency": "RUB"}
    assert document["object"]["metadata"] == {"kassa_payment_id": created["id"]}
    headers = {**simulated.headers, "x-forwarded-for": YOOKASSA_ADDRESS}
    answer = httpx.request(simulated.method, url, content=simulated.body, headers=headers)
    assert answer.status_code == 200
    assert answer.json() == {"verdict": "accepted", "message": "pending → succeeded"}

    # The API knows no such refund: the simulation shows the path works, and is refused.
    refund = gateway.simulate(payment, "refund.succeeded")
    answer = httpx.post(url, content=refund.body, headers={**refund.headers, **headers})
    assert (answer.status_code, answer.json()["message"]) == (403, "not accepted")
    row = stored_notifications(server, shop.name)[-1]
    assert "does not confirm refund.succeeded" in row["reason"]

    with pytest.raises(NotSupported):
        gateway.simulate(payment, "payout.succeeded")
